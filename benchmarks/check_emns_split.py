"""The EMNS estimators after the split (paper network vs wide MLP, both on the engine) against the code
before it: every configuration the README, the experiments and benchmarks/results quote, trained with
fixed seeds by the old code (a git revision, default c6296a1) and by this tree, must give bit-identical
trajectories (SHA-256 of the history, the final state and the predictions). The paper-network
estimators' defaults have since become TUNED: cases written for the old defaults pass them explicitly
on the new side (``OLD_DEFAULTS``, or ``.paper()`` with overrides as emns-demos does), and two cases
show that the new defaults are the old code's TUNED with ``input_scaling="standard"`` (the structure
cases pass ``input_scaling=None``: they were written for TUNED on raw inputs).

    python benchmarks/check_emns_split.py [--old c6296a1] [--fashion-generations 300] [--only TEXT]

Each side runs in its own process with its own ``src`` on the path (the old tree is exported with
``git archive``), both in MKL's reproducible mode (``MKL_CBWR=AUTO,STRICT``, what ``import gradfree``
sets now). Writes ``benchmarks/results/emns_split_identity.json``; exits 1 if any case differs.
The Fashion-MNIST case runs the benchmark's own EMNS loop (``bench_emns_scale.run_emns``, the
``gradfree.emns.IMAGES`` configuration behind the README's 86.8 %) for ``--fashion-generations``
generations of seed 0 and hashes the centre after each evaluation point, so the 600-s runs need not
be repeated to show they carry over.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = r'''
import hashlib, json, sys
import numpy as np, torch
torch.set_num_threads(1)
from sklearn.datasets import load_digits
from gradfree.data import emns_classification, emns_continual_tasks, emns_regression
import gradfree.emns as E

def digest(*objs):
    h = hashlib.sha256()
    for o in objs:
        if isinstance(o, torch.Tensor):
            h.update(o.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(o, np.ndarray):
            h.update(np.ascontiguousarray(o).tobytes())
        else:
            h.update(json.dumps(o, sort_keys=True, default=str).encode())
    return h.hexdigest()

def wide(m, X):
    st = m.state_
    return digest(st.history, st.theta, st.resistances, st.m, st.v, m.predict(X))

def paper(m, X):
    st = m.state_
    return digest(st.history, st.values, st.resistances, st.fitness, st.masks, m.predict(X))

Xd, yd = load_digits(return_X_y=True)
Xr, yr = emns_regression(random_state=0)
Xc, yc = emns_classification(random_state=0)
NEW = hasattr(E, "EMNSMLPClassifier")
# The paper-network estimators' constructor defaults before they became TUNED, passed explicitly by
# the new side wherever a case was written for them (the old side gets the same values by default).
OLD_DEFAULTS = dict(selection='plus', population_size=16, n_parents=1, recombination=0, rate_rule='preset',
                    resistance_rate=0.0, mutation_rate=None, mu_min=None, r_max=None, keep_best=False,
                    mirrored=False, input_scaling=None)
'''

# name: (code for the old tree, code for the new tree); each sets ``out``
CASES = {
    "EMNSClassifier() = SCALE (README digits row) -> EMNSMLPClassifier()": (
        "m = E.EMNSClassifier(random_state=0).fit(Xd[:1200], yd[:1200]); out = wide(m, Xd[1200:])",
        "m = E.EMNSMLPClassifier(random_state=0).fit(Xd[:1200], yd[:1200]); out = wide(m, Xd[1200:])"),
    "IMAGES (activity mutation) -> EMNSMLPClassifier.images()": (
        "m = E.EMNSClassifier(**{**E.IMAGES, 'max_evaluations': 12800}, random_state=1).fit(Xd, yd); "
        "out = wide(m, Xd)",
        "m = E.EMNSMLPClassifier.images(max_evaluations=12800, random_state=1).fit(Xd, yd); "
        "out = wide(m, Xd)"),
    "IMAGES_WEIGHTS -> EMNSMLPClassifier.images_weights()": (
        "m = E.EMNSClassifier(**{**E.IMAGES_WEIGHTS, 'max_evaluations': 12800}, random_state=2).fit(Xd, yd); "
        "out = wide(m, Xd)",
        "m = E.EMNSMLPClassifier.images_weights(max_evaluations=12800, random_state=2).fit(Xd, yd); "
        "out = wide(m, Xd)"),
    "CONTINUAL partial_fit (emns-continual digits) -> EMNSMLPClassifier.continual()": (
        "m = E.EMNSClassifier.continual(max_evaluations=800, shield=0.5, random_state=3)\n"
        "for a in range(0, 10, 2):\n"
        "    k = (yd == a) | (yd == a + 1); m.partial_fit(Xd[k], yd[k], classes=np.arange(10))\n"
        "out = wide(m, Xd)",
        "m = E.EMNSMLPClassifier.continual(max_evaluations=800, shield=0.5, random_state=3)\n"
        "for a in range(0, 10, 2):\n"
        "    k = (yd == a) | (yd == a + 1); m.partial_fit(Xd[k], yd[k], classes=np.arange(10))\n"
        "out = wide(m, Xd)"),
    "wide MLP, centre='recombine' (TUNED's mean on the wide MLP)": (
        "m = E.EMNSClassifier(centre='recombine', max_evaluations=3200, random_state=14)"
        ".fit(Xd, yd); out = wide(m, Xd)",
        "m = E.EMNSMLPClassifier(centre='recombine', max_evaluations=3200, "
        "random_state=14).fit(Xd, yd); out = wide(m, Xd)"),
    "wide regressor, continual pair (emns-continual) -> EMNSMLPRegressor.continual()": (
        "(X1, y1), (X2, y2) = emns_continual_tasks(random_state=0)\n"
        "m = E.EMNSRegressor.continual(fitness='mse', class_mask=None, shield=1.0, max_evaluations=1000,"
        " random_state=4)\n"
        "m.partial_fit(X1, y1); m.partial_fit(X2, y2); out = wide(m, X1)",
        "(X1, y1), (X2, y2) = emns_continual_tasks(random_state=0)\n"
        "m = E.EMNSMLPRegressor.continual(shield=1.0, max_evaluations=1000, random_state=4)\n"
        "m.partial_fit(X1, y1); m.partial_fit(X2, y2); out = wide(m, X1)"),
    "(1+16), EMNSRegressor()'s old defaults (the old bench row)": (
        "m = E.EMNSRegressor(max_evaluations=3000, random_state=5).fit(Xr, yr); out = paper(m, Xr)",
        "m = E.EMNSRegressor(**OLD_DEFAULTS, max_evaluations=3000, random_state=5).fit(Xr, yr); "
        "out = paper(m, Xr)"),
    "PAPER (every mutation accepted)": (
        "m = E.EMNSRegressor.paper(max_evaluations=500, random_state=6).fit(Xr, yr); out = paper(m, Xr)",
        "m = E.EMNSRegressor.paper(max_evaluations=500, random_state=6).fit(Xr, yr); out = paper(m, Xr)"),
    "reference hill climber (revert)": (
        "m = E.EMNSRegressor(selection='revert', preset='reference', max_evaluations=800, random_state=7)"
        ".fit(Xr, yr); out = paper(m, Xr)",
        "m = E.EMNSRegressor(**dict(OLD_DEFAULTS, selection='revert'), constants='reference', "
        "max_evaluations=800, random_state=7).fit(Xr, yr); out = paper(m, Xr)"),
    "TUNED + standard scaling -> EMNSRegressor() (the defaults)": (
        "m = E.EMNSRegressor(**E.TUNED, input_scaling='standard', max_evaluations=3000, random_state=8)"
        ".fit(Xr, yr); "
        "out = paper(m, Xr)",
        "m = E.EMNSRegressor(max_evaluations=3000, random_state=8).fit(Xr, yr); out = paper(m, Xr)"),
    "TUNED + standard scaling -> EMNSClassifier() (the defaults), digits 0-4": (  # old: the wide MLP
        "X5, y5 = load_digits(n_class=5, return_X_y=True)\n"
        "m = E.EMNSClassifier.paper(**E.TUNED, input_scaling='standard', max_evaluations=1700, "
        "random_state=15).fit(X5, y5); "
        "out = paper(m, X5)",
        "X5, y5 = load_digits(n_class=5, return_X_y=True)\n"
        "m = E.EMNSClassifier(max_evaluations=1700, random_state=15).fit(X5, y5); out = paper(m, X5)"),
    "emns-demos comma (4 parents, 1/5th rule, self-adaptive)": (
        "kw = dict(selection='comma', n_parents=4, population_size=16, r_max=0.95, rate_rule='success', "
        "self_adaptive=True, mu_min=0.01, success_damping=1.0)\n"
        "m = E.EMNSRegressor(**kw, max_evaluations=2000, random_state=9).fit(Xr, yr); out = paper(m, Xr)",
        "kw = dict(selection='comma', n_parents=4, population_size=16, r_max=0.95, rate_rule='success', "
        "self_adaptive=True, mu_min=0.01, success_damping=1.0)\n"
        "m = E.EMNSRegressor.paper(**kw, max_evaluations=2000, random_state=9).fit(Xr, yr); "
        "out = paper(m, Xr)"),
    "emns-demos recombine+growth (structure)": (
        "m = E.EMNSRegressor(**dict(E.TUNED, growth=True, connect=True, growth_patience=512, growth_tol=1e-4,"
        " structure_interval=128), max_evaluations=4000, random_state=10).fit(Xr, yr); out = paper(m, Xr)",
        "m = E.EMNSRegressor(input_scaling=None, structure=E.StructureParams(growth=True, connect=True, "
        "growth_patience=512, growth_tol=1e-4, interval=128), max_evaluations=4000, random_state=10)"
        ".fit(Xr, yr); out = paper(m, Xr)"),
    "emns-demos recombine+prune (structure)": (
        "m = E.EMNSRegressor(**dict(E.TUNED, prune=True, connect=True, prune_threshold=0.02, "
        "structure_interval=128), max_evaluations=3000, random_state=11).fit(Xr, yr); out = paper(m, Xr)",
        "m = E.EMNSRegressor(input_scaling=None, structure=E.StructureParams(prune=True, connect=True, "
        "prune_threshold=0.02, interval=128), max_evaluations=3000, random_state=11).fit(Xr, yr); "
        "out = paper(m, Xr)"),
    "EMNSClassifier.paper() (emns-demos classification)": (
        "m = E.EMNSClassifier.paper(hidden_layer_sizes=(8, 4), max_evaluations=600, random_state=12)"
        ".fit(Xc, yc); out = paper(m, Xc)",
        "m = E.EMNSClassifier.paper(hidden_layer_sizes=(8, 4), max_evaluations=600, random_state=12)"
        ".fit(Xc, yc); out = paper(m, Xc)"),
    "restarts with keep_best": (
        "m = E.EMNSRegressor(keep_best=True, restart_patience=400, max_evaluations=2000, random_state=13)"
        ".fit(Xr, yr); out = paper(m, Xr)",
        "m = E.EMNSRegressor(**dict(OLD_DEFAULTS, keep_best=True), restart_patience=400, "
        "max_evaluations=2000, random_state=13).fit(Xr, yr); out = paper(m, Xr)"),
}

BENCH = r'''
sys.path.insert(0, BENCH_DIR)
import bench_emns_scale as B
seen = []
B.accuracy = lambda theta, sizes, X, y: seen.append(digest(theta)) or 0.0
ds = DATASET
hidden, pop, batch, kw, pool = B.CONFIG[ds]
data = B.load(ds, pool)
sizes = [data[0].shape[1], *hidden, 10]
curve = B.run_emns(0, sizes, pop, data, B.Minibatches(0, len(data[0]), batch), GENS, float("inf"), EVERY, kw)
out = digest(seen, [c[0] for c in curve])
'''


def run(src: Path, bench_dir: Path, code: str) -> str:
    prog = PRELUDE + code + "\nprint(out)\n"
    # Both sides in MKL's reproducible mode, which ``import gradfree`` has set since the old revision
    # (docs/decisions.md, "Results identical for any thread count"): otherwise the old side's gemm
    # rounds differently and the activity-mutation case differs in the last bits for that reason alone.
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "MKL_CBWR": "AUTO,STRICT"}
    res = subprocess.run([sys.executable, "-c", prog], env=env, capture_output=True, text=True, cwd=bench_dir)
    if res.returncode:
        return "ERROR: " + res.stderr.strip().splitlines()[-1]
    return res.stdout.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", default="c6296a1")
    ap.add_argument("--fashion-generations", type=int, default=300)
    ap.add_argument("--only", default="", help="run only the cases whose name contains this text "
                    "(several: separated by |)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "emns_split_identity.json"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "old.tar"
        subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), a.old, "src", "benchmarks"],
                       check=True)
        with tarfile.open(archive) as t:
            t.extractall(Path(tmp) / "old", filter="data")
        old_src, old_bench = Path(tmp) / "old" / "src", Path(tmp) / "old" / "benchmarks"
        new_src, new_bench = ROOT / "src", ROOT / "benchmarks"
        cases = dict(CASES)
        for ds, gens, every in (("digits", 300, 10), ("fashion", a.fashion_generations, 50)):
            code = BENCH.replace("DATASET", repr(ds)).replace("GENS", str(gens)).replace("EVERY", str(every))
            cases[f"bench_emns_scale.run_emns, {ds}, seed 0, {gens} generations"] = (code, code)
        results, same = {}, True
        for name, (old_code, new_code) in cases.items():
            if not any(part in name for part in a.only.split("|")):
                continue
            o = run(old_src, old_bench, old_code.replace("BENCH_DIR", repr(str(old_bench))))
            n = run(new_src, new_bench, new_code.replace("BENCH_DIR", repr(str(new_bench))))
            ok = o == n and not o.startswith("ERROR")
            same &= ok
            results[name] = {"identical": ok, "old": o, "new": n}
            print(f"{'same' if ok else 'DIFFERENT':>9}  {name}", flush=True)
    out = Path(a.out)
    if a.only and out.exists():  # a partial run updates its cases and keeps the others' last results
        results = {k: v for k, v in {**json.loads(out.read_text())["cases"], **results}.items() if k in cases}
        same = all(r["identical"] for r in results.values())
    out.write_text(json.dumps({"old": a.old, "cases": results, "all_identical": same}, indent=1))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
