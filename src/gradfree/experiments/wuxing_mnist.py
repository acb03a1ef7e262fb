"""Wuxing network on (Fashion-)MNIST: the paper's Fig. 2, 3 and 4, adders, and our extensions.

* Fig. 2 - MODEL1 trained by method 1 (fixed points, our reading), method 2 (BSP) and both (mixed;
  method 2's step 25 % of method 1's, as in the paper): test accuracy per epoch.
* Fig. 3 - a backprop MLP with MODEL1's layer sizes and a fixed random mask, link ratio 100 % ->
  0.5 % (``gradfree.baselines.SparseMLPClassifier``; the figure is skipped with a note if missing).
* Fig. 4 - MODEL1 (fill wiring, LR 0.51 %) vs MODEL2 (one_out wiring, LR 0.38 %), BSP.
* Adders - accuracy against fan-in (connections summed per input interface).
* Beyond the paper, on digits with a {64, 200, 62, 20, 10} net: plain BSP vs element-aware wiring,
  backward linearised around the forward trajectory, adders, and exact gradient descent on the same
  wiring (autograd baseline), at the default input scale and at unit input scale.

Data: Fashion-MNIST by default (no MNIST ships with the machines); MNIST when its IDX directory is
given by ``--set data_dir=DIR`` or the environment variable ``GRADFREE_MNIST_DIR``. Budget (the paper
gives none): a full run trains on a random subset of ``n_train`` (default 10,000) training images for
``epochs`` (default 5) and tests on ``n_test`` (default 2,000) test images; override with
``--set n_train=60000 --set epochs=20``; ``--set parts=beyond`` (or ``paper``, ``fig24``,
``fig2-k123``, ``fig3``, ``goal``, comma-separated) runs those parts, ``--set beyond_epochs=40`` sets the
length of the digits comparison. Every curve is checkpointed after each epoch
(:mod:`gradfree.experiments.epoch_units`): a killed run, started again with the same command, resumes
after the last finished epoch.
``--quick`` runs every part on digits with nets scaled down by 784/64, 500 training / 300 test digits
(``--set digits_train=`` / ``digits_test=``) and 3 epochs (< 60 s on a free machine).
"""

from __future__ import annotations

import os

import numpy as np

from gradfree.data import digits_split, load_fashion_mnist, load_mnist
from gradfree.experiments.epoch_units import epoch_unit
from gradfree.experiments.plots import figure, in_order, markdown_table, mean_sd
from gradfree.experiments.registry import ExperimentContext, Option, experiment
from gradfree.wuxing import MODEL1, MODEL2, FixedPointParams, WuxingClassifier

DIGITS_M1 = (64, 200, 62, 20, 10)  # MODEL1 scaled to 64 inputs (fill, fanout auto = 12)
DIGITS_M2 = (64, 250, 84, 28, 10)  # MODEL2 scaled the same way (one_out)
MLP_LINK_RATIOS = [1.0, 0.3, 0.1, 0.05, 0.03, 0.01, 0.005]
#: the stabilised update (our default): backward system linearised around the forward state + trust region
STABILISED = {"backward": "linearised", "max_delta": 0.1}
#: the runs beyond the paper (options against plain BSP; None: the exact-gradient baseline)
BEYOND = {"bsp": {}, "element_aware": {"element_aware": True}, "linearised": {"backward": "linearised"},
          "adders3": {"fan_in": 3}, "stabilised": STABILISED, "default": {"default": True},
          "exact_gradient": None}
#: the curves of Fig. 2 and of the goal comparison, in the order of the tables and legends
FIG2 = ("fixed_point", "bsp", "mixed", "fixed_point-k123", "mixed-k123")  # method 1, 2, mixed
LATE = 10  # the "late" epochs of a curve in the report: the mean over the last LATE (or all, if fewer)
CHANCE_MARGIN = 0.05  # method 1 "trains" when some epoch's test accuracy is above 10 % + this margin
GOAL = ("sparse-mlp", "set-mlp", "wuxing-goal", "logistic-regression")
PAPER = {
    "fig2": "both methods train MODEL1; mixing them improves accuracy further; accuracy plateaus "
            "(no numbers given, curves only)",
    "fig3": "MLP of MODEL1's sizes learns well at high LR, drops sharply below 10 %, much harder below "
            "5 %, almost impossible below 3 %",
    "fig4": "MODEL2 (LR 0.38 %) learns better than MODEL1 (LR 0.51 %)",
    "link": "MODEL1 LR 0.51 %, MODEL2 LR 0.38 %",
    "adders": "proposed as the fix for the low link ratio; not measured in the paper",
}


