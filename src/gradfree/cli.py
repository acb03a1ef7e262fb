"""Command line: ``gradfree list``, ``gradfree run NAME``, ``gradfree bench``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gradfree", description="Neural networks that learn without backprop.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="name every experiment with a one-line summary")

    run = sub.add_parser("run", help="run one experiment (resumes if its output folder holds a cut-off run)")
    run.add_argument("name", help="experiment name (see `gradfree list`)")
    run.add_argument("--quick", action="store_true", help="small, fast version (under a minute)")
    run.add_argument("--seeds", type=int, default=None, help="number of seeds (0..N-1)")
    run.add_argument("--out", default=None, help="output folder (default runs/NAME[-quick])")
    run.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="experiment option, e.g. --set data_dir=/data/mnist (repeatable)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                     help="spread seeds over a Ray cluster (local if no address); gradfree[distributed]")

    bench = sub.add_parser("bench", help="every system and baseline side by side on the same data and seeds")
    bench.add_argument("--quick", action="store_true", help="small version (under 3 minutes)")
    bench.add_argument("--seeds", type=int, default=3)
    bench.add_argument("--out", default="runs/bench")
    bench.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    bench.add_argument("--threads", type=int, default=1, help="torch CPU threads while timing (default 1)")
    bench.add_argument("--no-progress", action="store_true")
    bench.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                       help="spread (suite, seed) groups over a Ray cluster (local if no address)")
    return p


def _options(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"gradfree: --set expects KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        from gradfree.experiments.registry import all_experiments

        exps = all_experiments()
        width = max(map(len, exps), default=0)
        for name, exp in exps.items():
            print(f"{name:<{width}}  {exp.summary}")
        return 0
    if args.command == "run":
        from gradfree.experiments.cli_runner import run_experiment

        start = time.perf_counter()
        kwargs = dict(quick=args.quick, seeds=args.seeds, out=args.out, device=args.device,
                      progress=not args.no_progress, options=_options(args.set))
        try:
            if args.ray is not None:
                from gradfree.distributed import run_experiment_on_ray

                out = run_experiment_on_ray(args.name, address=None if args.ray == "local" else args.ray,
                                            **kwargs)
            else:
                out = run_experiment(args.name, **kwargs)
        except (KeyError, ValueError, FileNotFoundError, ImportError) as exc:
            print(f"gradfree: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
            return 2
        print(f"done in {time.perf_counter() - start:.1f} s: {out}/results.json, {out}/report.md")
        return 0
    if args.command == "bench":
        try:
            from gradfree.bench import run_bench
        except ImportError as exc:  # pragma: no cover - until the bench lands
            print(f"gradfree: the bench is not available ({exc})", file=sys.stderr)
            return 2
        start = time.perf_counter()
        kwargs = dict(quick=args.quick, seeds=args.seeds, out=args.out, device=args.device,
                      progress=not args.no_progress, threads=args.threads)
        if args.ray is not None:
            from gradfree.distributed.bench import run_bench_on_ray

            out = run_bench_on_ray(address=None if args.ray == "local" else args.ray, **kwargs)
        else:
            out = run_bench(**kwargs)
        print(f"done in {time.perf_counter() - start:.1f} s: {out}")
        return 0
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
