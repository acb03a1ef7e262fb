"""Synthetic data: the RMN paper's orthogonal manifolds and the EMNS paper's (and reference's) demos.

Decisions the papers leave open (recorded here):

* orthogonal manifolds: centres are the rows of a QR-orthonormalised Gaussian matrix; a sample is
  ``normalise(centre + spread * N(0, I))``. ``spread=0.05`` in 100 dimensions puts a sample at cosine
  ~0.9 to its centre and ~0 to the others. ``cosine=c`` instead places every pair of centres at cosine
  ``c`` (a shared component of weight ``sqrt(c)`` plus an orthogonal one), for non-orthogonal tasks.
* EMNS demos: inputs are ``N(0, 1)`` (the reference's ``create_test_data`` shape: n x features);
  the regression noise is Gaussian with the given standard deviation, so MSE ``noise**2`` is the floor.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state


def orthogonal_manifolds(n_clusters: int = 10, dim: int = 100, n_per_cluster: int = 200,
                         spread: float = 0.05, cosine: float = 0.0, random_state=None,
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-norm samples around ``n_clusters`` centres whose pairwise cosine is ``cosine`` (0: orthogonal).

    Returns ``X`` (n_clusters * n_per_cluster, dim) float32 with unit rows, ``y`` int64 cluster ids
    (samples ordered by cluster), and ``centres`` (n_clusters, dim) float32 with unit rows.

    Examples
    --------
    >>> X, y, centres = orthogonal_manifolds(n_clusters=4, dim=20, n_per_cluster=50, random_state=0)
    >>> X.shape, centres.shape, sorted(set(y.tolist()))
    ((200, 20), (4, 20), [0, 1, 2, 3])
    """
    if n_clusters < 1 or n_per_cluster < 1:
        raise ValueError("n_clusters and n_per_cluster must be >= 1")
    if not 0.0 <= cosine < 1.0:
        raise ValueError(f"cosine must be in [0, 1), got {cosine}")
    need = n_clusters + (1 if cosine > 0 else 0)
    if need > dim:
        raise ValueError(f"{n_clusters} clusters at cosine {cosine} need dim >= {need}, got {dim}")
    if spread < 0:
        raise ValueError("spread must be >= 0")
    rng = check_random_state(random_state)
    q, _ = np.linalg.qr(rng.standard_normal((dim, need)))
    basis = q.T  # (need, dim) orthonormal rows
    if cosine > 0:
        centres = np.sqrt(cosine) * basis[-1] + np.sqrt(1 - cosine) * basis[:n_clusters]
    else:
        centres = basis[:n_clusters]
    y = np.repeat(np.arange(n_clusters), n_per_cluster)
    X = centres[y] + spread * rng.standard_normal((len(y), dim))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), y.astype(np.int64), centres.astype(np.float32)


def _inputs(rng: np.random.RandomState, n_samples: int, n_features: int) -> np.ndarray:
    """N(0, 1) inputs, rounded to float32 first so targets are exact functions of the returned X."""
    return rng.standard_normal((n_samples, n_features)).astype(np.float32).astype(np.float64)


def emns_regression(n_samples: int = 200, noise: float = 0.1, random_state=None,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The reference demo: ``y = 0.5 tanh(sin x0 + 0.5 cos x1 + 0.2 tanh x2) + noise``, 3 features.

    Examples
    --------
    >>> X, y = emns_regression(n_samples=5, random_state=0)
    >>> X.shape, y.round(3).tolist()
    ((5, 3), [0.494, 0.375, 0.409, 0.427, 0.341])
    """
    rng = check_random_state(random_state)
    X = _inputs(rng, n_samples, 3)
    y = 0.5 * np.tanh(np.sin(X[:, 0]) + 0.5 * np.cos(X[:, 1]) + 0.2 * np.tanh(X[:, 2]))
    y = y + noise * rng.standard_normal(n_samples)
    return X.astype(np.float32), y.astype(np.float64)


def emns_sine_regression(n_samples: int = 200, noise: float = 0.0, random_state=None,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The paper's regression (section 8.3): ``y = sin(x1) + 0.5 cos(x2)``, 2 features.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = emns_sine_regression(n_samples=100, random_state=0)        # noise=0: y is exact
    >>> X.shape, bool(np.allclose(y, np.sin(X[:, 0]) + 0.5 * np.cos(X[:, 1])))
    ((100, 2), True)
    """
    rng = check_random_state(random_state)
    X = _inputs(rng, n_samples, 2)
    y = np.sin(X[:, 0]) + 0.5 * np.cos(X[:, 1]) + noise * rng.standard_normal(n_samples)
    return X.astype(np.float32), y.astype(np.float64)


def emns_classification(n_samples: int = 200, random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """The reference's binary task: label ``x1 + x2 > 0``, 2 features.

    Examples
    --------
    >>> X, y = emns_classification(n_samples=100, random_state=0)
    >>> X.shape, sorted(set(y.tolist())), bool((y == (X[:, 0] + X[:, 1] > 0)).all())
    ((100, 2), [0, 1], True)
    """
    rng = check_random_state(random_state)
    X = _inputs(rng, n_samples, 2)
    return X.astype(np.float32), (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def emns_continual_tasks(n_samples: int = 200, random_state=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The reference's continual pair: task 1 ``0.5 tanh(sin x1)``, task 2 ``0.5 tanh(cos x2)``.

    Examples
    --------
    >>> tasks = emns_continual_tasks(n_samples=50, random_state=0)       # [(X1, y1), (X2, y2)]
    >>> [(X.shape, y.shape) for X, y in tasks]
    [((50, 2), (50,)), ((50, 2), (50,))]
    """
    rng = check_random_state(random_state)
    X1, X2 = _inputs(rng, n_samples, 2), _inputs(rng, n_samples, 2)
    return [(X1.astype(np.float32), 0.5 * np.tanh(np.sin(X1[:, 0]))),
            (X2.astype(np.float32), 0.5 * np.tanh(np.cos(X2[:, 1])))]
