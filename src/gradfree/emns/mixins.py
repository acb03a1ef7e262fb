"""What the two EMNS estimator families share (the paper's network, :mod:`gradfree.emns.estimators`,
and the wide MLP, :mod:`gradfree.emns.wide`): scaling of the inputs and the fitted views of ``state_``.
"""

from __future__ import annotations

import numpy as np
import torch

from gradfree.core.schema import tensor

INPUT_SCALINGS = (None, "standard", "maxabs")


class InputScaling:
    """``input_scaling`` of the EMNS estimators: None (raw), ``"standard"`` or ``"maxabs"``."""

    _saved_fields = {
        "x_shift_": tensor("d", optional=True),
        "x_scale_": tensor("d", low=float(np.finfo(np.float32).tiny), optional=True),
    }

    def _check_loaded_sizes(self) -> None:
        """A loaded model's layer sizes run from n_features_in_ to the outputs, and x_shift_ / x_scale_
        are stored exactly when ``input_scaling`` is set."""
        st = self.state_
        outputs = len(self.classes_) if hasattr(self, "classes_") else int(self.n_outputs_)
        if st.sizes[0] != int(self.n_features_in_) or st.sizes[-1] != outputs:
            raise ValueError(f"state_.sizes {st.sizes[:8]} do not run from n_features_in_ to the outputs")
        if (self.input_scaling is None) == hasattr(self, "x_scale_") or \
                hasattr(self, "x_scale_") != hasattr(self, "x_shift_"):
            raise ValueError("x_shift_ / x_scale_ are stored exactly when input_scaling is set")

    def _scale_inputs(self, X: torch.Tensor, fit: bool) -> torch.Tensor:
        """``"standard"``: per-feature mean / sd of the first data seen (constant features keep scale
        1); ``"maxabs"``: divided by the first data's largest |x|."""
        if self.input_scaling is None:
            return X
        if fit:
            if self.input_scaling == "standard":
                sd = X.std(0)
                self.x_shift_, self.x_scale_ = X.mean(0), torch.where(sd > 1e-6, sd, torch.ones_like(sd))
            else:
                self.x_shift_ = torch.zeros(X.shape[1], device=X.device)
                self.x_scale_ = X.abs().max().clamp(min=1e-12).expand(X.shape[1]).clone()
        return (X - self.x_shift_) / self.x_scale_


class StateViews:
    """Fitted views shared by the EMNS estimators, read off the explicit state ``state_``."""

    @property
    def layer_sizes_(self) -> list[int]:
        return list(self.state_.sizes)

    @property
    def mutation_rate_(self) -> float:
        return self.state_.mutation_rate

    @property
    def history_(self) -> dict:
        return self.state_.history

    @property
    def n_evaluations_(self) -> int:
        return self.state_.n_evaluations
