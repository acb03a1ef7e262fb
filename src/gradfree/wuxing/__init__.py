"""Wuxing network: five-element ODE neurons wired one-to-one, trained by backward signal propagation.

* :mod:`~gradfree.wuxing.wiring` - interface wiring, ``MODEL1`` / ``MODEL2``, link ratios, adders;
* :mod:`~gradfree.wuxing.dynamics` - forward (eq. 2.3) / backward (eq. 2.5) systems, integration;
* :mod:`~gradfree.wuxing.kernels` - fused numba Euler kernel (the CPU default; same numbers as torch);
* :mod:`~gradfree.wuxing.network` - forward and backward runs of a wired network;
* :mod:`~gradfree.wuxing.bsp` - BSP (eq. 3.3-3.5) and the fixed-point method (our reading);
* :mod:`~gradfree.wuxing.classifier` - :class:`WuxingClassifier`;
* :mod:`~gradfree.wuxing.params` - its option groups :class:`DynamicsParams`, :class:`FixedPointParams`;
* :mod:`~gradfree.wuxing.reference` - exact-gradient trainer on the same wiring (a baseline, autograd).

Performance note: on a small or loaded machine, run with one thread (``OMP_NUM_THREADS=1
NUMBA_NUM_THREADS=1`` or ``torch.set_num_threads(1)``); threaded small ops stall under contention.
"""

from gradfree.wuxing.classifier import WuxingClassifier
from gradfree.wuxing.dynamics import WuxingDivergenceError
from gradfree.wuxing.network import RunSpec
from gradfree.wuxing.params import DynamicsParams, FixedPointParams
from gradfree.wuxing.wiring import MODEL1, MODEL2, PRESETS, Wiring, build_wiring, steady_gain

__all__ = ["MODEL1", "MODEL2", "PRESETS", "DynamicsParams", "FixedPointParams", "RunSpec", "Wiring",
           "WuxingClassifier", "WuxingDivergenceError", "build_wiring", "steady_gain"]
