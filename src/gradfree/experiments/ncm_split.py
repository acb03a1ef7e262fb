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

DATASETS = ["digits", "fashion-mnist"]


def report(results: dict, config: dict) -> str:
    """The report's body, from the results alone."""
    rows = [[ds, mean_sd([r["average_accuracy"] for r in results[ds]]),
             mean_sd([r["mean_forgetting"] for r in results[ds]]), mean_sd([r["bwt"] for r in results[ds]])]
            for ds in DATASETS]
    return ("## Class-incremental, 5 tasks x 2 classes (mean ± sd over seeds, %)\n\n"
            + markdown_table(["data set", "average accuracy", "mean forgetting", "BWT"], rows))


def figures(results: dict, config: dict) -> list:
    """The accuracy matrices (mean over seeds), from the results alone."""
    fig, axes = figure(len(DATASETS))
    for ax, ds in zip(axes[0], DATASETS):
        accuracy_matrix_heatmap(ax, np.mean([r["R"] for r in results[ds]], axis=0), f"NCM, split {ds}")
    fig.tight_layout()  # room for each panel's colour-bar label
    return [("accuracy_matrices", fig)]


@experiment("ncm-split", "Nearest class mean, class-incremental on split digits and split Fashion-MNIST "
            "(5 tasks x 2 classes)", default_seeds=3, report=report, figures=figures)
def run(ctx: ExperimentContext) -> dict:
    """One checkpointed unit per (data set, seed); returns the results only."""
    results: dict = {}
    ctx.expect(len(DATASETS) * len(ctx.seeds))
    for ds in ctx.progress(DATASETS, desc="datasets"):
        runs = []
        for seed in ctx.seeds:
            def one(ds=ds, seed=seed):
                train, test = split_dataset(ds, seed, ctx.quick)
                return run_stream(NearestClassMean(device=ctx.device), train, test, progress=False,
                                  checkpoint_dir=ctx.checkpoint_dir(f"{ds}-seed{seed}")).to_dict()
            runs.append(ctx.unit(f"{ds}-seed{seed}", one))
        results[ds] = runs
    return results
