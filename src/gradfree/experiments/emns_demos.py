"""EMNS demos: the paper's and the reference's tasks under every selection strategy, on held-out data.

Demos (``gradfree.data``): the reference regression (``0.5 tanh(sin x0 + 0.5 cos x1 + 0.2 tanh x2)``
+ noise 0.1, [3, 8, 5, 1]), the paper's regression (``sin x1 + 0.5 cos x2``, [2, 8, 4, 1]), the
reference classification (``x1 + x2 > 0``, [2, 8, 4, 1]) and the continual pair (task 1
``0.5 tanh(sin x1)``, task 2 ``0.5 tanh(cos x2)``, [2, 6, 1]; retention = task-1 MSE after task 2).
Test sets are fresh draws (another seed) of the same generator.

Strategies: ``none`` (the paper: every mutation kept, paper preset), ``revert`` (the reference's hill
climber with its preset), ``plus`` ((1+8), success rule, self-adaptive resistances, mu >= 0.01),
``comma`` ((4,16), same options, resistances <= 0.95: with r = 1 reachable every parameter can
freeze, all candidates tie and the success rule then drives mu to its bound) and ``recombine``
(``gradfree.emns.TUNED``: (8/8_w,16) with intermediate recombination, mirrored sampling, mu adapted by
cumulative step-size adaptation and resistances adapted from the selected mutations). On the reference
regression also ``recombine`` with growth + connection formation, and with pruning + connection
formation.

A strategy "learns" a regression when its held-out R^2 > 0.5, the classification when held-out
accuracy > 75 %, the continual pair when both tasks reach R^2 > 0.5 on their own data.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from gradfree.data import emns_classification, emns_continual_tasks, emns_regression, emns_sine_regression
from gradfree.emns import TUNED, EMNSClassifier, EMNSRegressor, StructureParams
from gradfree.emns.metrics import adaptation_speed, modularity, resistance_entropy, stability_index
from gradfree.experiments import common
from gradfree.experiments.plots import figure, in_order, markdown_table
from gradfree.experiments.registry import ExperimentContext, experiment

POP = dict(selection="plus", population_size=8, rate_rule="success", self_adaptive=True, mu_min=0.01,
           success_damping=1.0)
STRATEGIES = {
    "none": dict(selection="none", constants="paper"),
    "revert": dict(selection="revert", constants="reference"),
    "plus": POP,
    "comma": dict(POP, selection="comma", n_parents=4, population_size=16, r_max=0.95),
    "recombine": TUNED,
}
STRUCTURE = {
    # growth_tol 1e-4: TUNED improves by small steps until the end, so with the default 1e-5 it never stalls
    "recombine+growth": dict(TUNED, structure=StructureParams(growth=True, connect=True, growth_patience=1024,
                                                              growth_tol=1e-4, interval=256)),
    "recombine+prune": dict(TUNED, structure=StructureParams(prune=True, connect=True, prune_threshold=0.02,
                                                             interval=256)),
}
DEMOS = {  # name: (hidden layers, MSE threshold for the adaptation speed)
    "regression": ((8, 5), 0.015),
    "sine": ((8, 4), 0.05),
    "classification": ((8, 4), 0.1),
    "continual": ((6,), 0.01),
}
REFERENCE = {"regression": "best train MSE 0.017 after ~7,000 epochs", "classification": "82.5 % accuracy",
             "sine": "'performance comparable to gradient-based methods' (no number)",
             "continual": "'minimal catastrophic forgetting' (no number)"}


def _as_json(settings: dict) -> dict:
    """A strategy's settings as results.json holds them (the structure options as a plain dict)."""
    return {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in settings.items()}


def _data(demo: str, seed: int):
    if demo == "regression":
        return emns_regression(random_state=seed), emns_regression(random_state=seed + 1000)
    if demo == "sine":
        return emns_sine_regression(random_state=seed), emns_sine_regression(random_state=seed + 1000)
    if demo == "classification":
        return emns_classification(random_state=seed), emns_classification(random_state=seed + 1000)
    return emns_continual_tasks(random_state=seed), emns_continual_tasks(random_state=seed + 1000)


