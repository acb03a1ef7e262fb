"""Side-by-side bench: every system and every baseline on the same data, seeds and budget.

``run_bench(quick=False, seeds=3, out="runs/bench", device="cpu")`` runs the model table
(:data:`gradfree.bench.models.MODELS`) on the suites (:data:`gradfree.bench.suites.SUITES`) and writes
``results.csv``, ``bench.md``, ``bench.json`` and the figures into ``out``. The CLI's
``gradfree bench [--quick] [--seeds N] [--out DIR] [--device D]`` calls it; so does
``python -m gradfree.bench``.
"""

from gradfree.bench.models import MODELS, ModelEntry, Setting
from gradfree.bench.runner import run_bench
from gradfree.bench.suites import SUITES, Suite

__all__ = ["MODELS", "SUITES", "ModelEntry", "Setting", "Suite", "run_bench"]
