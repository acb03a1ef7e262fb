"""Experiment registry and the context an experiment runs in.

An experiment is three steps in its own module under ``gradfree.experiments``, registered with
:func:`experiment`: ``run(ctx) -> results`` computes (the runner writes ``results.json``), and
``report(results, config) -> markdown`` and ``figures(results, config) -> [(name, figure)]`` present:
pure functions of what ``results.json`` holds, so ``gradfree report DIR`` rebuilds report.md and the
figures byte for byte. Modules are discovered on first use, so adding an experiment is adding a file.
The context gives ``run``:

* ``ctx.quick`` / ``ctx.seeds`` / ``ctx.device`` / ``ctx.out``;
* ``ctx.first_seeds(n)`` - the seeds of a part that runs on the run's first ``n`` seeds only (a quick
  mode's single seed, an ablation on the first seed). Declared there rather than as ``ctx.seeds[:n]``,
  such units are computed once when a run is spread over Ray (``ctx.seeds`` is then one task's seed);
* ``ctx.unit(key, fn)`` - a checkpointed unit of work: its JSON result is stored under
  ``out/checkpoints/`` and a resumed run returns it without recomputing;
* ``ctx.checkpoint_dir(key)`` - a folder for finer checkpoints (e.g. ``run_stream``'s);
* one progress bar for the whole run: it ticks once per unit (computed or resumed), ``ctx.expect(n)``
  gives it a total, ``ctx.progress(iterable, desc)`` names the stage it is in, and the runner keeps it
  open through the figures and the report;
* ``ctx.timing(key, seconds)`` - wall times, kept out of ``results.json`` so it is reproducible;
  ``ctx.stats[key]`` - other per-unit measurements (e.g. throughput), also kept for ``run_info.json``.

The units a run folder holds are read and written with :func:`saved_units` / :func:`store_units`
(the one place that knows where they lie), e.g. by the Ray sweep that moves them between machines.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from gradfree.continual.runner import rederive
from gradfree.core.checkpoint import checkpoint_written, read_checkpoint, write_checkpoint
from gradfree.core.files import safe_mkdir


@dataclass(frozen=True)
class Option:
    """An option an experiment accepts as ``--set NAME=VALUE``: its type, range and what it does."""

    name: str
    type: type
    help: str
    low: float | None = None
    choices: tuple[str, ...] | Callable[[], Iterable[str]] | None = None  # a callable: read when parsing
    many: bool = False  # a comma-separated list of ``choices``
    mode: str | None = None  # "full" or "quick": the only mode that reads it (the other refuses it)

    def allowed(self) -> tuple[str, ...]:
        return tuple(self.choices() if callable(self.choices) else self.choices or ())

    def parse(self, text: str) -> Any:
        """The value of ``text``; a ``ValueError`` naming the option says what is wrong."""
        if self.many or self.choices:
            values = text.split(",") if self.many else [text]
            bad = [v for v in values if v not in self.allowed()]
            if bad or not text:
                raise ValueError(f"--set {self.name}={text!r}: expected "
                                 f"{'a comma-separated list of ' if self.many else 'one of '}"
                                 f"{', '.join(self.allowed())}")
            return values if self.many else text
        try:
            value = self.type(text)
        except ValueError:
            raise ValueError(f"--set {self.name}={text!r}: expected {self.type.__name__}") from None
        if self.low is not None and value < self.low:
            raise ValueError(f"--set {self.name}={text}: must be >= {self.low:g}")
        return value

    def describe(self) -> str:
        kind = ",".join(self.allowed()) if self.choices else self.type.__name__
        rng = f", >= {self.low:g}" if self.low is not None else ""
        only = {"full": " (full run only)", "quick": " (--quick only)"}.get(self.mode or "", "")
        return f"{self.name}=<{kind}{rng}>  {self.help}{only}"


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its name, summary, default seed count, ``--set`` options and function."""

    name: str
    summary: str
    fn: Callable[[ExperimentContext], dict]
    default_seeds: int = 3
    options: tuple[Option, ...] = ()
    #: pure steps (results, config) -> markdown / [(name, figure)]: ``gradfree report DIR`` rebuilds
    #: report.md and the figures from results.json alone
    report: Callable[[dict, dict], str] = lambda results, config: ""
    figures: Callable[[dict, dict], list[tuple[str, Any]]] = lambda results, config: []

    def check_options(self, given: dict[str, str], quick: bool = False) -> dict[str, Any]:
        """Parse ``--set`` values against the declared options; unknown names, and options the chosen
        mode would ignore (``Option.mode``), are errors."""
        known = {o.name: o for o in self.options}
        mode = "quick" if quick else "full"
        for key in given:
            if key not in known:
                raise ValueError(f"--set {key}: {self.name} has no option {key!r}; "
                                 + (f"its options: {', '.join(known)}" if known else "it takes none"))
            if known[key].mode not in (None, mode):
                raise ValueError(f"--set {key}: only a {known[key].mode} run reads it "
                                 f"({'drop --quick' if quick else 'add --quick'} or drop the option)")
        return {k: known[k].parse(v) for k, v in given.items()}


