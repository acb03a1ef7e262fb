"""Baselines every gradfree model is measured against (they live on the same estimator base).

* :class:`NearestClassMean` - running class means (no forgetting by construction);
* :class:`MLPClassifier` - backprop MLP: ``fit`` = joint training, ``partial_fit`` = sequential
  fine-tuning (the forgetting lower bound);
* :class:`MLPRegressor` - the same network with a squared-error loss (for the regression demos);
* :class:`SparseMLPClassifier` - backprop MLP with a fixed random mask at a given link ratio;
* :class:`SETMLPClassifier` - sparse backprop MLP whose mask is pruned and regrown every epoch (SET);
* :class:`EWCClassifier`, :class:`ReplayClassifier` - continual-learning baselines (EWC, experience
  replay with a small reservoir buffer);
* :class:`SLDAClassifier` - streaming linear discriminant analysis (Hayes & Kanan 2020), on the raw
  input or on frozen random ReLU features (``random_features=n``).
"""

from gradfree.baselines.ewc_replay import EWCClassifier, ReplayClassifier
from gradfree.baselines.mlp import MLPClassifier, MLPRegressor, SparseMLPClassifier
from gradfree.baselines.ncm import NearestClassMean
from gradfree.baselines.set_mlp import SETMLPClassifier
from gradfree.baselines.slda import SLDAClassifier

__all__ = ["EWCClassifier", "MLPClassifier", "MLPRegressor", "NearestClassMean", "ReplayClassifier",
           "SETMLPClassifier", "SLDAClassifier", "SparseMLPClassifier"]
