"""Connecting to Ray: an existing cluster by address, or a local one started on demand."""

from __future__ import annotations

from typing import Any

INSTALL_HINT = "Ray is an optional extra: pip install 'gradfree[distributed]'"


def require_ray() -> Any:
    """Import and return the ``ray`` module, or raise ImportError saying how to install it.

    Examples
    --------
    With the ``distributed`` extra installed (without it: ``ImportError: Ray is an optional extra:
    pip install 'gradfree[distributed]'``):

    >>> ray = require_ray()               # imports Ray; starts nothing
    >>> ray.__name__, ray.is_initialized()
    ('ray', False)
    """
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(INSTALL_HINT) from exc
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Connect to the cluster at ``address`` or start a local one (once per process); return ``ray``.

    A local cluster gets ``num_cpus`` CPUs (default: all), no dashboard, and workers that inherit
    this process's Python environment, so ``gradfree`` is importable there.

    Examples
    --------
    >>> ray = init_ray(num_cpus=2)        # doctest: +SKIP
    >>> ray.cluster_resources()["CPU"]    # doctest: +SKIP
    2.0
    >>> init_ray(num_cpus=2) is ray       # doctest: +SKIP
    True

    Joining a running cluster instead: ``init_ray("ray://head-node:10001")``.
    """
    ray = require_ray()
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
    return ray
