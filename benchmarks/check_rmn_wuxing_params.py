"""RMNClassifier and WuxingClassifier with their options grouped (``homeostasis=HomeostasisParams(...)``,
``prototypes=PrototypeParams(...)``; ``dynamics=DynamicsParams(...)``, ``fixed_point=FixedPointParams(...)``)
against the code before the grouping (a git revision, default ab69047): the defaults, every preset
and a set of option combinations, trained with fixed seeds by the old code and by this tree, must give
bit-identical models (SHA-256 of every fitted attribute, the random generator's state included, and of
the predictions and scores).

    python benchmarks/check_rmn_wuxing_params.py [--old ab69047] [--only TEXT]

Each side runs in its own process with its own ``src`` on the path (the old tree is exported with
``git archive``). Also checked: every preset's parameters, flattened to the old names, are the old
preset's; a model saved by the old code loads in this tree and predicts the same (as do the Wuxing
checkpoints in docs/results). Writes ``benchmarks/results/rmn_wuxing_params_identity.json``; exits 1
if any case differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = r'''
import dataclasses, hashlib, json, sys
import numpy as np, torch
torch.set_num_threads(1)
from sklearn.datasets import load_digits
from gradfree.rmn import RMNClassifier
from gradfree.wuxing import WuxingClassifier
from gradfree.wuxing.reference import ExactGradientWuxing
try:
    from gradfree.rmn import HomeostasisParams as H, PrototypeParams as P
    from gradfree.wuxing import DynamicsParams as D, FixedPointParams as F
except ImportError:
    pass

def feed(h, o):
    if isinstance(o, torch.Tensor):
        h.update(str(o.dtype).encode()); h.update(o.detach().cpu().contiguous().numpy().tobytes())
    elif isinstance(o, torch.Generator):
        h.update(o.get_state().numpy().tobytes())
    elif isinstance(o, np.ndarray):
        h.update(np.ascontiguousarray(o).tobytes())
    elif isinstance(o, (list, tuple)):
        for v in o:
            feed(h, v)
    elif dataclasses.is_dataclass(o):
        for f in dataclasses.fields(o):
            feed(h, getattr(o, f.name))
    else:
        h.update(json.dumps(o, sort_keys=True, default=str).encode())

def state(m, X):
    """SHA-256 of every fitted attribute (sorted by name) and of the predictions and scores on X (m
    None: of X alone)."""
    h = hashlib.sha256()
    if m is None:
        feed(h, X)
        return h.hexdigest()
    for k in sorted(vars(m)):
        if k.endswith("_") and not k.startswith("_") and k != "device_":
            h.update(k.encode()); feed(h, getattr(m, k))
    feed(h, m.predict(X))
    feed(h, m.decision_function(X) if hasattr(m, "decision_function") else m.readout(X))
    return h.hexdigest()

X, y = load_digits(return_X_y=True)
Xs, ys, XT, X7 = X[:400], y[:400], X[1500:], X[1700:]
'''

# flat (old) names of the grouped options: group -> {field: old name}
FLAT = r'''
GROUPS = {"homeostasis": {"theta": "theta", "epsilon": "epsilon", "activity_decay": "activity_decay",
                          "interval": "homeostasis_interval"},
          "prototypes": {"n": "n_prototypes", "vote_k": "vote_k", "lr": "prototype_lr", "push_lr": "push_lr",
                         "cap": "prototype_cap", "pull_k": "pull_k",
                         "recruit_threshold": "recruit_threshold"},
          "dynamics": {k: k for k in ("K1", "K2", "K3", "dt", "T", "integrator", "clamp")},
          "fixed_point": {"step": "fp_step", "pid": "pid", "pid_decay": "pid_decay", "max_offset": "fp_max",
                          "rule": "fp_rule"}}
DEFAULTS = {"homeostasis": H(), "prototypes": P(), "dynamics": D(), "fixed_point": F()}

def flat(m):
    """The parameters under the old names (homeostasis None -> homeostasis=False, default constants)."""
    out = {}
    for k, v in m.get_params().items():
        if k not in GROUPS:
            out[k] = v
            continue
        if k == "homeostasis":
            out["homeostasis"] = v is not None
        g = v if v is not None else DEFAULTS[k]
        out.update({old: getattr(g, f) for f, old in GROUPS[k].items()})
    return out
'''

DUMP = "out = json.dumps({n: FLATTEN(f()) for n, f in PRESETS.items()}, sort_keys=True, default=repr)"
PARAMS_OLD = DUMP.replace("FLATTEN(f())", "f().get_params()")
PARAMS_NEW = FLAT + DUMP.replace("FLATTEN", "flat")
PRESETS = ('PRESETS = {"RMN()": RMNClassifier, "RMN.paper()": RMNClassifier.paper, '
           '"RMN.consolidating()": RMNClassifier.consolidating, "RMN.patches()": RMNClassifier.patches, '
           '"Wuxing()": WuxingClassifier, "Wuxing.paper()": WuxingClassifier.paper, '
           '"Wuxing.paper(model2)": lambda: WuxingClassifier.paper("model2"), '
           '"Wuxing.goal()": WuxingClassifier.goal, '
           '"ExactGradientWuxing.paper()": ExactGradientWuxing.paper}\n')

R, W = "RMNClassifier", "WuxingClassifier"
WX = "hidden_layer_sizes=(24, 12), epochs=2, random_state=3"  # small Wuxing runs
FIT = ".fit(Xs, ys)"

# name: (code for the old tree, code for the new tree); each sets ``m`` (hashed with ``state(m, XT)``)
# or ``out``. The same code for both: one string.
CASES: dict[str, tuple[str, str] | str] = {
    "every preset's parameters, under the old names": (PRESETS + PARAMS_OLD, PRESETS + PARAMS_NEW),
    # ---------------------------------------------------------------- RMN
    "RMNClassifier() (defaults)":
        f"m = {R}(random_state=0).fit(X[:1200], y[:1200]); out = state(m, X[1200:])",
    "RMNClassifier.paper()": f"m = {R}.paper(random_state=1){FIT}",
    "RMNClassifier.paper(backend='torch')":
        f"m = {R}.paper(backend='torch', random_state=2).fit(Xs[:150], ys[:150])",
    "RMNClassifier.paper() partial_fit, class-incremental":
        f"m = {R}.paper(n_neurons=300, random_state=3)\n"
        "for a in range(0, 10, 2):\n"
        "    k = (ys == a) | (ys == a + 1); m.partial_fit(Xs[k], ys[k], classes=np.arange(10))",
    "RMNClassifier.consolidating()": f"m = {R}.consolidating(random_state=4){FIT}",
    "RMNClassifier.consolidating(eta=0.0)": f"m = {R}.consolidating(eta=0.0, random_state=4){FIT}",
    "RMNClassifier.patches()": f"m = {R}.patches(random_state=5){FIT}",
    "paper, homeostasis every 100 samples (the fast option)": (
        f"m = {R}.paper(homeostasis_interval=100, random_state=6){FIT}",
        f"m = {R}.paper(homeostasis=H(interval=100), random_state=6){FIT}"),
    "paper, homeostasis off (old: interval 100)": (
        f"m = {R}.paper(homeostasis=False, homeostasis_interval=100, random_state=7){FIT}",
        f"m = {R}.paper(homeostasis=None, random_state=7){FIT}"),
    "paper, other homeostasis constants, torch backend": (
        f"m = {R}.paper(theta=0.05, epsilon=0.2, activity_decay=0.1, homeostasis_interval=3, "
        "backend='torch', random_state=8).fit(Xs[:200], ys[:200])",
        f"m = {R}.paper(homeostasis=H(theta=0.05, epsilon=0.2, activity_decay=0.1, interval=3), "
        "backend='torch', random_state=8).fit(Xs[:200], ys[:200])"),
    "paper, simple read-out with other rates": (
        f"m = {R}.paper(readout='simple', prototype_lr=0.2, push_lr=0.05, random_state=9){FIT}",
        f"m = {R}.paper(readout='simple', prototypes=P(lr=0.2, push_lr=0.05), random_state=9){FIT}"),
    "paper, stacked code layers, plasticity, erode_k, interval 7": (
        f"m = {R}.paper(n_neurons=(200, 100), representation='code', plasticity_decay=0.1, erode_k=3, "
        f"homeostasis_interval=7, n_prototypes=50, vote_k=3, prototype_cap=8, random_state=10){FIT}",
        f"m = {R}.paper(n_neurons=(200, 100), representation='code', plasticity_decay=0.1, erode_k=3, "
        f"homeostasis=H(interval=7), prototypes=P(n=50, vote_k=3, cap=8), random_state=10){FIT}"),
    "rmn-split ablation: erosion + homeostasis every 100 samples": (
        f"m = {R}(eta=0.05, homeostasis=True, random_state=11){FIT}",
        f"m = {R}(eta=0.05, homeostasis=H(), random_state=11){FIT}"),
    "rmn-split ablation: recruiting prototype read-out on the code": (
        f"m = {R}(readout='overcomplete', representation='code', n_prototypes=1000, prototype_cap=100, "
        f"recruit_threshold=0.9, pull_k=1, vote_k=1, random_state=12){FIT}",
        f"m = {R}(readout='overcomplete', representation='code', prototypes=P(n=1000, cap=100, "
        f"recruit_threshold=0.9, pull_k=1, vote_k=1), random_state=12){FIT}"),
    "RMN: a model saved by the old code, loaded by this one and trained on": (
        f"m = {R}.paper(n_neurons=200, homeostasis_interval=5, vote_k=3, random_state=13){FIT}\n"
        f"m.save(SAVED + '/rmn'); m = {R}.load(SAVED + '/rmn'); m.partial_fit(X[400:500], y[400:500])",
        f"m = {R}.load(SAVED + '/rmn'); m.partial_fit(X[400:500], y[400:500])"),
    "RMN: a model saved with homeostasis off, loaded": (
        f"m = {R}(random_state=14){FIT}; m.save(SAVED + '/rmn0')",
        f"m = {R}.load(SAVED + '/rmn0'); assert m.homeostasis is None"),
    # without homeostasis, erosion is now chunked as in every such configuration: the same results, while
    # the weights may differ in their last bits (docs/decisions.md)
    "rmn-orthogonal --quick units, seed 0: the results of all five variants":
        "from gradfree.experiments import rmn_orthogonal as E\n"
        "names = [*E.VARIANTS, E.CONSOLIDATING]\n"
        "out = state(None, [json.dumps(E.run_variant(n, seed=0, quick=True, device='cpu'), sort_keys=True) "
        "for n in names])",
    # ---------------------------------------------------------------- Wuxing
    "WuxingClassifier() (defaults, 2 epochs)": f"m = {W}(epochs=2, random_state=0){FIT}",
    "WuxingClassifier.paper() (MODEL1, 1 epoch on 100 samples)":
        f"m = {W}.paper(epochs=1, random_state=1).fit(Xs[:100], ys[:100]); out = state(m, X7)",
    "WuxingClassifier.paper('model2') (1 epoch on 100 samples)":
        f"m = {W}.paper('model2', epochs=1, random_state=2).fit(Xs[:100], ys[:100]); out = state(m, X7)",
    "WuxingClassifier.goal() (1 epoch on 100 samples)":
        f"m = {W}.goal(epochs=1, random_state=3).fit(Xs[:100], ys[:100]); out = state(m, X7)",
    "ExactGradientWuxing.paper() (small)":
        f"m = ExactGradientWuxing.paper({WX}, fanout='auto').fit(Xs[:120], ys[:120]); out = state(m, X7)",
    "paper, method 1 (fixed point), small": f"m = {W}.paper({WX}, fanout='auto', method='fixed_point'){FIT}",
    "paper, mixed, k123 rule (wuxing-mnist Fig. 2)": (
        f"m = {W}.paper({WX}, fanout='auto', method='mixed', fp_rule='k123'){FIT}",
        f"m = {W}.paper({WX}, fanout='auto', method='mixed', fixed_point=F(rule='k123')){FIT}"),
    "mixed with PID gains, leak, step and bound": (
        f"m = {W}({WX}, method='mixed', pid=(0.5, 0.2, 0.1), pid_decay=0.7, fp_step=3.0, fp_max=0.3){FIT}",
        f"m = {W}({WX}, method='mixed', fixed_point=F(pid=(0.5, 0.2, 0.1), pid_decay=0.7, step=3.0, "
        f"max_offset=0.3)){FIT}"),
    "other neuron constants and integration (rk4, dt, T, no clamp)": (
        f"m = {W}({WX}, K1=1.2, K2=0.4, K3=0.6, dt=0.25, T=10.0, integrator='rk4', clamp=False){FIT}",
        f"m = {W}({WX}, dynamics=D(K1=1.2, K2=0.4, K3=0.6, dt=0.25, T=10.0, integrator='rk4', "
        f"clamp=False)){FIT}"),
    "wuxing-mnist adders + stabilised (fan_in 2)":
        f"m = {W}.paper({WX}, fanout='auto', fan_in=2, backward='linearised', max_delta=0.1){FIT}",
    "Wuxing: a model saved by the old code (mixed, k123), loaded by this one and trained on": (
        f"m = {W}({WX}, method='mixed', fp_rule='k123', T=12.0){FIT}; m.save(SAVED + '/wx')\n"
        f"m = {W}.load(SAVED + '/wx'); m.partial_fit(X[400:500], y[400:500])",
        f"m = {W}.load(SAVED + '/wx'); m.partial_fit(X[400:500], y[400:500])"),
    "Wuxing checkpoints in docs/results (fig2-bsp, fig4-model2) load and predict":
        "import glob\n"
        "Xf = np.random.default_rng(0).random((64, 784)).astype(np.float32)\n"
        f"out = [state({W}.load(p[:-5]), Xf) for p in sorted(glob.glob(CHECKPOINTS))]\n"
        "assert len(out) >= 2",
}


def run(src: Path, code: str, saved: str) -> str:
    checkpoints = str(ROOT / "docs/results/wuxing-fig24-full/checkpoints/*/model-e*.json")
    code = code.replace("SAVED", repr(saved)).replace("CHECKPOINTS", repr(checkpoints))
    tail = "" if "out = " in code else "\nout = state(m, XT)"
    prog = PRELUDE + code + tail + "\nprint(out)\n"
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", prog], env=env, capture_output=True, text=True, cwd=ROOT)
    if res.returncode:
        return "ERROR: " + (res.stderr.strip().splitlines() or ["?"])[-1]
    return res.stdout.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", default="ab69047")
    ap.add_argument("--only", default="", help="run only the cases whose name contains this text")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "rmn_wuxing_params_identity.json"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "old.tar"
        subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), a.old, "src"], check=True)
        with tarfile.open(archive) as t:
            t.extractall(Path(tmp) / "old", filter="data")
        old_src, new_src = Path(tmp) / "old" / "src", ROOT / "src"
        results, same = {}, True
        for name, codes in CASES.items():
            if a.only not in name:
                continue
            old_code, new_code = (codes, codes) if isinstance(codes, str) else codes
            o = run(old_src, old_code, tmp)
            n = run(new_src, new_code, tmp)
            ok = o == n and not o.startswith("ERROR")
            same &= ok
            short = {side: v if len(v) < 200 else "sha256 " + hashlib.sha256(v.encode()).hexdigest()
                     for side, v in (("old", o), ("new", n))}  # the presets' parameters are long
            results[name] = {"identical": ok, **short}
            print(f"{'same' if ok else 'DIFFERENT':>9}  {name}", flush=True)
            if not ok:
                print(f"           old: {o[:300]}\n           new: {n[:300]}", flush=True)
    summary = {"old": a.old, "cases": results, "all_identical": same}
    Path(a.out).write_text(json.dumps(summary, indent=1) + "\n")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