def _curve(h: dict, n: int = 150) -> dict:
    idx = np.unique(np.linspace(0, len(h["evaluations"]) - 1, n).astype(int))
    hist_idx = np.unique(np.linspace(0, len(h["resistance_hist"]) - 1, 12).astype(int))
    return {"evaluations": [h["evaluations"][i] for i in idx], "mse": [-h["fitness"][i] for i in idx],
            "mutation_rate": [h["mutation_rate"][i] for i in idx],
            "resistance_hist": [h["resistance_hist"][i] for i in hist_idx],
            "resistance_hist_evaluations": [h["resistance_hist_evaluations"][i] for i in hist_idx]}


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    return float(1 - np.mean((y - p) ** 2) / np.var(y))


def _summary(m, threshold: float) -> dict:
    st, h = m.state_, m.history_
    best = int(st.fitness.argmax())
    return {"train_mse_final": float(-st.fitness.max()), "train_mse_best": float(-max(h["fitness"])),
            "mutation_rate_final": float(st.mutation_rate),
            "adaptation_speed": adaptation_speed(h["evaluations"], h["fitness"], threshold),
            "stability_index": stability_index(h["fitness"], 500),
            "modularity": modularity(st.values[best], st.masks, st.sizes),
            "resistance_entropy": resistance_entropy(st.resistances[best]),
            "resistance_mean": float(st.resistances[best].mean()),
            "n_params": int(st.values.shape[1]), "active_synapses": int(st.masks.sum()),
            "sizes": list(st.sizes), "evaluations": int(st.n_evaluations),
            "events": {k: sum(1 for e in h["events"] if e["event"] == k)
                       for k in ("grow", "connect", "prune")},
            "curve": _curve(h)}