_REGISTRY: dict[str, Experiment] = {}


def experiment(name: str, summary: str, default_seeds: int = 3, options: tuple[Option, ...] = (), *,
               report: Callable[[dict, dict], str],
               figures: Callable[[dict, dict], list[tuple[str, Any]]]) -> Callable:
    """Decorator registering ``fn(ctx) -> dict`` as experiment ``name`` (``options``: its ``--set`` keys;
    ``report`` / ``figures``: its presentation steps, functions of the results and the config alone).

    Examples
    --------
    >>> import json, tempfile
    >>> from gradfree.experiments.cli_runner import run_experiment
    >>> @experiment("doc-squares", "Squares of the seeds (an example)", default_seeds=2,
    ...             report=lambda results, config: f"Squares: {results['squares']}\\n",
    ...             figures=lambda results, config: [])
    ... def run(ctx):
    ...     return {"squares": [ctx.unit(f"seed{s}", lambda s=s: s * s) for s in ctx.seeds]}
    >>> tmp = tempfile.TemporaryDirectory()
    >>> out = run_experiment("doc-squares", out=tmp.name, progress=False)   # what `gradfree run` does
    >>> json.loads((out / "results.json").read_text())["results"]
    {'squares': [0, 1]}
    >>> sorted(p.name for p in out.iterdir())
    ['checkpoints', 'config.json', 'report.md', 'results.json', 'run_info.json']
    >>> (out / "report.md").read_text().splitlines()[-1]
    'Squares: [0, 1]'
    >>> tmp.cleanup()
    """

    def register(fn: Callable[[ExperimentContext], dict]) -> Callable[[ExperimentContext], dict]:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"experiment {name!r} is registered twice")
        _REGISTRY[name] = Experiment(name, summary, fn, default_seeds, tuple(options), report, figures)
        return fn

    return register


def _discover() -> None:
    import gradfree.experiments as pkg

    for info in pkgutil.iter_modules(pkg.__path__):  # a module that registers nothing adds nothing
        if not info.name.startswith("_"):
            importlib.import_module(f"gradfree.experiments.{info.name}")


