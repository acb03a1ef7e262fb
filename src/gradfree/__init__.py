"""gradfree: neural networks that learn without backpropagation.

Estimators (scikit-learn conventions, PyTorch tensors, CPU or CUDA):

* :class:`RMNClassifier` - Resonant Manifold Network (k-WTA, Hebbian erosion, prototype read-out);
* :class:`EMNSRegressor`, :class:`EMNSClassifier` - Evolvable Modular Neural Systems (the paper's
  network); :class:`EMNSMLPClassifier` - EMNS on a wide MLP; :class:`EMNSOptimizer` - EMNS ask/tell on
  any objective;
* :class:`WuxingClassifier` - five-element ODE neurons trained by backward signal propagation;
* :class:`NearestClassMean` - the first baseline; more in :mod:`gradfree.baselines`.
"""

import os

# Matrix products give the same bits for any number of threads only in MKL's strict reproducible mode
# (docs/decisions.md, "Results identical for any thread count"). MKL reads this once, at its first
# call, so it is set before torch is imported here; a value the user set is kept.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

from importlib import import_module  # noqa: E402
from typing import Any  # noqa: E402

from gradfree.baselines.ncm import NearestClassMean  # noqa: E402
from gradfree.core.io import register_catalog  # noqa: E402

__version__ = "0.1.0"

_LAZY = {
    "RMNClassifier": "gradfree.rmn",
    "EMNSRegressor": "gradfree.emns",
    "EMNSClassifier": "gradfree.emns",
    "EMNSMLPClassifier": "gradfree.emns",
    "EMNSOptimizer": "gradfree.emns",
    "WuxingClassifier": "gradfree.wuxing",
}

__all__ = ["NearestClassMean", *_LAZY, "__version__"]


#: every module that defines an estimator; the loader imports them so its allow-list is complete
ESTIMATOR_MODULES = ("gradfree.baselines", "gradfree.rmn", "gradfree.emns", "gradfree.wuxing",
                     "gradfree.wuxing.reference")


def _import_estimators() -> None:
    for module in ESTIMATOR_MODULES:
        import_module(module)


register_catalog(_import_estimators)


def __getattr__(name: str) -> Any:
    """Import the systems on first use, so ``import gradfree`` stays fast."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gradfree' has no attribute {name!r}")
