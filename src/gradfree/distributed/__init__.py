"""Scale-out on Ray (optional extra ``gradfree[distributed]``): seed sweeps and EMNS populations.

Nothing here is imported by the rest of the library; the default stays in-process with nothing to
start. ``ray`` is imported only when one of these functions is called.
"""

from gradfree.distributed.cluster import init_ray, require_ray
from gradfree.distributed.sweeps import run_experiment_on_ray

__all__ = ["init_ray", "require_ray", "run_experiment_on_ray"]