def all_experiments() -> dict[str, Experiment]:
    """Every registered experiment, by name (sorted).

    Examples
    --------
    >>> experiments = all_experiments()         # imports every module of gradfree.experiments
    >>> "ncm-split" in experiments, list(experiments) == sorted(experiments)
    (True, True)
    """
    _discover()
    return dict(sorted(_REGISTRY.items()))


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; a ``KeyError`` lists the known names.

    Examples
    --------
    >>> exp = get_experiment("ncm-split")
    >>> exp.name, exp.default_seeds
    ('ncm-split', 3)
    >>> get_experiment("ncm-spilt")                                 # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    KeyError: "unknown experiment 'ncm-spilt'; known: ..."
    """
    exps = all_experiments()
    if name not in exps:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(exps)}")
    return exps[name]


@dataclass
class ExperimentContext:
    """What an experiment's ``run`` sees: options, seeds, output folder, checkpointed units, progress.

    Examples
    --------
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> ctx = ExperimentContext(Path(tmp.name), show_progress=False)
    >>> ctx.unit("square-3", lambda: {"value": 3 * 3})
    {'value': 9}
    >>> ctx.unit("square-3", lambda: {"value": -1})      # read back from out/checkpoints, not recomputed
    {'value': 9}
    >>> ctx.close()
    >>> tmp.cleanup()
    """

    out: Path
    quick: bool = False
    seeds: list[int] = field(default_factory=lambda: [0])
    #: the whole run's seeds (default: ``seeds``) and whether this process computes the units of
    #: :meth:`first_seeds` (a run on one machine: always; spread over Ray: one task of its own)
    all_seeds: list[int] | None = None
    shared: bool = True
    device: str = "cpu"
    show_progress: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, dict] = field(default_factory=dict)  # per-unit measurements for run_info.json
    title: str = "run"
    n_resumed: int = 0
    computed: list[str] = field(default_factory=list)  # ids of the units this process computed

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.all_seeds = list(self.seeds if self.all_seeds is None else self.all_seeds)
        self.out.mkdir(parents=True, exist_ok=True)
        self.bar = tqdm(desc=self.title, unit="unit", disable=not self.show_progress, total=None)

    def expect(self, n_units: int) -> None:
        """Tell the run's progress bar how many units the whole run holds."""
        self.bar.total = int(n_units)
        self.bar.refresh()

    def stage(self, text: str) -> None:
        """Show what the run is doing now (beside the unit count)."""
        self.bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        self.stage("done")
        self.bar.close()

    def first_seeds(self, n: int = 1) -> list[int]:
        """The run's first ``n`` seeds, for a part that runs on those only; ``[]`` in a process that
        computes only per-seed units (a Ray task of one seed). Use it instead of ``ctx.seeds[:n]``."""
        return list(self.all_seeds[:n]) if self.shared else []

    def checkpoint_dir(self, key: str) -> Path:
        """A folder for a unit's own checkpoints, made inside ``out`` without following any link."""
        return safe_mkdir(self.out / "checkpoints" / _safe(key), root=self.out)

    def unit(self, key: str, fn: Callable[[], Any], keep: Callable[[Any], bool] | None = None) -> Any:
        """Return ``fn()``, computing it at most once across interrupted and resumed runs.

        ``keep(result)`` False leaves the result unsaved, so a resumed run computes it again (the bench
        uses it to retry units that failed).
        """
        import json

        path = _unit_path(self.out, _safe(key))
        saved = read_checkpoint(path, _valid_unit)
        if saved is not None:  # resumed: keep the time the unit took when it was computed
            self.timings.setdefault(key, float(saved.get("seconds", 0.0)))
            self.n_resumed += 1
            self.bar.update(1)
            return rederive(saved["result"])  # derived numbers come from the raw ones, never the file
        self.stage(key)
        start = time.perf_counter()
        result = fn()
        self.timings[key] = time.perf_counter() - start
        if keep is not None and not keep(result):
            self.bar.update(1)
            return json.loads(json.dumps(result, sort_keys=True))
        write_checkpoint(path, {"result": result, "seconds": self.timings[key]}, root=self.out)
        checkpoint_written()
        self.computed.append(_safe(key))
        self.bar.update(1)
        # Round-trip through JSON so a fresh and a resumed run hand the experiment identical values.
        return json.loads(json.dumps(result, sort_keys=True))

    def progress(self, iterable: Iterable, desc: str = "", total: int | None = None) -> Iterable:
        """Iterate, naming each step on the run's bar (``desc: item``); units move the bar itself."""
        for item in iterable:
            self.stage(f"{desc}: {item}" if desc else str(item))
            yield item

    def timing(self, key: str, seconds: float) -> None:
        self.timings[key] = float(seconds)


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in key)


def _unit_path(out: Path, unit_id: str) -> Path:
    return Path(out) / "checkpoints" / f"{unit_id}.json"


def _valid_unit(d: Any) -> bool:
    """A unit record: its result and the seconds it took (a malformed accuracy matrix: ValueError)."""
    return (isinstance(d, dict) and "result" in d and isinstance(d.get("seconds", 0.0), (int, float))
            and rederive(d["result"]) is not None)


def saved_units(out: str | Path, ids: Iterable[str] | None = None) -> dict[str, dict]:
    """The finished units a run folder holds (all, or those among ``ids``): unit id -> its record.

    Records are read like a resumed run reads them (bounded, checksummed, checked); a damaged one is
    left out (with a warning), so whoever asked computes it again.

    Examples
    --------
    >>> import tempfile
    >>> a, b = tempfile.TemporaryDirectory(), tempfile.TemporaryDirectory()
    >>> ctx = ExperimentContext(Path(a.name), show_progress=False)
    >>> ctx.unit("square-3", lambda: 9)
    9
    >>> ctx.close()
    >>> units = saved_units(a.name)
    >>> sorted(units), units["square-3"]["result"]
    (['square-3'], 9)
    >>> store_units(b.name, units)                  # another folder now holds the unit, done
    ['square-3']
    >>> a.cleanup(); b.cleanup()
    """
    folder = Path(out) / "checkpoints"
    if ids is None:
        ids = sorted(p.name[:-5] for p in folder.glob("*.json")) if folder.is_dir() else []
    found = {i: read_checkpoint(_unit_path(Path(out), i), _valid_unit) for i in ids if _safe(i) == i}
    return {i: rec for i, rec in found.items() if rec is not None}


def store_units(out: str | Path, units: dict[str, dict]) -> list[str]:
    """Write unit records (from :func:`saved_units` of another folder) into run folder ``out``, so a run
    there finds them done; records already there are kept. Returns the ids written."""
    written = []
    for unit_id, record in units.items():
        try:
            ok = _safe(unit_id) == unit_id and _valid_unit(record)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"unit {unit_id!r}: not a unit record")
        path = _unit_path(Path(out), unit_id)
        if read_checkpoint(path, _valid_unit) is None:
            write_checkpoint(path, record, root=out)
            written.append(unit_id)
    return written
