"""``python -m gradfree.bench [--quick] [--seeds N] [--out DIR] [--device D] [--models ..] [--suites ..]``."""

from __future__ import annotations

import argparse

from gradfree.bench.runner import run_bench


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m gradfree.bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small data and budgets (< 3 minutes)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default=None, help="output folder (default runs/bench[-quick])")
    p.add_argument("--device", default="cpu")
    p.add_argument("--models", nargs="*", default=None)
    p.add_argument("--suites", nargs="*", default=None)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave torch's default)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    out = a.out or ("runs/bench-quick" if a.quick else "runs/bench")
    path = run_bench(quick=a.quick, seeds=a.seeds, out=out, device=a.device, progress=not a.no_progress,
                     models=a.models, suites=a.suites, threads=a.threads or None)
    print(f"wrote {path}/bench.md, results.csv, bench.json and figures")


if __name__ == "__main__":
    main()
