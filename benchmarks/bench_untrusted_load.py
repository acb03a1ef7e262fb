"""What a crafted model file costs to refuse: extra peak memory and time over loading the genuine file.

Each attack from the untrusted-files contract (docs/untrusted-files.md) is a few edited bytes in a genuine
file; each case runs in a fresh process that first loads the genuine file, then the crafted one, and
reports the growth of its peak resident memory and the extra time. The goal: ~100 MB and ~1 s at most.

    python benchmarks/bench_untrusted_load.py            # prints a markdown table
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent("""
    import json, resource, sys, time
    import torch
    torch.set_num_threads(1)
    from gradfree.core.io import ModelFileError, load_estimator
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load_estimator(sys.argv[1])  # first load: imports, kernel compilation
    t0 = time.perf_counter(); load_estimator(sys.argv[1]); genuine_s = time.perf_counter() - t0
    base = peak()
    t0 = time.perf_counter()
    try:
        load_estimator(sys.argv[2]); outcome = "LOADED"
    except ModelFileError as exc:
        outcome = "refused: " + exc.problem[:70]
    print(json.dumps({"outcome": outcome, "extra_s": time.perf_counter() - t0 - genuine_s,
                      "extra_mb": peak() - base}))
""")


def _state(field, value):
    return lambda m: m["state"].update({field: value})


def _fields(field, **changes):
    return lambda m: m["state"][field]["fields"].update(changes)


ATTACKS = {
    "NCM n_features_in_ = 6e8": ("NearestClassMean", _state("n_features_in_", 6 * 10**8)),
    "Wuxing sizes [16, 2e8, 6, 4]": ("WuxingClassifier", _fields("wiring_", sizes=[16, 2 * 10**8, 6, 4])),
    "Wuxing T = 1e12": ("WuxingClassifier", lambda m: m["params"].update(dynamics={
        "__dataclass__": "gradfree.wuxing.params:DynamicsParams",
        "fields": {"K1": 1.0, "K2": 0.5, "K3": 0.5, "dt": 0.2, "T": 1e12, "integrator": "euler",
                   "clamp": True}})),
    "RMN n_neurons = 1e9": ("RMNClassifier", lambda m: m["params"].update(n_neurons=10**9)),
    "RMN k_ = [1e9]": ("RMNClassifier", _state("k_", [10**9])),
    "EMNS sizes [16, 1e9, 4]": ("EMNSMLPClassifier", _fields("state_", sizes=[16, 10**9, 4])),
    "MLP hidden (1e9,)": ("MLPClassifier",
                          lambda m: m["params"].update(hidden_layer_sizes={"__tuple__": [10**9]})),
    "10 MB string": ("NearestClassMean", lambda m: m["params"].update(metric="x" * 10**7)),
}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from core.saved_models import save_all  # the tests' genuine files: every estimator, small settings

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        genuine = save_all(Path(tmp) / "genuine")
        rows = []
        for name, (model, change) in ATTACKS.items():
            crafted = Path(tmp) / name.replace(" ", "_").replace("/", "_")
            for suffix in (".json", ".safetensors"):
                crafted.with_suffix(suffix).write_bytes(genuine[model].with_suffix(suffix).read_bytes())
            meta = json.loads(crafted.with_suffix(".json").read_text())
            change(meta)
            crafted.with_suffix(".json").write_text(json.dumps(meta))
            run = subprocess.run([sys.executable, "-c", PROBE, str(genuine[model]), str(crafted)], env=env,
                                 capture_output=True, text=True, timeout=300, check=True)
            r = json.loads(run.stdout.strip().splitlines()[-1])
            rows.append(f"| {name} | {r['outcome']} | {r['extra_mb']:.1f} | {r['extra_s']:.3f} |")
    print("| crafted file | outcome | extra peak memory (MB) | extra time (s) |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
