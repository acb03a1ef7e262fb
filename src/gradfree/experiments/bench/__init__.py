"""The bench: the experiment ``bench`` and its parts (suites, the model table, one unit, the report).

``gradfree bench`` (or ``gradfree run bench``) runs the model table (:data:`MODELS`) on the suites
(:data:`SUITES`) and writes ``results.json``, ``report.md``, ``results.csv``, ``bench.json`` and the
figures. (``benchmarks/`` in the repository is something else: scripts that measure speed goals.)
"""

from __future__ import annotations

from pathlib import Path

from gradfree.experiments.bench.models import MODELS, ModelEntry, Setting
from gradfree.experiments.bench.suites import SUITES, Suite

__all__ = ["MODELS", "SUITES", "ModelEntry", "Setting", "Suite", "run_bench"]


def run_bench(*, quick: bool = False, seeds: int = 3, out: str | Path | None = None, device: str = "cpu",
              progress: bool = True, models: list[str] | None = None, suites: list[str] | None = None,
              threads: int = 1) -> Path:
    """Run the bench experiment (a subset of ``models`` / ``suites`` if given); returns its folder.

    Examples
    --------
    >>> import tempfile
    >>> out = run_bench(quick=True, seeds=1, models=["ncm"], suites=["split-manifolds"], progress=False,
    ...                 out=tempfile.mkdtemp())
    >>> (out / "report.md").exists()
    True
    """
    from gradfree.experiments.cli_runner import run_experiment

    options = {"threads": str(threads)}
    if models:
        options["models"] = ",".join(models)
    if suites:
        options["suites"] = ",".join(suites)
    return run_experiment("bench", quick=quick, seeds=seeds, out=out, device=device, progress=progress,
                          options=options)


from gradfree.experiments.bench import experiment as _experiment  # noqa: E402,F401  (registers "bench")
