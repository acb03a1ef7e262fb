"""RMN on real data: class-incremental split digits and split Fashion-MNIST (5 tasks x 2 classes).

No replay, no task id at test time. Rows:

* ``RMN (paper)`` - :class:`~gradfree.rmn.RMNClassifier` with the paper's defaults, raw pixels;
* ``RMN (paper, centred)`` - the same with ``center_inputs=True`` (the first task's mean, frozen);
* ``RMN-consolidating (ours)`` - the named extension :meth:`RMNClassifier.consolidating` (sparse-code
  read-out, per-class prototype cap with recruitment, use-dependent plasticity, no homeostasis);
* ``RMN-consolidating, frozen neurons (ours)`` - the same with ``eta=0``: neurons stay random unit
  vectors, only the read-out learns (measures what Hebbian erosion adds);
* ``NCM`` - nearest class mean (cannot forget; the reference);
* ``MLP sequential`` - backprop MLP fine-tuned task by task (the forgetting lower bound);
* ``MLP joint`` - the same MLP trained on all tasks at once (upper bound; one row, no matrix).

A full run adds an ablation of the consolidating preset (one piece changed at a time, first seed).

Fashion-MNIST uses the full 60k/10k split (quick mode: 4000/1000 random samples and the first seed
only); digits a stratified 70/30 split per seed; the training stream is shuffled once per seed.
Every (data set, model, seed) is one checkpointed unit.
"""

from __future__ import annotations

import numpy as np

from gradfree.baselines import NearestClassMean
from gradfree.continual import run_stream, task_accuracy
from gradfree.experiments import common
from gradfree.experiments.plots import accuracy_matrix_heatmap, figure, markdown_table, mean_sd
from gradfree.experiments.registry import ExperimentContext, experiment
from gradfree.rmn import RMNClassifier

DATASETS = ["digits", "fashion-mnist"]
STREAM_MODELS = ["RMN (paper)", "RMN (paper, centred)", "RMN-consolidating (ours)",
                 "RMN-consolidating, frozen neurons (ours)", "NCM", "MLP sequential"]


def split_dataset(name: str, seed: int, quick: bool):
    """Train/test task streams (5 tasks x 2 classes); quick Fashion-MNIST: 4000/1000, stream shuffled."""
    return common.split_dataset(name, seed, quick, quick_sizes=(4000, 1000), shuffle=True)


def _mlp(seed: int, device: str, epochs: int):
    try:
        from gradfree.baselines import MLPClassifier
    except ImportError:  # pragma: no cover - the baseline ships with gradfree; kept for partial installs
        return None
    return MLPClassifier(hidden_layer_sizes=(256,), epochs=epochs, lr=1e-3, batch_size=128,
                         random_state=seed, device=device)


def make_model(name: str, seed: int, device: str, dataset: str, quick: bool = False):
    epochs = (10 if dataset == "digits" else 2) // (2 if quick else 1)  # MLP passes per task
    return {
        "RMN (paper)": lambda: RMNClassifier(random_state=seed, device=device),
        "RMN (paper, centred)": lambda: RMNClassifier(center_inputs=True, random_state=seed, device=device),
        "RMN-consolidating (ours)": lambda: RMNClassifier.consolidating(random_state=seed, device=device),
        "RMN-consolidating, frozen neurons (ours)": lambda: RMNClassifier.consolidating(
            eta=0.0, random_state=seed, device=device),
        "NCM": lambda: NearestClassMean(device=device),
        "MLP sequential": lambda: _mlp(seed, device, epochs),
        "MLP joint": lambda: _mlp(seed, device, epochs),
    }[name]()


ABLATION = {  # the consolidating preset with one piece changed (full Fashion-MNIST, first seed)
    "preset": {},
    "homeostasis on": dict(homeostasis=True),
    "no plasticity decay": dict(plasticity_decay=0.0),
    "eta 0.05 (our paper default)": dict(eta=0.05),
    "y hand-off instead of code": dict(representation="y"),
    "no prototype cap": dict(prototype_cap=None),
    "greedy top-5 binding (paper rule, cap kept)": dict(recruit_threshold=None, pull_k=None, vote_k=5),
}


def run_ablation(key: str, seed: int, device: str) -> dict:
    train, test = split_dataset("fashion-mnist", seed, False)
    model = RMNClassifier.consolidating(**ABLATION[key], random_state=seed, device=device)
    return run_stream(model, train, test, progress=False).to_dict()


