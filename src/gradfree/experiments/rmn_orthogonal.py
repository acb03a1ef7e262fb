"""The RMN paper's experiment: class-incremental learning of 10 orthogonal clusters in 5 tasks of 2.

Setup (paper, section "Experiment Design"): 100-d input, 1000 neurons, k = 5 %, 10 clusters on
orthogonal directions, tasks {1,2}, {3,4}, ..., {9,10}, no replay, no task id. Decisions the paper
leaves open: 300 samples per cluster (200 train / 100 test), ``spread = 0.05``, the training set is
shuffled once and keeps that order inside each task, every other hyper-parameter is
:meth:`~gradfree.rmn.RMNClassifier.paper`'s (homeostasis after every sample, as the paper states
it). Variants: read-out {simple, overcomplete} x homeostasis {on, off}; each (variant, seed) is one
checkpointed unit.

Metrics: ``R[t, u]`` accuracy matrix (class-incremental); average accuracy (last row); task-1 final
accuracy ``R[T, 1]`` and task-1 forgetting ``max_t R[t, 1] - R[T, 1]`` (the paper's "forgetting");
dead neurons, neuron overlap and the task x neuron activation frequency as defined in
:mod:`gradfree.rmn.analysis` (winner sets measured on each task's test data after the last task);
the class-binding distribution (prototypes bound per class).
"""

from __future__ import annotations

import numpy as np

from gradfree.continual import class_incremental, run_stream
from gradfree.data import orthogonal_manifolds
from gradfree.experiments.plots import figure, in_order, markdown_table, mean_sd
from gradfree.experiments.registry import ExperimentContext, experiment
from gradfree.rmn import RMNClassifier, dead_neurons, neuron_overlap, task_activation_frequency

VARIANTS = {  # name -> RMNClassifier overrides
    "simple+homeostasis": dict(readout="simple"),  # the paper's homeostasis, after every sample
    "simple, no homeostasis": dict(readout="simple", homeostasis=None),
    "overcomplete+homeostasis": dict(readout="overcomplete"),
    "overcomplete, no homeostasis": dict(readout="overcomplete", homeostasis=None),
}

PAPER = {  # numbers the paper reports ("Experimental Results"), set beside ours, never tuned to
    "simple": {"task1_final": 6.6, "task1_forgetting": 93.4, "average": 24.5},
    "overcomplete": {"task1_final": 100.0, "task1_forgetting": 0.0, "average": 100.0},
    "homeostasis": {"average": 95.2, "task1_forgetting": 7.4, "dead": 792},
    "no homeostasis": {"average": 100.0, "dead": 437},
    "overlap_adjacent": [4.7, 0.8, 1.3, 0.4], "overlap_mean": 6.4,
    "binding": [19, 20, 4, 9, 6, 5, 2, 2, 3, 5],
}


COSINES = (0.3, 0.6)  # extra: every pair of centres at this cosine (how isolation degrades)
CONSOLIDATING = "RMN-consolidating (ours)"
NON_ORTHOGONAL = ("simple+homeostasis", "overcomplete+homeostasis", CONSOLIDATING)


def make_streams(seed: int, quick: bool, cosine: float = 0.0):
    """Train/test task streams from one draw of the orthogonal manifolds, and the cluster centres."""
    n_train, n_test = (100, 50) if quick else (200, 100)
    X, y, centres = orthogonal_manifolds(n_clusters=10, dim=100, n_per_cluster=n_train + n_test,
                                         spread=0.05, cosine=cosine, random_state=seed)
    rng = np.random.default_rng(seed)
    within = np.tile(np.arange(n_train + n_test), 10)
    train = np.flatnonzero(within < n_train)
    test = np.flatnonzero(within >= n_train)
    train = rng.permutation(train)
    return class_incremental(X[train], y[train]), class_incremental(X[test], y[test]), centres


def run_variant(name: str, seed: int, quick: bool, device: str, cosine: float = 0.0) -> dict:
    train, test, _ = make_streams(seed, quick, cosine)
    model = (RMNClassifier.consolidating(random_state=seed, device=device) if name == CONSOLIDATING
             else RMNClassifier.paper(**VARIANTS[name], random_state=seed, device=device))
    res = run_stream(model, train, test, progress=False)
    model = res.model
    freq = task_activation_frequency(model, [t.X for t in test])
    out = res.to_dict()  # task1_final and task1_forgetting among the metrics derived from R
    out.update(dead_neurons=dead_neurons(freq), overlap=neuron_overlap(freq),
               binding=model.binding_distribution().tolist(),
               activation_frequency=np.round(freq, 4).tolist())
    return out


