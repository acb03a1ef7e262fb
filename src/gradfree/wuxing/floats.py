"""Denormal (subnormal) floats: flushed to zero inside our own compute, the caller's mode restored.

Denormals (|x| < 1.18e-38 in float32) cost ~100 cycles per operation on x86 CPUs. They appear where a
signal decays geometrically without reaching zero, e.g. in autograd's backward pass through the ~150
Euler steps of a run (an epoch of the exact-gradient baseline was once measured at 246.7 s, and at
2.6 s with denormals flushed; docs/decisions.md), so every path that integrates is covered.

:func:`flush_denormals` turns flush-to-zero on for the block it wraps and restores whatever mode the
process had before, so the user's float mode never changes behind their back (torch has no getter
for the mode; :func:`flushing` probes it). It acts on the calling thread, where torch runs CPU work
and autograd's CPU backward pass. The numba kernel (:mod:`gradfree.wuxing.kernels`) sets and restores
the same bits itself on each of its threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

_TINY = 1e-38  # a normal float32; 1e-2 times it is subnormal


def flushing() -> bool:
    """Whether the calling thread flushes subnormal results to zero now."""
    x = torch.full((1,), _TINY, dtype=torch.float32)
    return bool((x * 0.01).item() == 0.0)


@contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[None]:
    """Flush subnormal floats to zero inside the block; restore the previous mode on exit."""
    if not enabled:
        yield
        return
    before = flushing()
    if before or not torch.set_flush_denormal(True):  # already on, or the CPU cannot
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