def _data(ctx: ExperimentContext, seed: int, cfg: dict):
    if cfg["data"] == "digits":
        return _digits(seed, cfg)
    load = load_mnist if cfg["data"] == "mnist" else load_fashion_mnist
    kw = {"data_dir": cfg["data_dir"]} if cfg["data"] == "mnist" else {}
    Xtr, ytr = load("train", **kw)
    Xte, yte = load("test", **kw)
    rng = np.random.default_rng(seed)
    tr = rng.choice(len(ytr), min(cfg["n_train"], len(ytr)), replace=False)
    te = rng.choice(len(yte), min(cfg["n_test"], len(yte)), replace=False)
    return Xtr[tr], Xte[te], ytr[tr], yte[te]


def _digits(seed: int, cfg: dict):
    """Digits split 70/30; quick mode keeps ``digits_train`` / ``digits_test`` of each."""
    Xtr, Xte, ytr, yte = digits_split(seed)
    ntr, nte = cfg.get("digits_train") or len(ytr), cfg.get("digits_test") or len(yte)
    return Xtr[:ntr], Xte[:nte], ytr[:ntr], yte[:nte]


def _config(ctx: ExperimentContext) -> dict:
    opt = ctx.options
    data_dir = opt.get("data_dir") or os.environ.get("GRADFREE_MNIST_DIR")
    if ctx.quick:
        return dict(data="digits", data_dir=None, epochs=3, n_train=None, n_test=None, m1=DIGITS_M1,
                    digits_train=opt.get("digits_train", 500),
                    digits_test=opt.get("digits_test", 300),
                    m2=DIGITS_M2, fan_ins=[1, 3], mlp_epochs=10, beyond_scales=[0.05],
                    beyond_epochs=opt.get("beyond_epochs", 3))
    return dict(data="mnist" if data_dir else "fashion-mnist", data_dir=data_dir,
                epochs=opt.get("epochs", 5), n_train=opt.get("n_train", 10_000),
                n_test=opt.get("n_test", 2_000), m1=MODEL1, m2=MODEL2, fan_ins=[1, 2, 4],
                mlp_epochs=opt.get("mlp_epochs", 5), beyond_epochs=opt.get("beyond_epochs", 20),
                beyond_scales=[0.05, 1.0])


def _curve(ctx: ExperimentContext, key: str, make_model, data, epochs: int, desc: str = "epochs") -> dict:
    """Unit ``key``: train ``make_model()`` epoch by epoch on ``data()`` = (Xtr, ytr, Xte, yte); test
    (and train) accuracy after each epoch. Checkpointed after every epoch, so a killed run resumes there."""
    def train(model) -> None:
        Xtr, ytr, _, _ = data()
        model.partial_fit(Xtr, ytr, classes=np.unique(ytr))

    def evaluate(model) -> dict:
        Xtr, ytr, Xte, yte = data()
        row = {"test": float(model.score(Xte, yte)),
               "train": float(model.score(Xtr[:2000], ytr[:2000]))}  # train accuracy on <= 2,000 images
        ctx.stage(f"{key}: test {row['test']:.3f}")
        return row

    def finish(model, rows: list[dict]) -> dict:
        out = {"test": [r["test"] for r in rows], "train": [r["train"] for r in rows],
               "final_test": rows[-1]["test"]}
        if hasattr(model, "wiring_"):
            out["link_ratio"] = model.wiring_.link_ratio
            out["link_ratios"] = model.wiring_.link_ratios
        return out

    return epoch_unit(ctx, key, make_model, train, evaluate, epochs, finish=finish,
                      samples_per_epoch=len(data()[1]), desc=desc)


def _wuxing(sizes, seed: int, device: str, **kw) -> WuxingClassifier:
    """The paper's configuration (``WuxingClassifier.paper()``: backward system at rest, eq. 3.5's
    update) on ``sizes``; ``kw`` overrides it (our extensions are named options)."""
    wiring = "one_out" if tuple(sizes) in (MODEL2, DIGITS_M2) else "fill"
    fanout = 4 if tuple(sizes) in (MODEL1, MODEL2) else "auto"
    base = dict(hidden_layer_sizes=tuple(sizes[1:-1]), wiring=wiring, fanout=fanout, random_state=seed,
                device=device)
    return WuxingClassifier.paper(**{**base, **kw})


