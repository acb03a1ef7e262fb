"""Device resolution: one place that turns ``"cpu" | "cuda" | "auto"`` into a ``torch.device``."""

from __future__ import annotations

import torch

VALID_DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Return the torch device a model should run on.

    ``"auto"`` (or ``None``) picks CUDA when it is available, else the CPU. Asking for ``"cuda"`` on a
    machine without it is an error rather than a silent fallback, so a benchmark never reports CPU
    numbers under a GPU label.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("auto").type in ("cpu", "cuda")      # CUDA where there is one
    True
    >>> resolve_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: device must be one of ('cpu', 'cuda', 'auto') (or 'cuda:N'), got 'tpu'
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"device must be one of {VALID_DEVICES} (or 'cuda:N'), got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available on this machine")
    return torch.device(device)
