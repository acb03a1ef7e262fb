"""COCO runner: every optimiser on a ``bbob`` / ``bbob-noisy`` suite with COCO's own observer, and the
aggregated numbers read back with cocopp's loader (fraction of targets reached per function group, ERT)."""

from __future__ import annotations

import time

import numpy as np

from .continuous import CONTINUOUS

GROUPS = {"separable f1-5": range(1, 6), "moderate f6-9": range(6, 10),
          "ill-conditioned f10-14": range(10, 15),
          "multi-modal f15-19": range(15, 20), "weak structure f20-24": range(20, 25),
          "multi-modal f15-24": range(15, 25), "all f1-24": range(1, 25)}
NOISY_GROUPS = {"moderate noise f101-106": range(101, 107),
                "severe noise, uni-modal f107-121": range(107, 122),
                "severe noise, multi-modal f122-130": range(122, 131), "noisy f101-130": range(101, 131)}
TARGETS = 10.0 ** np.linspace(2, -8, 51)  # COCO's bbob targets for the ECDF


def coco_suite(suite_name, names, dims, mult, instances, functions, out, log, slow=(), slow_dims=None,
               slow_instances=None):
    """Every optimiser on every problem of the suite, COCO's observer logging; returns CPU seconds.
    The optimisers in ``slow`` run only on dimensions ``slow_dims`` and instances ``slow_instances``
    (None: all), same budget; cocopp compares them where they ran."""
    import cocoex

    opts = f"dimensions:{','.join(map(str, dims))}"
    opts += f" instance_indices:{instances}" if instances else ""
    opts += f" function_indices:{functions}" if functions else ""
    times = {}
    for name in names:
        suite = cocoex.Suite(suite_name, "", opts)
        # COCO writes to exdata/<result_folder> under the working directory
        observer = cocoex.Observer(suite_name, f"result_folder: {suite_name}/{name} algorithm_name: {name}")
        t0 = time.process_time()
        for k, problem in enumerate(suite):
            D = problem.dimension
            if name in slow and ((slow_dims and D not in slow_dims)
                                 or (slow_instances and problem.id_instance not in slow_instances)):
                continue
            problem.observe_with(observer)

            def f(X, problem=problem):
                return np.array([problem(x) for x in np.atleast_2d(X)])

            CONTINUOUS[name](f, problem.initial_solution, int(mult * D), 1000 * k + D)
            problem.free()
        times[name] = time.process_time() - t0
        log(f"{suite_name} {name}: {times[name]:.1f} s CPU")
    return times


def coco_summary(suite_name, names, out, groups):
    """Fraction of (run, target) pairs reached at the end, per group and dimension, from COCO's data."""
    import cocopp

    res = {}
    for name in names:
        dsl = cocopp.load(str(out / "exdata" / suite_name / name))
        for ds in dsl:
            hit = np.array([np.isfinite(ds.detEvals([t])[0]).mean() for t in TARGETS]).mean()
            res.setdefault(name, {}).setdefault(ds.dim, {})[ds.funcId] = float(hit)
    table = {}
    for name, by_dim in res.items():
        for dim, by_f in by_dim.items():
            for g, fs in groups.items():
                vals = [by_f[i] for i in fs if i in by_f]
                if vals:
                    table.setdefault(g, {}).setdefault(str(dim), {})[name] = float(np.mean(vals))
    return table, res


def coco_ert(suite_name, names, out, functions, target=1e-8):
    """ERT (evaluations / D) to reach f - f_opt <= ``target``, per function and dimension (inf: never)."""
    import cocopp

    ert = {}
    for name in names:
        for ds in cocopp.load(str(out / "exdata" / suite_name / name)):
            if ds.funcId in functions:
                e = float(ds.detERT([target])[0])
                ert.setdefault(name, {}).setdefault(str(ds.dim), {})[ds.funcId] = e / ds.dim
    return ert