@experiment("rmn-orthogonal", "RMN paper: 10 orthogonal clusters, 5 tasks x 2 classes, class-incremental; "
            "{simple, overcomplete} read-out x homeostasis {on, off}", default_seeds=5,
            report=lambda results, config: _report(results, config),
            figures=lambda results, config: _figures(results, config))
def run(ctx: ExperimentContext) -> dict:
    results: dict = {"variants": {}, "paper": PAPER}
    cos_seeds = ctx.first_seeds(2) if ctx.quick else ctx.seeds
    ctx.expect(len(VARIANTS) * len(ctx.seeds) + len(COSINES) * 3 * len(cos_seeds))
    for name in ctx.progress(list(VARIANTS), desc="variants"):
        results["variants"][name] = [
            ctx.unit(f"{name}-seed{seed}", lambda name=name, seed=seed: run_variant(name, seed, ctx.quick,
                                                                                     ctx.device))
            for seed in ctx.seeds]
    for seed in ctx.first_seeds(1):  # the first seed's clusters (not a unit: computed in no time)
        _, _, centres = make_streams(seed, ctx.quick)
        results["cluster_similarity"] = np.round(centres @ centres.T, 6).tolist()
    results["non_orthogonal"] = {
        f"cosine {c}": {name: [ctx.unit(f"cos{c}-{name}-seed{seed}",
                                        lambda c=c, name=name, seed=seed: _slim(run_variant(
                                            name, seed, ctx.quick, ctx.device, cosine=c)))
                               for seed in cos_seeds]
                        for name in NON_ORTHOGONAL}
        for c in COSINES}
    return results


def _slim(r: dict) -> dict:
    return {k: v for k, v in r.items() if k != "activation_frequency"}


# ---------------------------------------------------------------------------------------------- report
def _stat(runs: list[dict], key: str, scale: float = 1.0) -> np.ndarray:
    return np.array([r[key] for r in runs], dtype=float) * scale


def _report(results: dict, config: dict) -> str:
    """The report's body (tables and verdicts), from the results alone."""
    parts: list[str] = []
    V, P = in_order(results["variants"], VARIANTS), PAPER
    rows = []
    for name, runs in V.items():
        paper = P["simple"] if name.startswith("simple") else P["overcomplete"]
        hom = P["homeostasis"] if "+homeostasis" in name else P["no homeostasis"]
        paper_avg = hom["average"] if name.startswith("overcomplete") else paper["average"]
        rows.append([name, mean_sd(_stat(runs, "average_accuracy")), paper_avg,
                     mean_sd(_stat(runs, "task1_final")), paper["task1_final"],
                     mean_sd(_stat(runs, "task1_forgetting")),
                     hom.get("task1_forgetting", paper["task1_forgetting"]) if name.startswith("over")
                     else paper["task1_forgetting"],
                     f"{_stat(runs, 'dead_neurons').mean():.0f} ± {_stat(runs, 'dead_neurons').std():.0f}",
                     hom["dead"]])
    parts.append(f"## RMN on orthogonal manifolds ({len(config['seeds'])} seeds, mean ± sd, %)\n\n"
               "Paper columns: the simple read-out rows take the paper's 'initial results'; the "
               "overcomplete rows take its homeostasis table for average accuracy and dead neurons "
               "(the paper does not say which read-out that table used).\n\n" + markdown_table(
                   ["variant", "avg acc", "paper", "task-1 final", "paper", "task-1 forgetting", "paper",
                    "dead neurons", "paper"], rows))
    parts.append(_verdicts(V))
    orows = []
    for name, runs in V.items():
        adj = np.array([r["overlap"]["adjacent"] for r in runs]) * 100
        orows.append([name, *[f"{m:.1f} ± {s:.1f}" for m, s in zip(adj.mean(0), adj.std(0))],
                      mean_sd(_stat([r["overlap"] for r in runs], "mean"))])
    orows.append(["paper", *P["overlap_adjacent"], P["overlap_mean"]])
    parts.append("### Neuron overlap (Jaccard of winner sets on test data, %)\n\n" + markdown_table(
        ["variant", "T1∩T2", "T2∩T3", "T3∩T4", "T4∩T5", "mean (all pairs)"], orows))
    brows = [[name, " ".join(f"{v:.1f}" for v in np.mean([r["binding"] for r in runs], axis=0))]
             for name, runs in V.items() if name.startswith("overcomplete")]
    brows.append(["paper", " ".join(map(str, P["binding"]))])
    parts.append("### Class-binding distribution (prototypes per class 0..9, mean over seeds)\n\n"
               + markdown_table(["variant", "bound prototypes"], brows))
    crows = [[cos, name, mean_sd(_stat(runs, "average_accuracy")), mean_sd(_stat(runs, "task1_forgetting")),
              mean_sd(_stat([r["overlap"] for r in runs], "mean"))]
             for cos, by_name in results["non_orthogonal"].items()
             for name, runs in in_order(by_name, NON_ORTHOGONAL).items()]
    parts.append("### Beyond the paper: clusters at a shared cosine (our addition)\n\n"
               "Every pair of centres at the given cosine instead of 0 (same spread and sizes).\n\n"
               + markdown_table(["centres", "variant", "avg acc", "task-1 forgetting", "mean overlap"],
                                crows))
    return "\n".join(p.rstrip() + "\n" for p in parts)


