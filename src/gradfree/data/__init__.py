"""Data: synthetic manifolds and demos, digits, Fashion-MNIST, MNIST and the IDX reader."""

from gradfree.data.idx import parse_idx, read_idx
from gradfree.data.images import (
    DatasetNotFoundError,
    digits_split,
    load_digits,
    load_fashion_mnist,
    load_mnist,
)
from gradfree.data.synthetic import (
    emns_classification,
    emns_continual_tasks,
    emns_regression,
    emns_sine_regression,
    orthogonal_manifolds,
)

__all__ = [
    "DatasetNotFoundError",
    "digits_split",
    "emns_classification",
    "emns_continual_tasks",
    "emns_regression",
    "emns_sine_regression",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "orthogonal_manifolds",
    "parse_idx",
    "read_idx",
]