@experiment("wuxing-mnist", "Wuxing network (five-element ODE neurons, BSP): paper Fig. 2-4, adders, "
            "extensions; Fashion-MNIST (MNIST with --set data_dir=)", default_seeds=2, options=(
                Option("data_dir", str, "folder of MNIST IDX files (default: Fashion-MNIST)", mode="full"),
                Option("epochs", int, "epochs of the paper's runs (full mode)", low=1, mode="full"),
                Option("n_train", int, "training images (full mode)", low=1, mode="full"),
                Option("n_test", int, "test images (full mode)", low=1, mode="full"),
                Option("mlp_epochs", int, "epochs of the backprop MLPs (full mode)", low=1, mode="full"),
                Option("beyond_epochs", int, "epochs of the extension runs", low=1),
                Option("digits_train", int, "training digits (--quick)", low=1, mode="quick"),
                Option("digits_test", int, "test digits (--quick)", low=1, mode="quick"),
                Option("goal_epochs", int, "epochs of the goal comparison (default: epochs)", low=1),
                Option("goal_mlp_epochs", int, "epochs of its backprop baselines (default: goal_epochs)",
                       low=1),
                Option("parts", str, "which parts to run (fig24: Fig. 2 (method 1's first reading) and "
                       "Fig. 4 of the paper part only; fig2-k123: Fig. 2 under method 1's second reading; "
                       "fig3: its backprop MLPs only)",
                       choices=("paper", "fig24", "fig2-k123", "fig3", "beyond", "goal"), many=True)),
            report=lambda results, config: report(results, config),
            figures=lambda results, config: figures(results, config))
def run(ctx: ExperimentContext) -> dict:
    """Every curve a unit checkpointed after each epoch; returns the results only."""
    cfg = _config(ctx)
    res: dict = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
                 "fig2": {}, "fig3": {}, "fig4": {}, "adders": {}, "beyond": {}, "notes": []}
    parts = ctx.options.get("parts", ["paper", "beyond", "goal"])  # parsed: a list
    for seed in ctx.progress(ctx.seeds, desc="seeds"):
        if {"paper", "fig24", "fig2-k123", "fig3"} & set(parts):
            _paper_runs(ctx, cfg, seed, res, set(parts))
        if "beyond" in parts:
            _beyond(ctx, cfg, seed, res)
        if "goal" in parts:
            _goal(ctx, cfg, seed, res)
    return res


def _paper_runs(ctx: ExperimentContext, cfg: dict, seed: int, res: dict, parts: set[str]) -> None:
    """Fig. 2, Fig. 4, adders and Fig. 3 for one seed (each run a unit checkpointed after every epoch);
    ``parts`` "paper" runs them all, "fig24" Fig. 2 (first reading) and 4, "fig2-k123" Fig. 2's second
    reading, "fig3" Fig. 3.

    Fig. 2 runs method 1 under both readings (:mod:`gradfree.wuxing.bsp`): ``fixed_point`` / ``mixed``
    move the fixed point through K1 (first reading), ``*-k123`` give K1, K2, K3 separate rules (second).
    """
    cache: list = []
    E, dev = cfg["epochs"], ctx.device

    def data():
        if not cache:
            cache.append(_xy(_data(ctx, seed, cfg)))
        return cache[0]

    def wx(key, sizes, **kw):
        return _curve(ctx, key, lambda: _wuxing(sizes, seed, dev, **kw), data, E)

    if parts & {"paper", "fig24"}:
        # BSP and MODEL2 first (Fig. 4 and method 2), then method 1 and mixed: the order a run cut off
        # across sessions finishes its curves in. results.json sorts its keys, so the order is not in it.
        res["fig2"].setdefault("bsp", []).append(wx(f"fig2-bsp-s{seed}", cfg["m1"], method="bsp"))
        res["fig4"].setdefault("MODEL1", []).append(res["fig2"]["bsp"][-1])  # Fig. 4
        res["fig4"].setdefault("MODEL2", []).append(wx(f"fig4-model2-s{seed}", cfg["m2"]))
        for method in ("fixed_point", "mixed"):  # Fig. 2, method 1 (first reading) and mixed
            r = wx(f"fig2-{method}-s{seed}", cfg["m1"], method=method)
            res["fig2"].setdefault(method, []).append(r)
    if parts & {"paper", "fig2-k123"}:
        for method in ("fixed_point", "mixed"):  # Fig. 2, method 1's second reading
            r = wx(f"fig2-{method}-k123-s{seed}", cfg["m1"], method=method,
                   fixed_point=FixedPointParams(rule="k123"))
            res["fig2"].setdefault(f"{method}-k123", []).append(r)
    if "paper" in parts:
        for f in cfg["fan_ins"]:  # adders, with the stabilised update (our default; the paper's diverges)
            r = wx(f"adders-stab-{f}-s{seed}", cfg["m1"], fan_in=f, **STABILISED)
            res["adders"].setdefault(str(f), []).append(r)
    if not parts & {"paper", "fig3"}:
        return
    try:  # Fig. 3
        from gradfree.baselines import SparseMLPClassifier
    except ImportError:
        res["notes"].append("Fig. 3 skipped: gradfree.baselines.SparseMLPClassifier is not available")
        return
    for lr in MLP_LINK_RATIOS:
        def mlp(lr=lr):
            return SparseMLPClassifier(hidden_layer_sizes=tuple(cfg["m1"][1:-1]), link_ratio=lr, epochs=1,
                                       lr=3e-3, random_state=seed, device=dev)
        r = _curve(ctx, f"fig3-lr{lr}-s{seed}", mlp, data, cfg["mlp_epochs"])
        res["fig3"].setdefault(str(lr), []).append(r)


