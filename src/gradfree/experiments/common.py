"""Data streams shared by the experiments."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from gradfree.continual import Task, class_incremental
from gradfree.data import digits_split, load_fashion_mnist


def split_dataset(name: str, seed: int, quick: bool, quick_sizes: tuple[int, int] = (6000, 2000),
                  shuffle: bool = False) -> tuple[list[Task], list[Task]]:
    """Class-incremental train/test streams (5 tasks x 2 classes) of ``"digits"`` or ``"fashion-mnist"``.

    Digits: a stratified 70/30 split per seed. Fashion-MNIST: the full 60k/10k split, or in quick mode
    ``quick_sizes`` random (train, test) samples. ``shuffle`` shuffles the training stream once per
    seed (tasks keep that order).
    """
    if name == "digits":
        Xtr, Xte, ytr, yte = digits_split(seed)
    elif name == "fashion-mnist":
        Xtr, ytr = load_fashion_mnist("train")
        Xte, yte = load_fashion_mnist("test")
        if quick:
            rng = np.random.default_rng(seed)
            tr = rng.choice(len(ytr), quick_sizes[0], replace=False)
            te = rng.choice(len(yte), quick_sizes[1], replace=False)
            Xtr, ytr, Xte, yte = Xtr[tr], ytr[tr], Xte[te], yte[te]
    else:
        raise ValueError(f"unknown data set {name!r}; use 'digits' or 'fashion-mnist'")
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(ytr))
        Xtr, ytr = Xtr[order], ytr[order]
    return class_incremental(Xtr, ytr), class_incremental(Xte, yte)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` CPU threads for torch (and numba, when installed), then restore both.

    Small networks gain nothing from extra threads, and on a shared machine they lose a lot; results do
    not depend on the count (``gradfree`` sets MKL's strict reproducible mode; tests/core/test_threads.py).
    """
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is the optional 'fast' extra
        numba = None
    before = torch.get_num_threads()
    before_numba = numba.get_num_threads() if numba is not None else None
    torch.set_num_threads(n)
    if numba is not None:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if numba is not None:
            numba.set_num_threads(before_numba)
