"""Nearest class mean, class-incremental, on split digits and split Fashion-MNIST.

The reference point every continual learner here is measured against: a model that cannot forget
(each class mean is exact and independent of the others), so its accuracy matrix shows only the
difficulty of telling more classes apart as tasks arrive.
"""

from __future__ import annotations

import numpy as np

from gradfree.baselines import NearestClassMean
from gradfree.continual import run_stream
from gradfree.experiments.common import split_dataset
from gradfree.experiments.plots import accuracy_matrix_heatmap, figure, markdown_table, mean_sd
from gradfree.experiments.registry import ExperimentContext, experiment


@experiment("ncm-split", "Nearest class mean, class-incremental on split digits and split Fashion-MNIST "
            "(5 tasks x 2 classes)", default_seeds=3)
def run(ctx: ExperimentContext) -> dict:
    results: dict = {}
    datasets = ["digits", "fashion-mnist"]
    ctx.expect(len(datasets) * len(ctx.seeds))
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
    fig.tight_layout()  # room for each panel's colour-bar label
    ctx.savefig(fig, "accuracy_matrices")
    ctx.report("## Class-incremental, 5 tasks x 2 classes (mean ± sd over seeds, %)\n\n" + markdown_table(
        ["data set", "average accuracy", "mean forgetting", "BWT"], rows))
    return results