def _goal(ctx: ExperimentContext, cfg: dict, seed: int, res: dict) -> None:
    """``WuxingClassifier.goal()`` (our extensions, link ratio < 1 %, BSP) against backprop at the same
    link ratio and layer sizes (fixed random mask; SET's prune-and-regrow) and logistic regression."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    from gradfree.baselines import SETMLPClassifier, SparseMLPClassifier
    from gradfree.wuxing import build_wiring

    Xtr, Xte, ytr, yte = _data(ctx, seed, cfg)
    E = ctx.options.get("goal_epochs", cfg["epochs"])
    proto = WuxingClassifier.goal()
    if cfg["data"] == "digits":  # quick: MODEL2 scaled to 64 inputs
        proto.set_params(hidden_layer_sizes=DIGITS_M2[1:-1], fanout="auto")
    sizes = [Xtr.shape[1], *proto.hidden_layer_sizes, 10]
    lr = build_wiring(sizes, mode=proto.wiring, fanout=proto.fanout, fan_in=proto.fan_in).link_ratio
    mlp = dict(hidden_layer_sizes=tuple(sizes[1:-1]), link_ratio=lr, epochs=1, lr=3e-3, random_state=seed,
               device=ctx.device)
    models = {"wuxing-goal": lambda: clone(proto).set_params(random_state=seed, device=ctx.device),
              "sparse-mlp": lambda: SparseMLPClassifier(**mlp), "set-mlp": lambda: SETMLPClassifier(**mlp)}
    Em = ctx.options.get("goal_mlp_epochs", E)
    epochs = {"wuxing-goal": E, "sparse-mlp": Em, "set-mlp": Em}
    for name in ("sparse-mlp", "set-mlp", "wuxing-goal"):  # the long run last
        r = _curve(ctx, f"goal-{name}-s{seed}", models[name], lambda: (Xtr, ytr, Xte, yte), epochs[name],
                   "goal epochs")
        r["link_ratio"] = lr
        res.setdefault("goal", {}).setdefault(name, []).append(r)

    def logreg():
        m = LogisticRegression(max_iter=200).fit(Xtr, ytr)
        return {"final_test": float(m.score(Xte, yte))}

    res["goal"].setdefault("logistic-regression", []).append(ctx.unit(f"goal-logreg-s{seed}", logreg))


def _xy(data):
    Xtr, Xte, ytr, yte = data
    return Xtr, ytr, Xte, yte


def _beyond(ctx: ExperimentContext, cfg: dict, seed: int, res: dict) -> None:
    """Named options beyond the paper against plain BSP, on digits (DIGITS_M1 net)."""
    from gradfree.wuxing.reference import ExactGradientWuxing

    d = _digits(seed, cfg)
    variants = dict(BEYOND)
    if ctx.quick:  # under a minute: the single options are covered by "stabilised" and "default"
        keep = ("bsp", "stabilised", "default", "exact_gradient")
        variants = {k: v for k, v in variants.items() if k in keep}
    for scale in cfg["beyond_scales"]:
        for name, kw in variants.items():
            def one(kw=kw, scale=scale):
                if kw is None:
                    return ExactGradientWuxing.paper(hidden_layer_sizes=DIGITS_M1[1:-1], fanout="auto",
                                                     input_scale=scale, random_state=seed, device=ctx.device)
                if kw.get("default"):  # WuxingClassifier()'s own defaults (stabilised, scaled inputs)
                    return WuxingClassifier(input_scale=scale, random_state=seed, device=ctx.device)
                return _wuxing(DIGITS_M1, seed, ctx.device, input_scale=scale, **kw)
            key = f"beyond-{name}-scale{scale}-s{seed}"
            same = ctx.quick and scale == 0.05 and cfg["beyond_epochs"] == cfg["epochs"]
            if same and name == "bsp":  # the very same run as in the paper part: reuse it
                key = f"fig2-bsp-s{seed}"
            r = _curve(ctx, key, one, lambda: _xy(d), cfg["beyond_epochs"])
            res["beyond"].setdefault(f"{name}@{scale}", []).append(r)
        r = ctx.unit(f"alignment-scale{scale}-s{seed}", lambda scale=scale: _alignment(ctx, d, seed, scale))
        res.setdefault("alignment", {}).setdefault(str(scale), []).append(r)


def _alignment(ctx: ExperimentContext, d, seed: int, scale: float) -> dict:
    """Cosine between each backward pass's update direction and the exact descent direction -dL/dC,
    on 64 held-out digits, after one BSP update on 32 training digits (near the initial network)."""
    from gradfree.wuxing.reference import update_alignment

    Xtr, Xte, ytr, yte = d
    m = _wuxing(DIGITS_M1, seed, ctx.device, input_scale=scale)
    m.partial_fit(Xtr[:32], ytr[:32], classes=np.unique(np.concatenate([ytr, yte])))
    return update_alignment(m, Xte[:64], yte[:64])


def _plot_curves(ax, groups: dict, key: str, title: str) -> None:
    for name, runs in groups.items():
        c = np.mean([r[key] for r in runs], axis=0) * 100
        ax.plot(range(1, len(c) + 1), c, marker="o", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{key} accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def _ordered(res: dict) -> dict:
    """The parts of the results in the order the runs were made (results.json stores its keys sorted)."""
    scales = res["config"].get("beyond_scales") or []
    return {
        "goal": in_order(res.get("goal") or {}, GOAL),
        "fig2": in_order(res["fig2"], FIG2),
        "fig3": in_order(res["fig3"], [str(lr) for lr in MLP_LINK_RATIOS]),
        "fig4": in_order(res["fig4"], ("MODEL1", "MODEL2")),
        "adders": {f: res["adders"][f] for f in sorted(res["adders"], key=float)},
        "beyond": in_order(res["beyond"], [f"{n}@{sc}" for sc in scales for n in BEYOND]),
        "alignment": in_order(res.get("alignment") or {}, [str(sc) for sc in scales]),
        "notes": res["notes"],
    }


def figures(results: dict, config: dict) -> list:
    """The goal's curves, the paper's figures (2, 3, 4, adders) and the runs beyond the paper."""
    res, out = _ordered(results), []
    if res["goal"]:
        fig, ax = figure(1)
        curves = {k: v for k, v in res["goal"].items() if "test" in v[0]}
        lr = next(iter(res["goal"].values()))[0].get("link_ratio", 0.0)
        _plot_curves(ax[0, 0], curves, "test", f"Goal: link ratio {lr * 100:.2f} %, same layer sizes")
        for name, runs in res["goal"].items():
            if "test" not in runs[0]:
                ax[0, 0].axhline(np.mean([r["final_test"] for r in runs]) * 100, ls="--", c="gray", lw=1,
                                 label=name)
        ax[0, 0].legend(fontsize=7)
        out.append(("wuxing_goal", fig))
    if res["fig2"] or res["fig3"]:
        panels = [(res["fig2"], "test", "Fig. 2: MODEL1, method 1 / 2 / mixed")] if res["fig2"] else []
        if res["fig3"]:
            panels.append(({f"LR {float(k) * 100:g} %": v for k, v in res["fig3"].items()}, "train",
                           "Fig. 3: sparse backprop MLP (MODEL1 sizes)"))
        if res["fig4"]:
            panels.append((res["fig4"], "test", "Fig. 4: MODEL1 vs MODEL2 (BSP)"))
        if res["adders"]:
            panels.append(({f"fan-in {f}": v for f, v in res["adders"].items()}, "test",
                           "Adders (MODEL1, stabilised BSP)"))
        fig, ax = figure(len(panels))
        for i, (groups, key, title) in enumerate(panels):
            _plot_curves(ax[0, i], groups, key, title)
        out.append(("wuxing_figures", fig))
    if res["beyond"]:
        fig, ax = figure(1)
        _plot_curves(ax[0, 0], res["beyond"], "test", "Beyond the paper (digits)")
        out.append(("wuxing_beyond", fig))
    return out


def report(results: dict, config: dict) -> str:
    """The goal's table, the paper's figures' table, the runs beyond the paper, the alignment with the
    gradient and the paper's statements, from the results alone."""
    res, cfg, parts = _ordered(results), results["config"], []
    seeds = ", ".join(map(str, config["seeds"]))
    if res["goal"]:
        rows = []
        for name, runs in res["goal"].items():
            t = [r["final_test"] for r in runs]
            best = mean_sd([max(r["test"]) for r in runs]) if "test" in runs[0] else ""
            lr = f"{runs[0]['link_ratio'] * 100:.3f}" if "link_ratio" in runs[0] else "100 (dense)"
            epochs = str(len(runs[0]["test"])) if "test" in runs[0] else "lbfgs"
            rows.append([name, lr, epochs, mean_sd(t), best])
        data = f"{cfg['data']}, {cfg['n_train'] or 'digits'} train / {cfg['n_test'] or ''} test"
        parts.append("## Goal: ``WuxingClassifier.goal()`` against backprop at the same link ratio and "
                     f"sizes ({data}, seeds {seeds})\n\n"
                     + markdown_table(["model", "link ratio (%)", "epochs", "final test accuracy (%)",
                                       "best epoch (%)"], rows))
    if res["fig2"] or res["fig3"]:
        rows = []
        groups_of = (("Fig. 2", res["fig2"]), ("Fig. 4", res["fig4"]), ("adders (fan-in)", res["adders"]))
        curves = [r for _, groups in groups_of for runs in groups.values() for r in runs]
        late = min(LATE, *(len(r["test"]) for r in curves + [r for v in res["fig3"].values() for r in v]))
        for fig, groups in groups_of:
            for name, runs in groups.items():
                rows.append([fig, name, f"{runs[0]['link_ratio'] * 100:.3f}", *_curve_columns(runs, late)])
        for name, runs in res["fig3"].items():
            final, *rest = _curve_columns(runs, late)
            train = mean_sd([r["train"][-1] for r in runs])
            rows.append(["Fig. 3 (MLP)", f"LR {float(name) * 100:g} %", f"{float(name) * 100:g}",
                         f"{final} (train {train})", *rest])
        sub = f", {cfg['n_train']} train / {cfg['n_test']} test images" if cfg["n_train"] else ""
        length = [f"{cfg['epochs']} epochs"] if curves else []
        length += [f"MLPs {cfg['mlp_epochs']} epochs"] if res["fig3"] else []
        parts.append(f"## Wuxing network on {cfg['data']} (seeds {seeds}; {', '.join(length)}{sub})\n\n"
                     + markdown_table(["figure", "run", "link ratio (%)", "final test accuracy (%)",
                                       "best epoch (%)", f"mean of the last {late} epochs (%)"], rows)
                     + _verdicts(res, late))
    if res["beyond"]:
        rows = []
        for name, runs in res["beyond"].items():
            t = np.array([r["test"] for r in runs])  # (seeds, epochs)
            rows.append([name, f"{runs[0]['link_ratio'] * 100:.3f}" if "link_ratio" in runs[0] else "",
                         mean_sd(t[:, -1]), mean_sd(t[:, -5:].mean(axis=1)), mean_sd(t.max(axis=1))])
        parts.append(f"## Beyond the paper: digits, net {list(DIGITS_M1)} (seeds {seeds}; "
                     f"{cfg['beyond_epochs']} epochs; option@input scale)\n\n"
                     + markdown_table(["run", "link ratio (%)", "final test accuracy (%)",
                                       "mean of the last 5 epochs (%)", "best epoch (%)"], rows))
    if res["alignment"]:
        parts.append(_alignment_report(res["alignment"]))
    parts.append("### The paper's statements\n\n" + "\n".join(f"* {k}: {v}" for k, v in PAPER.items())
                 + ("\n\n" + "\n".join(f"* note: {n}" for n in res["notes"]) if res["notes"] else ""))
    return "\n".join(p.rstrip() + "\n" for p in parts)