def _verdicts(V: dict) -> str:
    """The paper's two claims about forgetting and homeostasis, re-stated from this run's numbers."""
    def m(name: str, key: str) -> tuple[float, float]:
        v = _stat(V[name], key, 100.0)
        return v.mean(), v.std()

    sf, sf_sd = m("simple+homeostasis", "task1_forgetting")
    sn, sn_sd = m("simple, no homeostasis", "task1_forgetting")
    oh, oh_sd = m("overcomplete+homeostasis", "average_accuracy")
    on, on_sd = m("overcomplete, no homeostasis", "average_accuracy")
    sa, _ = m("simple+homeostasis", "average_accuracy")
    forget = ("reproduced" if sf >= 80 else "partly reproduced" if sf >= 40 else "not reproduced")
    hom = ("reproduced (homeostasis costs accuracy)" if on - oh > max(oh_sd, on_sd, 1.0)
           else "not reproduced (no clear difference)" if abs(on - oh) <= max(oh_sd, on_sd, 1.0)
           else "reversed (homeostasis helps)")
    return ("### Verdicts (from this run)\n\n"
            f"- Simple read-out forgets task 1: forgetting {sf:.1f} ± {sf_sd:.1f} % with homeostasis "
            f"({sn:.1f} ± {sn_sd:.1f} % without), average accuracy {sa:.1f} %; paper 93.4 % forgetting, "
            f"24.5 % average: {forget}.\n"
            f"- Homeostasis on/off (overcomplete read-out): {oh:.1f} ± {oh_sd:.1f} % vs "
            f"{on:.1f} ± {on_sd:.1f} % average accuracy; paper 95.2 % vs 100 %: {hom}.\n")