def run_unit(demo: str, kw: dict, seed: int, budget: int, ctx: ExperimentContext | None = None,
             key: str = "") -> dict:
    """Train one (demo, strategy, seed) and score it on held-out data."""
    hidden, thr = DEMOS[demo]
    (train, test) = _data(demo, seed)
    t0 = time.perf_counter()
    lam = kw.get("population_size", 16) if kw.get("selection") in ("plus", "comma") else 1
    common = dict(hidden_layer_sizes=hidden, max_evaluations=budget, random_state=seed,
                  hist_every=max(1, budget // (lam * 40)), **kw)
    if demo == "classification":
        m = EMNSClassifier.paper(**common).fit(*train)
        out = {"test_accuracy": float(m.score(*test)), "train_accuracy": float(m.score(*train))}
    elif demo == "continual":
        (X1, y1), (X2, y2) = train
        (T1, t1), (T2, t2) = test
        m = EMNSRegressor.paper(**common).fit(X1, y1)
        mse1_after1 = float(np.mean((m.predict(T1) - t1) ** 2))
        r2_1 = _r2(t1, m.predict(T1))
        m.partial_fit(X2, y2)
        out = {"task1_mse_after_task1": mse1_after1, "task1_r2_after_task1": r2_1,
               "task1_mse_after_task2": float(np.mean((m.predict(T1) - t1) ** 2)),
               "task2_mse_after_task2": float(np.mean((m.predict(T2) - t2) ** 2)),
               "task2_r2_after_task2": _r2(t2, m.predict(T2))}
    else:
        m = EMNSRegressor.paper(**common).fit(*train)
        p = m.predict(test[0])
        out = {"test_mse": float(np.mean((p - test[1]) ** 2)), "test_r2": _r2(test[1], p),
               "noise_floor_test": float(np.var(test[1] - _noiseless(demo, test[0])))}
    secs = time.perf_counter() - t0
    if ctx is not None:
        ctx.timing(f"{key}/seconds", secs)
        ctx.timing(f"{key}/evaluations_per_s", m.n_evaluations_ / secs)
        ctx.timing(f"{key}/mutations_per_s", m.n_evaluations_ * m.state_.values.shape[1] / secs)
    return {**out, **_summary(m, thr)}


def _noiseless(demo: str, X: np.ndarray) -> np.ndarray:
    if demo == "regression":
        return 0.5 * np.tanh(np.sin(X[:, 0]) + 0.5 * np.cos(X[:, 1]) + 0.2 * np.tanh(X[:, 2]))
    return np.sin(X[:, 0]) + 0.5 * np.cos(X[:, 1])


def learns(demo: str, r: dict) -> bool:
    if demo == "classification":
        return r["test_accuracy"] > 0.75
    if demo == "continual":
        return r["task1_r2_after_task1"] > 0.5 and r["task2_r2_after_task2"] > 0.5
    return r["test_r2"] > 0.5


def _runs(results: dict, demo: str, strat: str) -> list[dict]:
    return [v for k, v in results["runs"].items() if k.startswith(f"{demo}-{strat}-seed")]


def _strategies(results: dict) -> list[str]:
    return list(in_order(results["strategies"], [*STRATEGIES, *STRUCTURE]))


def figures(results: dict, config: dict) -> list:
    """Per demo: each strategy's training curve and mutation rate (first seed), and the resistance
    distribution over time (recombine, first seed), from the results."""
    strategies, out = _strategies(results), []
    for demo in DEMOS:
        fig, axes = figure(3, 1, size=(4.6, 3.4))
        for strat in strategies:
            runs = _runs(results, demo, strat)
            if not runs:
                continue
            c = runs[0]["curve"]
            axes[0, 0].plot(c["evaluations"], c["mse"], label=strat)
            axes[0, 1].plot(c["evaluations"], c["mutation_rate"], label=strat)
        axes[0, 0].set(yscale="log", xlabel="evaluations", ylabel="train MSE (current)",
                       title=f"{demo}: performance")
        axes[0, 1].set(yscale="log", xlabel="evaluations", ylabel="mutation rate mu", title="mutation rate")
        axes[0, 0].legend(fontsize=7)
        c = _runs(results, demo, "recombine")[0]["curve"]
        H = np.asarray(c["resistance_hist"], dtype=float).T
        ev = c["resistance_hist_evaluations"]
        axes[0, 2].imshow(H / H.sum(0, keepdims=True), aspect="auto", origin="lower", cmap="magma",
                          extent=(ev[0], ev[-1] if ev[-1] > ev[0] else ev[0] + 1, 0, 1))
        axes[0, 2].set(xlabel="evaluations", ylabel="resistance",
                       title="resistance distribution (recombine, seed 0)")
        out.append((f"{demo}_curves", fig))
    return out


def _fmt(values: list[float], pct: bool = False, digits: int = 4) -> str:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if not v.size:
        return "never"
    v = v * 100 if pct else v
    d = 1 if pct else digits
    return f"{v.mean():.{d}f} ± {v.std():.{d}f}"


def report(results: dict, config: dict) -> str:
    """Which strategies learn, growth and pruning, and one table per demo, from the results alone."""
    n, parts = len(config["seeds"]), []
    parts.append(f"Budget {results['budget']} evaluations per run, {n} seed(s); mean ± sd "
                 "over seeds. Held-out data are fresh draws of the same generator. Timings are measured, so "
                 "they are not in results.json or this report: run_info.json's unit_seconds holds each "
                 "run's seconds, evaluations/s and parameter mutations/s (`<unit>/evaluations_per_s`, "
                 "`<unit>/mutations_per_s`), on the machine it ran on.\n")
    verdict = []
    for strat in STRATEGIES:
        runs = {demo: _runs(results, demo, strat) for demo in DEMOS}
        verdict.append([strat] + [f"{sum(learns(d, r) for r in rs)}/{len(rs)}" for d, rs in runs.items()])
    parts.append("## Which selection strategies learn (runs that learn / runs)\n\n" + markdown_table(
        ["strategy", *DEMOS], verdict) + "\nCriteria: held-out R² > 0.5 (regressions, both continual tasks "
        "right after training on them), held-out accuracy > 75 % (classification). Retention of the "
        "continual pair is the task-1 MSE after task 2 in the table below.\n")
    base = _runs(results, "regression", "recombine")
    for strat in STRUCTURE:
        runs = _runs(results, "regression", strat)
        if not (runs and base):
            continue
        ev = {k: sum(r["events"][k] for r in runs) for k in ("grow", "connect", "prune")}

        def change(key: str, digits: int = 0, runs=runs) -> str:
            before, after = ([r[key] for r in rs] for rs in (base, runs))
            return f"{_fmt(before, digits=digits)} -> {_fmt(after, digits=digits)}"

        parts.append(f"**{strat}** on the reference regression: parameters {change('n_params')}, active "
                   f"synapses {change('active_synapses')}, held-out MSE {change('test_mse', 4)}; events over "
                   f"{len(runs)} runs: {ev['grow']} growths, {ev['connect']} formations, "
                   f"{ev['prune']} prunings.\n")
    for demo in DEMOS:
        rows = []
        for strat in _strategies(results):
            runs = _runs(results, demo, strat)
            if not runs:
                continue
            if demo == "classification":
                score = _fmt([r["test_accuracy"] for r in runs], pct=True) + " %"
            elif demo == "continual":
                score = (f"T1 {_fmt([r['task1_mse_after_task1'] for r in runs])} -> "
                         f"{_fmt([r['task1_mse_after_task2'] for r in runs])}; "
                         f"T2 {_fmt([r['task2_mse_after_task2'] for r in runs])}")
            else:
                r2 = _fmt([r["test_r2"] for r in runs], digits=2)
                score = f"{_fmt([r['test_mse'] for r in runs])} (R² {r2})"
            rows.append([strat, f"{sum(learns(demo, r) for r in runs)}/{len(runs)}", score,
                         _fmt([r["train_mse_final"] for r in runs]),
                         _fmt([r["train_mse_best"] for r in runs]),
                         _fmt([r["adaptation_speed"] for r in runs], digits=0),
                         _fmt([r["stability_index"] for r in runs], digits=6),
                         _fmt([r["modularity"] for r in runs], digits=3),
                         _fmt([r["resistance_entropy"] for r in runs], digits=2),
                         _fmt([r["mutation_rate_final"] for r in runs], digits=4),
                         _fmt([r["n_params"] for r in runs], digits=0),
                         _fmt([r["active_synapses"] for r in runs], digits=0)])
        score_name = {"classification": "test accuracy", "continual": "test MSE: T1 after T1 -> after T2; T2",
                      }.get(demo, "test MSE")
        parts.append(f"## {demo}\n\nReference: {REFERENCE[demo]}.\n\n" + markdown_table(
            ["strategy", "learns", score_name, "train MSE (final)", "train MSE (best)", "adaptation speed",
             "stability index", "modularity Q", "resistance entropy (bits)", "final mu", "params",
             "active synapses"], rows))
    return "\n".join(p.rstrip() + "\n" for p in parts)


@experiment("emns-demos", "EMNS: the paper's and the reference's demos under each selection strategy "
            "(held-out scores, paper metrics, growth and pruning)", default_seeds=3, report=report,
            figures=figures)
def run(ctx: ExperimentContext) -> dict:
    """One checkpointed unit per (demo, strategy, seed); returns the results only."""
    with common.torch_threads(1):
        return _run(ctx)


def _run(ctx: ExperimentContext) -> dict:
    budget = 400 if ctx.quick else 10_000
    plan = [(d, s, kw) for d in DEMOS for s, kw in STRATEGIES.items()]
    plan += [("regression", s, kw) for s, kw in STRUCTURE.items()]
    settings = {k: _as_json(kw) for k, kw in {**STRATEGIES, **STRUCTURE}.items()}
    results: dict = {"budget": budget, "strategies": settings, "runs": {}}
    for demo, strat, kw in ctx.progress(plan, desc="emns demos"):
        for seed in ctx.seeds:
            key = f"{demo}-{strat}-seed{seed}"
            kw_dev = dict(kw, device=ctx.device)
            results["runs"][key] = ctx.unit(key, lambda d=demo, k=kw_dev, s=seed, kk=key:
                                            run_unit(d, k, s, budget, ctx, kk))
    return results
