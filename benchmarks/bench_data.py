"""Data loading speed: Fashion-MNIST (60k) from the Debian package's IDX files. Goal: < 3 s.

Run: ``python benchmarks/bench_data.py``; prints a table and writes benchmarks/results/data.json.
"""

from __future__ import annotations

import json
import platform
import time
import timeit
from pathlib import Path

from gradfree.data import load_digits, load_fashion_mnist


def best_of(fn, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls (timeit: the least disturbed run)."""
    return min(timeit.repeat(fn, repeat=repeats, number=1))


def main() -> None:
    rows = {
        "fashion-mnist train (60k)": best_of(lambda: load_fashion_mnist("train")),
        "fashion-mnist test (10k)": best_of(lambda: load_fashion_mnist("test")),
        "digits (1797)": best_of(load_digits),
    }
    print(f"{'data set':<28} {'seconds (best of 3)':>20}")
    for name, sec in rows.items():
        print(f"{name:<28} {sec:>20.3f}")
    goal = rows["fashion-mnist train (60k)"] < 3.0
    print(f"goal: Fashion-MNIST train < 3 s -> {'met' if goal else 'NOT met'}")
    out = Path(__file__).parent / "results" / "data.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"seconds": rows, "goal_met": goal, "machine": platform.node(),
                               "date": time.strftime("%Y-%m-%d")}, indent=1))


if __name__ == "__main__":
    main()
