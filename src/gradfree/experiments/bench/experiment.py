"""The bench: every system and baseline on the same suites, seeds and budgets, side by side.

An experiment like the others (one checkpointed unit per (model, suite, seed), resumable, spread over
Ray by seed with ``--ray``): the suites (:mod:`~gradfree.experiments.bench.suites`) and the model
table (:mod:`~gradfree.experiments.bench.models`) are data, one unit is
:func:`~gradfree.experiments.bench.units.run_unit`. A unit's key
carries a digest of the model's parameters, so a checkpoint made with another configuration is not
reused; a unit that failed is not saved, so a resumed bench retries it.

``results.json`` holds what the models computed (metrics, accuracy matrices, parameters), reproducible
for given seeds; ``report.md`` and the accuracy matrices are functions of it (``gradfree report``
rebuilds them). What was measured (wall and CPU time, peak memory) changes from run to run: the run
writes it to ``timings.md``, ``accuracy_vs_time.png``, ``bench.json`` and ``results.csv`` beside the report.
"""

from __future__ import annotations

import hashlib
import json
import time

import torch

from gradfree.experiments.bench.models import MODELS
from gradfree.experiments.bench.report import accuracy_matrices, markdown, write_measurements
from gradfree.experiments.bench.suites import SUITES
from gradfree.experiments.bench.units import machine_info, params_of, run_unit, setting
from gradfree.experiments.registry import ExperimentContext, Option, experiment

MEASURED = ("wall_s", "cpu_s", "peak_mb", "peak_cuda_mb", "mem_method", "traceback")


def _config_digest(model: str, suite: str, seed: int, data: dict, ctx: ExperimentContext) -> str:
    """A digest of the model's parameters for this unit (of the error, if it cannot even be built)."""
    try:
        params = params_of(MODELS[model].make(setting(suite, seed, data, ctx.quick, ctx.device)))
    except Exception as exc:  # noqa: BLE001 - the unit itself will record the error
        params = {"error": f"{type(exc).__name__}: {exc}"}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def _table_of(results: dict, config: dict) -> tuple[list[dict], dict, list[str], list[str]]:
    """The records, what was skipped, and the models and suites in the table's order, from results.json
    (the order the options named them in, else the model table's and the suites' own)."""
    records, skipped = results["records"], {(m, s): r for m, s, r in results["skipped"]}
    seen_m = {r["model"] for r in records} | {m for m, _ in skipped}
    seen_s = {r["suite"] for r in records} | {s for _, s in skipped}
    opts = config.get("options") or {}

    def order(given: str | None, table: dict, seen: set) -> list[str]:
        names = given.split(",") if given else list(table)
        return [n for n in names if n in seen and n in table]

    models, suites = order(opts.get("models"), MODELS, seen_m), order(opts.get("suites"), SUITES, seen_s)
    return records, skipped, models, suites


def report(results: dict, config: dict) -> str:
    """The summary and per-suite tables of what the models computed, from results.json alone."""
    return markdown(*_table_of(results, config))


def figures(results: dict, config: dict) -> list:
    """The accuracy matrices of each continual suite, from results.json alone."""
    records, _, models, suites = _table_of(results, config)
    return accuracy_matrices(records, models, suites)


@experiment("bench", "Every system and baseline side by side on the same suites, seeds and budgets",
            default_seeds=3, report=report, figures=figures, options=(
                Option("threads", int, "torch CPU threads while timing (default 1)", low=1),
                Option("models", str, "models to run (default: the whole table)", choices=lambda: MODELS,
                       many=True),
                Option("suites", str, "suites to run (default: all)", choices=lambda: SUITES, many=True)))
def run(ctx: ExperimentContext) -> dict:
    threads = ctx.options.get("threads", 1)  # parsed: an int
    old = torch.get_num_threads()
    torch.set_num_threads(threads)  # every model timed alike; restored afterwards
    try:
        return _run(ctx, threads)
    finally:
        torch.set_num_threads(old)


def _run(ctx: ExperimentContext, threads: int) -> dict:
    opt = ctx.options
    model_names = list(opt.get("models") or MODELS)     # parsed: a list of names
    suite_names = list(opt.get("suites") or SUITES)
    skipped = {(m, s): MODELS[m].reason(s, ctx.quick) for m in model_names for s in suite_names}
    ctx.expect(sum(r is None for r in skipped.values()) * len(ctx.seeds))
    started, t0 = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.perf_counter()
    records = []
    for s in suite_names:
        for seed in ctx.seeds:
            units = [m for m in model_names if skipped[(m, s)] is None]
            if not units:
                continue
            data = SUITES[s].load(seed, ctx.quick)
            for m in units:
                records.append(ctx.unit(
                    f"{m}__{s}__seed{seed}__{_config_digest(m, s, seed, data, ctx)}",
                    lambda m=m, s=s, seed=seed, data=data: run_unit(m, s, seed, data, quick=ctx.quick,
                                                                    device=ctx.device, threads=threads),
                    keep=lambda rec: rec["status"] == "ok"))
    meta = {"quick": ctx.quick, "seeds": ctx.seeds, "device": ctx.device, "models": model_names,
            "suites": suite_names, "started": started, "duration_s": time.perf_counter() - t0,
            "units": len(records), "units_resumed": ctx.n_resumed,
            "machine": {**machine_info(ctx.device), "torch_threads": threads}}
    write_measurements(ctx.out, records, skipped, meta)  # measured: beside the report, not in results
    return {"records": [{k: v for k, v in r.items() if k not in MEASURED} for r in records],
            "skipped": [[m, s, r] for (m, s), r in skipped.items() if r is not None]}
