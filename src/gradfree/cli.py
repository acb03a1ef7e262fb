"""Command line: ``gradfree list``, ``gradfree run NAME``, ``gradfree bench``, ``gradfree report DIR``."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from gradfree.core.device import resolve_device


def _parser() -> argparse.ArgumentParser:
    from gradfree import __version__

    p = argparse.ArgumentParser(prog="gradfree", description="Neural networks that learn without backprop.")
    p.add_argument("--version", action="version", version=f"gradfree {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="name every experiment with a one-line summary")

    run = sub.add_parser("run", add_help=False,
                         help="run one experiment (resumes if its output folder holds a cut-off run)")
    run.add_argument("-h", "--help", action="store_true", help="this help; with NAME, also its --set options")
    run.add_argument("name", nargs="?", help="experiment name (see `gradfree list`)")
    run.add_argument("--quick", action="store_true", help="small, fast version (under a minute)")
    chosen = run.add_mutually_exclusive_group()
    chosen.add_argument("--seeds", type=int, default=None, help="number of seeds (0..N-1)")
    chosen.add_argument("--seed-list", default=None, metavar="S,S,...",
                        help="these seeds instead, e.g. 2: one later seed in a folder of its own")
    run.add_argument("--out", default=None, help="output folder (default runs/NAME[-quick])")
    run.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="experiment option, e.g. --set data_dir=/data/mnist (repeatable)")
    run.add_argument("--threads", type=int, default=1,
                     help="CPU threads for torch and numba (default 1; results do not depend on it)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                     help="spread seeds over a Ray cluster (local if no address); gradfree[distributed]")

    bench = sub.add_parser("bench", help="every system and baseline side by side on the same data and seeds")
    bench.add_argument("--quick", action="store_true", help="small version (under 3 minutes)")
    bench.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3)")
    bench.add_argument("--out", default=None, help="output folder (default runs/bench[-quick])")
    bench.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    bench.add_argument("--threads", type=int, default=1, help="torch CPU threads while timing (default 1)")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="models=a,b or suites=x,y to run part of the table (repeatable)")
    bench.add_argument("--no-progress", action="store_true")
    bench.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                       help="spread seeds over a Ray cluster (local if no address); gradfree[distributed]")
    report = sub.add_parser("report", help="rebuild report.md and the figures of a run from its results.json")
    report.add_argument("dir", help="the run's folder (gradfree run NAME --out DIR)")
    p.run_parser = run  # for `gradfree run NAME --help`, which adds the experiment's own options
    return p


def _options(pairs: Sequence[str]) -> dict[str, str]:
    """``--set`` pairs as a dict; a ``ValueError`` (a usage error) for one without ``=``."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def _seed_list(text: str) -> list[int]:
    """``--seed-list`` as integers; a ``ValueError`` (a usage error) for anything else."""
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise ValueError(f"--seed-list expects comma-separated integers, got {text!r}") from None


def _fail(message: str) -> int:
    print(f"gradfree: {message}", file=sys.stderr)
    return 2


def _check_out(out: str | None) -> str | None:
    """Why ``--out`` cannot be used (one line), or None when it can."""
    if out is None:
        return None
    path = Path(out)
    if path.exists() and not path.is_dir():
        return f"--out {out} is a file, not a folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return f"--out {out} cannot be written ({exc.strerror or exc})"
    return None


def _run_help(parser: argparse.ArgumentParser, name: str | None) -> int:
    from gradfree.experiments.registry import get_experiment

    parser.run_parser.print_help()
    if name is not None:
        try:
            exp = get_experiment(name)
        except KeyError as exc:
            return _fail(exc.args[0])
        print(f"\n{exp.name}: {exp.summary}\n\noptions (--set KEY=VALUE):")
        for opt in exp.options:
            print(f"  {opt.describe()}")
        if not exp.options:
            print("  (none)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run" and args.help:
        return _run_help(parser, args.name)
    if args.command == "run" and args.name is None:
        return _fail("run needs an experiment NAME (see `gradfree list`)")
    if args.command in ("run", "bench"):
        problem = _check_out(args.out) or (f"--threads must be >= 1, got {args.threads}"
                                           if args.threads < 1 else None)
        if problem is None:
            try:
                resolve_device(args.device)
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            return _fail(problem)
    if args.command == "report":
        from gradfree.experiments.cli_runner import rebuild_report

        try:
            out = rebuild_report(args.dir)
        except (KeyError, ValueError) as exc:
            return _fail(exc.args[0] if isinstance(exc, KeyError) else str(exc))
        print(f"rebuilt {out}/report.md and its figures from {out}/results.json")
        return 0
    if args.command == "list":
        from gradfree.experiments.registry import all_experiments

        exps = all_experiments()
        width = max(map(len, exps), default=0)
        for name, exp in exps.items():
            print(f"{name:<{width}}  {exp.summary}")
        return 0
    if args.command == "bench":  # the bench is the experiment "bench"; its threads are an option
        args.name, args.set = "bench", [f"threads={args.threads}", *args.set]
    from gradfree.experiments.cli_runner import run_experiment

    start = time.perf_counter()
    try:
        seeds = _seed_list(args.seed_list) if getattr(args, "seed_list", None) is not None else args.seeds
        kwargs = dict(quick=args.quick, seeds=seeds, out=args.out, device=args.device,
                      progress=not args.no_progress, options=_options(args.set), threads=args.threads)
        if args.ray is not None:
            from gradfree.distributed import run_experiment_on_ray

            address = None if args.ray == "local" else args.ray
            out = run_experiment_on_ray(args.name, address=address, **kwargs)
        else:
            out = run_experiment(args.name, **kwargs)
    except (KeyError, ValueError, FileNotFoundError, ImportError) as exc:
        return _fail(exc.args[0] if isinstance(exc, KeyError) else str(exc))
    print(f"done in {time.perf_counter() - start:.1f} s: {out}/results.json, {out}/report.md")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