def run_one(dataset: str, name: str, seed: int, quick: bool, device: str) -> dict | None:
    train, test = split_dataset(dataset, seed, quick)
    model = make_model(name, seed, device, dataset, quick)
    if model is None:
        return None
    if name == "MLP joint":
        X = np.concatenate([t.X for t in train])
        y = np.concatenate([t.y for t in train])
        model.fit(X, y)
        last = [task_accuracy(model, t) for t in test]
        return {"R": [last], "average_accuracy": float(np.mean(last)), "mean_forgetting": 0.0, "bwt": 0.0}
    out = run_stream(model, train, test, progress=False).to_dict()
    if hasattr(model, "binding_distribution"):
        out["binding"] = model.binding_distribution().tolist()
    return out


@experiment("rmn-split", "RMN class-incremental on split digits and split Fashion-MNIST beside NCM and "
            "backprop MLP (sequential / joint)", default_seeds=3)
def run(ctx: ExperimentContext) -> dict:
    results: dict = {}
    names = [*STREAM_MODELS, "MLP joint"]
    seeds = ctx.seeds[:1] if ctx.quick else ctx.seeds   # quick mode: one seed, to stay under a minute
    for ds in ctx.progress(DATASETS, desc="datasets"):
        results[ds] = {}
        for name in names:
            runs = [ctx.unit(f"{ds}-{name}-seed{seed}",
                             lambda ds=ds, name=name, seed=seed: run_one(ds, name, seed, ctx.quick,
                                                                         ctx.device))
                    for seed in seeds]
            results[ds][name] = [r for r in runs if r is not None]
    fig, axes = figure(len(STREAM_MODELS), len(DATASETS), size=(3.6, 3.2))
    rows, notes = [], []
    for i, ds in enumerate(DATASETS):
        for j, name in enumerate(names):
            runs = results[ds][name]
            if not runs:
                notes.append(f"- {name} on {ds}: skipped (baseline not available)")
                continue
            if name != "MLP joint":
                accuracy_matrix_heatmap(axes[i, j], np.mean([r["R"] for r in runs], axis=0), f"{name}\n{ds}")
            rows.append([ds, name, mean_sd([r["average_accuracy"] for r in runs]),
                         mean_sd([r["mean_forgetting"] for r in runs]) if name != "MLP joint" else "-",
                         mean_sd([r["bwt"] for r in runs]) if name != "MLP joint" else "-"])
    fig.tight_layout()
    ctx.savefig(fig, "accuracy_matrices")
    ctx.report(f"## Class-incremental, 5 tasks x 2 classes, no replay, no task id (seeds {seeds}, "
               "mean ± sd, %)\n\n" + markdown_table(
                   ["data set", "model", "average accuracy", "mean forgetting", "BWT"], rows)
               + ("\n" + "\n".join(notes) + "\n" if notes else "")
               + "\nGoal of issue 4 for the extension: >= 80 % average accuracy on the full split "
               "Fashion-MNIST (class-incremental, no replay, no task id); the prototype that motivated it "
               "reached ~78 % on a 12k subset against 67.7 % for NCM.\n")
    brows = [[ds, name, " ".join(f"{v:.0f}" for v in np.mean([r["binding"] for r in runs], axis=0))]
             for ds in DATASETS for name, runs in results[ds].items() if runs and "binding" in runs[0]]
    ctx.report("### Prototypes bound per class 0..9 after the last task (mean over seeds)\n\n"
               "The paper's greedy binding lets the first tasks take the pool (centred rows: the last "
               "classes bind none); the consolidating read-out caps every class.\n\n"
               + markdown_table(["data set", "model", "bound prototypes"], brows))
    if not ctx.quick:
        seed = ctx.seeds[0]
        results["ablation"] = {key: ctx.unit(f"ablation-{key}-seed{seed}",
                                             lambda key=key: run_ablation(key, seed, ctx.device))
                               for key in ctx.progress(list(ABLATION), desc="ablation")}
        arows = [[key, f"{100 * r['average_accuracy']:.1f}", f"{100 * r['mean_forgetting']:.1f}"]
                 for key, r in results["ablation"].items()]
        ctx.report(f"### Ablation of RMN-consolidating on full split Fashion-MNIST (seed {seed}, %)\n\n"
                   + markdown_table(["change to the preset", "average accuracy", "mean forgetting"], arows))
    return results