def _err(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Asymmetric error bars (mean ± sd along axis 0) clipped to the metric's range [lo, hi]."""
    mean, sd = v.mean(0), v.std(0)
    return np.array([mean - np.maximum(mean - sd, lo), np.minimum(mean + sd, hi) - mean])


def _figures(results: dict, config: dict) -> list:
    """Every figure the paper shows (and ours), from the results alone."""
    figs: list = []
    V = in_order(results["variants"], VARIANTS)
    names = list(V)
    # 1. cluster similarity
    fig, ax = figure()
    S = np.array(results["cluster_similarity"])
    im = ax[0, 0].imshow(S, vmin=-1, vmax=1, cmap="RdBu_r")
    off = np.abs(S - np.diag(np.diag(S))).max()
    ax[0, 0].set_title(f"cluster centre cosine (max off-diagonal {off:.1e})", fontsize=9)
    ax[0, 0].set_xlabel("cluster (index)")
    ax[0, 0].set_ylabel("cluster (index)")
    fig.colorbar(im, ax=ax[0, 0], fraction=0.046).set_label("cosine similarity (unitless)")
    figs.append(("cluster_similarity", fig))
    # 2. per-task final accuracy and the task-1 forgetting curve (%), legend below the panels
    fig, ax = figure(2, size=(7, 3.8))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        last = 100 * np.array([np.array(r["R"])[-1] for r in V[name]])
        ax[0, 0].bar(np.arange(5) + i * width, last.mean(0), width, yerr=_err(last, 0, 100), label=name,
                     capsize=2)
        curve = 100 * np.array([np.array(r["R"])[:, 0] for r in V[name]])
        ax[0, 1].errorbar(np.arange(1, 6), curve.mean(0), yerr=_err(curve, 0, 100), marker="o", capsize=3)
    ax[0, 0].set_xticks(np.arange(5) + 0.4 - width / 2, [f"T{t + 1}" for t in range(5)])
    ax[0, 0].set_xlabel("task")
    ax[0, 0].set_ylabel("accuracy after the last task (%)")
    ax[0, 0].set_ylim(0, 105)
    ax[0, 1].set_xticks(range(1, 6))
    ax[0, 1].set_xlabel("after training task (number)")
    ax[0, 1].set_ylabel("task-1 accuracy (%)")
    ax[0, 1].set_ylim(-2, 105)
    fig.legend(*ax[0, 0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=7,
               frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    figs.append(("continual_results", fig))
    # 3. task x neuron activation heat-map (first seed of the paper's final variant), neurons grouped
    freq = np.array(V["overcomplete+homeostasis"][0]["activation_frequency"])
    order = np.lexsort((-freq.max(0), freq.argmax(0) + 10 * (freq.max(0) == 0)))
    fig, ax = figure(size=(10, 2.6))
    im = ax[0, 0].imshow(100 * freq[:, order], aspect="auto", cmap="magma", interpolation="nearest")
    ax[0, 0].set_yticks(range(5), [f"T{t + 1}" for t in range(5)])
    ax[0, 0].set_ylabel("task")
    ax[0, 0].set_xlabel("neuron (sorted by preferred task; never-winning neurons last)")
    ax[0, 0].set_title("activation frequency per task (overcomplete + homeostasis, first seed)", fontsize=9)
    fig.colorbar(im, ax=ax[0, 0], fraction=0.02).set_label("wins (% of the task's test samples)")
    figs.append(("neuron_activation_heatmap", fig))
    # 4. homeostasis comparison (paper as black crosses; legend below the panels)
    fig, ax = figure(2, size=(5.5, 3.6))
    pair = ["overcomplete+homeostasis", "overcomplete, no homeostasis"]
    n_neurons = len(V[pair[0]][0]["activation_frequency"][0])
    for j, (key, label, unit, scale, paper, hi) in enumerate([
            ("average_accuracy", "final average accuracy", "%", 100.0, [95.2, 100.0], 100.0),
            ("dead_neurons", "dead neurons", "neurons (count)", 1.0, [792, 437], float(n_neurons))]):
        vals = np.stack([_stat(V[p], key, scale) for p in pair], axis=1)
        ax[0, j].bar([0, 1], vals.mean(0), yerr=_err(vals, 0, hi), color=["C2", "C3"], label="ours",
                     capsize=3)
        ax[0, j].scatter([0, 1], paper, color="k", marker="x", zorder=3, label="paper")
        ax[0, j].set_xticks([0, 1], ["with", "without"])
        ax[0, j].set_xlabel("homeostasis")
        ax[0, j].set_ylabel(unit)
        ax[0, j].set_ylim(0, hi * 1.08)
        ax[0, j].set_title(label, fontsize=9)
    fig.legend(*ax[0, 0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    figs.append(("homeostasis_comparison", fig))
    # 5. summary panel
    fig, ax = figure(2, 2, size=(6.5, 5.2))
    short = [n.replace("overcomplete", "over").replace(", no homeostasis", " -H")
             .replace("+homeostasis", " +H") for n in names]
    acc = np.stack([_stat(V[n], "average_accuracy", 100.0) for n in names], axis=1)
    ax[0, 0].bar(short, acc.mean(0), yerr=_err(acc, 0, 100), capsize=3)
    ax[0, 0].set_title("average accuracy after 5 tasks", fontsize=9)
    ax[0, 0].set_ylabel("%")
    ax[0, 0].set_ylim(0, 105)
    fgt = np.stack([_stat(V[n], "task1_forgetting", 100.0) for n in names], axis=1)
    ax[0, 1].bar(short, fgt.mean(0), yerr=_err(fgt, 0, 100), color="C1", capsize=3)
    ax[0, 1].set_title("task-1 forgetting", fontsize=9)
    ax[0, 1].set_ylabel("percentage points")
    ax[0, 1].set_ylim(0, 105)
    for a in ax[0]:
        a.set_xlabel("variant (H: homeostasis)", fontsize=8)
    adj = np.array([r["overlap"]["adjacent"] for r in V["overcomplete+homeostasis"]]) * 100
    ax[1, 0].bar(["1-2", "2-3", "3-4", "4-5"], adj.mean(0), yerr=_err(adj, 0, 100), color="C2", label="ours",
                 capsize=3)
    ax[1, 0].scatter(range(4), PAPER["overlap_adjacent"], color="k", marker="x", label="paper", zorder=3)
    ax[1, 0].set_title("neuron overlap, adjacent tasks", fontsize=9)
    ax[1, 0].set_xlabel("task pair")
    ax[1, 0].set_ylabel("Jaccard overlap (%)")
    bind = np.array([r["binding"] for r in V["overcomplete+homeostasis"]])
    ax[1, 1].bar(range(10), bind.mean(0), yerr=_err(bind, 0, float(bind.sum(1).max())), color="C4",
                 label="ours", capsize=2)
    ax[1, 1].scatter(range(10), PAPER["binding"], color="k", marker="x", label="paper", zorder=3)
    ax[1, 1].set_title("prototypes bound per class", fontsize=9)
    ax[1, 1].set_xlabel("class")
    ax[1, 1].set_ylabel("prototypes (count)")
    for a in ax[0]:
        a.tick_params(axis="x", labelsize=7, rotation=20)
    fig.legend(*ax[1, 0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    figs.append(("summary", fig))
    return figs
