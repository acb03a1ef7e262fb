"""Nearest class mean, class-incremental, on split digits and split Fashion-MNIST.

The reference point every continual learner here is measured against: a model that cannot forget
(each class mean is exact and independent of the others), so its accuracy matrix shows only the
difficulty of telling more classes apart as tasks arrive.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from gradfree.baselines import NearestClassMean
from gradfree.continual import class_incremental, run_stream
from gradfree.data import load_digits, load_fashion_mnist
from gradfree.experiments.plots import accuracy_matrix_heatmap, figure, markdown_table, mean_sd
from gradfree.experiments.registry import ExperimentContext, experiment


def split_dataset(name: str, seed: int, quick: bool):
    """Train/test task streams (5 tasks x 2 classes) of a data set; quick mode subsamples Fashion-MNIST."""
    if name == "digits":
        X, y = load_digits()
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    else:
        Xtr, ytr = load_fashion_mnist("train")
        Xte, yte = load_fashion_mnist("test")
        if quick:
            rng = np.random.default_rng(seed)
            tr, te = rng.choice(len(ytr), 6000, replace=False), rng.choice(len(yte), 2000, replace=False)
            Xtr, ytr, Xte, yte = Xtr[tr], ytr[tr], Xte[te], yte[te]
    return class_incremental(Xtr, ytr), class_incremental(Xte, yte)


@experiment("ncm-split", "Nearest class mean, class-incremental on split digits and split Fashion-MNIST "
            "(5 tasks x 2 classes)", default_seeds=3)
def run(ctx: ExperimentContext) -> dict:
    results: dict = {}
    datasets = ["digits", "fashion-mnist"]
    for ds in ctx.progress(datasets, desc="datasets"):
        runs = []
        for seed in ctx.seeds:
            def one(ds=ds, seed=seed):
                train, test = split_dataset(ds, seed, ctx.quick)
                return run_stream(NearestClassMean(device=ctx.device), train, test, progress=False,
                                  checkpoint_dir=ctx.checkpoint_dir(f"{ds}-seed{seed}")).to_dict()
            runs.append(ctx.unit(f"{ds}-seed{seed}", one))
        results[ds] = runs
    fig, axes = figure(len(datasets))
    rows = []
    for ax, ds in zip(axes[0], datasets):
        runs = results[ds]
        accuracy_matrix_heatmap(ax, np.mean([r["R"] for r in runs], axis=0), f"NCM, split {ds}")
        rows.append([ds, mean_sd([r["average_accuracy"] for r in runs]),
                     mean_sd([r["mean_forgetting"] for r in runs]), mean_sd([r["bwt"] for r in runs])])
    ctx.savefig(fig, "accuracy_matrices")
    ctx.report("## Class-incremental, 5 tasks x 2 classes (mean ± sd over seeds, %)\n\n" + markdown_table(
        ["data set", "average accuracy", "mean forgetting", "BWT"], rows))
    return results