def _curve_measures(runs: list[dict], late: int) -> dict[str, np.ndarray]:
    """Per seed: final, late (mean of the last ``late`` epochs) and best test accuracy of a curve."""
    t = np.array([r["test"] for r in runs], dtype=float)  # (seeds, epochs)
    return {"final": t[:, -1], "late": t[:, -late:].mean(axis=1), "best": t.max(axis=1)}


def _curve_columns(runs: list[dict], late: int) -> list[str]:
    """Final, best (with its epoch, 1-based, for one seed) and late test accuracy of a curve's runs."""
    m = _curve_measures(runs, late)
    epoch = f" (epoch {int(np.argmax(runs[0]['test'])) + 1})" if len(runs) == 1 else ""
    return [mean_sd(m["final"]), mean_sd(m["best"]) + epoch, mean_sd(m["late"])]


def _verdicts(res: dict, late: int) -> str:
    """The paper's Fig. 2 and Fig. 4 statements checked against these curves (mean over seeds): final
    epoch, mean of the last ``late`` epochs and best epoch."""
    def stats(runs):
        return {k: float(v.mean()) for k, v in _curve_measures(runs, late).items()}

    def compare(a: str, sa: dict, b: str, sb: dict) -> str:
        words = [f"{k} {sa[k] * 100:.2f} % {'>' if sa[k] > sb[k] else '<' if sa[k] < sb[k] else '='} "
                 f"{sb[k] * 100:.2f} %" for k in ("final", "late", "best")]
        held = sum(sa[k] > sb[k] for k in ("final", "late", "best"))
        return f"{a} above {b} on {held} of 3 measures ({'; '.join(words)})"

    fig2, fig4, lines = res["fig2"], res["fig4"], []
    if "bsp" in fig2:
        bsp, chance = stats(fig2["bsp"]), 0.1 + CHANCE_MARGIN
        for m1 in ("fixed_point", "fixed_point-k123"):
            if m1 in fig2:
                s = stats(fig2[m1])
                trains = max(s.values()) > chance
                lines.append(f"Fig. 2, method 1 ({m1}): {'trains' if trains else 'does not train'} "
                             f"(best epoch {s['best'] * 100:.1f} %, chance 10 %)")
        for mixed in ("mixed", "mixed-k123"):
            if mixed in fig2:
                lines.append(f"Fig. 2, mixing ({mixed}): " + compare(mixed, stats(fig2[mixed]), "bsp", bsp))
    if {"MODEL1", "MODEL2"} <= set(fig4):
        lines.append("Fig. 4: " + compare("MODEL2", stats(fig4["MODEL2"]), "MODEL1", stats(fig4["MODEL1"])))
    if not lines:
        return ""
    return (f"\n### Against the paper's statements (final epoch, mean of the last {late} epochs, best "
            "epoch)\n\n" + "\n".join(f"* {line}" for line in lines) + "\n")


def _alignment_report(alignment: dict) -> str:
    cos = lambda runs, k: f"{np.mean([r[k] for r in runs]):.3f} ± {np.std([r[k] for r in runs]):.3f}"  # noqa: E731
    rows = [[f"{float(sc):g}", cos(runs, "rest"), cos(runs, "linearised")] for sc, runs in alignment.items()]
    return ("### Alignment with the gradient\n\nCosine between the update direction (eq. 3.3, batch mean, "
            "before the atan limit) and the exact descent direction -dL/dC (autograd through the same Euler "
            "integration), on 64 held-out digits after one BSP update on 32 digits (mean ± sd over "
            "seeds):\n\n" + markdown_table(["input scale", "BSP (backward system at rest, eq. 2.5)",
                                             "backward linearised around the forward state"], rows))
