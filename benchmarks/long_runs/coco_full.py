"""COCO's bbob and bbob-noisy at the full budget (1e4 x D evaluations, COCO's default 15 instances),
EMNS beside its peers, as a long run that several sessions finish: one unit per (suite, optimiser,
dimension, function), each written by COCO's own observer and archived when it ends.

The optimisers are those of ``benchmarks/bench_emns_blackbox.py``, imported from its package
``benchmarks/emns_blackbox`` (EMNS ``blackbox`` with and without IPOP restarts, pycma default / IPOP /
separable, EvoTorch SNES, nevergrad NGOpt). Every run stops at the budget or when the problem's final
target (f - f_opt <= 1e-8) is hit, as COCO's example experiment does: no later evaluation can change its
ECDF or ERT. NGOpt (3-9 ms per evaluation here, ~1,000x the others) runs as a ``--slow`` peer on the
first ``--slow-instances`` instances of ``--slow-dims`` only.

Layout under ``--out`` (default benchmarks/results/emns_blackbox_full):

* ``units/<suite>/<optimiser>/dDD-fFFF.tar.xz`` COCO's observer data of one finished unit, and
  ``dDD-fFFF.json`` beside it (CPU seconds, evaluations, instances, the command's settings);
  a unit counts as done only when both exist (written to a temporary name, then renamed), so a killed
  run loses at most the unit it was in, and the same command carries on;
* ``summary.json`` / ``report.md`` / ``ppdata/`` from ``--summarise`` (tables from cocopp's loader over
  every finished unit; cocopp's own ECDF and ERT figures with ``--figures``).

    python benchmarks/long_runs/coco_full.py &   # one process per core: each claims the next free unit
    python benchmarks/long_runs/coco_full.py &
    python benchmarks/long_runs/coco_full.py --status
    python benchmarks/long_runs/coco_full.py --summarise [--figures]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import lzma
import os
import shutil
import sys
import tarfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/, home of emns_blackbox
from emns_blackbox.coco import GROUPS, NOISY_GROUPS, coco_ert, coco_summary
from emns_blackbox.continuous import CONTINUOUS
from emns_blackbox.report import report

SUITES = {"bbob": range(1, 25), "bbob-noisy": range(101, 131)}
FIRST_ID = {"bbob": 1, "bbob-noisy": 101}  # COCO's function_indices count from 1 in each suite


def _commit() -> str:
    """The code's git commit (short), recorded with every unit; "unknown" outside a checkout."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return out or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


COMMIT = _commit()


class FinalTargetHit(Exception):
    """Raised by the objective once the problem's final target is reached: the run is over."""


def units(args) -> list[tuple[str, str, int, int]]:
    """(suite, optimiser, dimension, function id), cheap first: by dimension, then function, then
    optimiser, so a run cut short leaves every optimiser with the same problems done; the ``--slow``
    peers' units of a dimension come after everyone else's (NGOpt's cost ~100x the rest of a unit)."""
    names = args.optimizers.split(",")
    out = []
    for dim in (int(d) for d in args.dims.split(",")):
        for slow in (False, True):
            for suite in args.suites.split(","):
                for fid in SUITES[suite]:
                    for name in names:
                        if (name in args.slow) != slow or (slow and dim not in args.slow_dims):
                            continue
                        out.append((suite, name, dim, fid))
    return out


def unit_path(root: Path, suite: str, name: str, dim: int, fid: int) -> Path:
    return root / "units" / suite / name / f"d{dim:02d}-f{fid:03d}"


def run_unit(args, root: Path, scratch: Path, suite: str, name: str, dim: int, fid: int) -> dict:
    """One optimiser on the 15 instances of one function in one dimension, COCO's observer logging into
    ``scratch``; returns the unit's record."""
    import cocoex

    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    cwd = os.getcwd()
    os.chdir(scratch)  # cocoex writes exdata/<result_folder> under the working directory
    try:
        opts = f"dimensions:{dim} function_indices:{fid - FIRST_ID[suite] + 1}"
        if name in args.slow:
            opts += f" instance_indices:1-{args.slow_instances}"
        result = f"{suite}/{name}/d{dim:02d}-f{fid:03d}"
        observer = cocoex.Observer(suite, f"result_folder: {result} algorithm_name: {name}")
        t0, evals, hits, instances = time.process_time(), 0, 0, []
        for problem in cocoex.Suite(suite, "", opts):
            problem.observe_with(observer)

            def f(X, problem=problem):
                y = np.array([problem(x) for x in np.atleast_2d(X)])
                if problem.final_target_hit:
                    raise FinalTargetHit
                return y

            seed = 100_000 * dim + 1_000 * (fid % 1_000) + problem.id_instance
            try:
                CONTINUOUS[name](f, problem.initial_solution, int(args.budget_multiplier * dim), seed)
            except FinalTargetHit:
                pass
            evals += problem.evaluations
            hits += bool(problem.final_target_hit)
            instances.append(int(problem.id_instance))
            problem.free()
        cpu = time.process_time() - t0
        observer = None
        folder = scratch / "exdata" / result
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    tar.add(p, arcname=str(Path(result) / p.relative_to(folder)), recursive=False)
        return {"suite": suite, "optimizer": name, "dim": dim, "function": fid, "instances": instances,
                "evaluations": int(evals), "final_target_hits": hits, "cpu_seconds": round(cpu, 3),
                "budget_multiplier": args.budget_multiplier,
                "finished": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "commit": COMMIT, "archive": lzma.compress(buf.getvalue(), preset=9)}
    finally:
        os.chdir(cwd)


def store(path: Path, record: dict) -> None:
    """The archive, then the record: each to a temporary name, then renamed (the record last)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = record.pop("archive")
    for target, payload in ((path.with_suffix(".tar.xz"), data),
                            (path.with_suffix(".json"), json.dumps(record, indent=1).encode())):
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, target)


def done(path: Path) -> bool:
    return path.with_suffix(".json").is_file() and path.with_suffix(".tar.xz").is_file()


def claim(root: Path, u: tuple) -> Path | None:
    """Claim unit ``u`` for this process: a file created exclusively under ``scratch/claims`` holding
    our pid (a claim whose process is gone is taken over); None when another live process holds it."""
    claims = root / "scratch" / "claims"
    claims.mkdir(parents=True, exist_ok=True)
    path = claims / "-".join(map(str, u))
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(path.read_text() or 0)
                os.kill(pid, 0)
                return None  # held by a live process
            except (ValueError, ProcessLookupError, FileNotFoundError):
                path.unlink(missing_ok=True)  # stale: its process died
                continue
            except PermissionError:
                return None
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return path
    return None


def work(args, root: Path) -> None:
    """Run every unit not yet done, cheap first. Without ``--worker`` each process claims the next
    free unit (any number of processes balance themselves); ``--worker K/N`` runs a fixed share."""
    warnings.filterwarnings("ignore")
    for name in ("evotorch", "nevergrad"):
        logging.getLogger(name).setLevel(logging.ERROR)
    k, n = (int(v) for v in args.worker.split("/")) if args.worker else (0, 1)
    todo = [u for i, u in enumerate(units(args)) if i % n == k]
    scratch = root / "scratch" / f"p{os.getpid()}"
    for u in todo:
        path = unit_path(root, *u)
        if done(path):
            continue
        held = claim(root, u)
        if held is None:
            continue
        try:
            if done(path):  # finished by another process between the check and the claim
                continue
            rec = run_unit(args, root, scratch, *u)
            store(path, rec)
        finally:
            held.unlink(missing_ok=True)
        print(f"{rec['finished']} {'/'.join(map(str, u))}: {rec['evaluations']} evaluations, "
              f"{rec['final_target_hits']}/{len(rec['instances'])} hit 1e-8, {rec['cpu_seconds']:.1f} s CPU",
              flush=True)
    shutil.rmtree(scratch, ignore_errors=True)


def status(args, root: Path) -> None:
    rows: dict = {}
    for u in units(args):
        suite, name, dim, _ = u
        path = unit_path(root, *u)
        r = rows.setdefault((suite, dim, name), [0, 0, 0.0])
        r[1] += 1
        if done(path):
            r[0] += 1
            r[2] += json.loads(path.with_suffix(".json").read_text())["cpu_seconds"]
    total = left = 0.0
    order = sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2]))  # by dimension first
    for (suite, dim, name), (d, n, cpu) in order:
        est = cpu / d * (n - d) if d else float("nan")
        left += est if d else 0.0
        total += cpu
        print(f"{suite:>10} D={dim:<2} {name:>15}: {d:2d}/{n} units, {cpu:8.0f} s CPU"
              + (f", ~{est:.0f} s to go" if d < n else ""))
    print(f"done: {total / 3600:.2f} CPU-hours; to go (units with a finished sibling): ~{left / 3600:.2f}")


def unpack(root: Path) -> Path:
    """Every finished unit's observer data under ``root/exdata`` (rebuilt from the archives)."""
    ex = root / "exdata"
    shutil.rmtree(ex, ignore_errors=True)
    ex.mkdir()
    for archive in sorted((root / "units").rglob("*.tar.xz")):
        if done(archive.with_suffix("").with_suffix("")):
            with tarfile.open(fileobj=io.BytesIO(lzma.decompress(archive.read_bytes()))) as tar:
                tar.extractall(ex, filter="data")
    return ex


def copy_figures(root: Path, suite: str) -> list[str]:
    """cocopp's standard figures of the newest post-processing of ``suite`` into ``figures/``: the
    ECDF of every function group per dimension (``<suite>_ecdf_DDD_<group>.svg``, cocopp's
    ``pprldmany``) and ERT against dimension per function (``<suite>_ert_fNNN.svg``, ``ppfigs``)."""
    runs = sorted((p for p in (root / "ppdata" / suite).iterdir() if p.is_dir()),
                  key=lambda p: p.stat().st_mtime)
    out = root / "figures"
    out.mkdir(exist_ok=True)
    names = []
    for src in sorted(runs[-1].glob("pprldmany_*D_*.svg")) + sorted(runs[-1].glob("ppfigs_f*.svg")):
        stem = src.stem
        name = (f"{suite}_ecdf_{stem.removeprefix('pprldmany_')}.svg" if stem.startswith("pprldmany_")
                else f"{suite}_ert_{stem.removeprefix('ppfigs_')}.svg")
        shutil.copyfile(src, out / name)
        names.append(name)
    return names


def summarise(args, root: Path) -> None:
    warnings.filterwarnings("ignore")
    ex = unpack(root)
    os.chdir(root)
    summary = {"budget_multiplier": args.budget_multiplier, "dims": args.dims,
               "slow peers": {"names": sorted(args.slow), "dims": sorted(args.slow_dims),
                              "instances": f"1-{args.slow_instances}"},
               "units": {}, "cpu_seconds": {}}
    for rec_path in sorted((root / "units").rglob("*.json")):
        rec = json.loads(rec_path.read_text())
        key = f"{rec['suite']}/{rec['optimizer']}/d{rec['dim']}"
        summary["units"][key] = summary["units"].get(key, 0) + 1
        summary["cpu_seconds"][key] = round(summary["cpu_seconds"].get(key, 0.0) + rec["cpu_seconds"], 1)
    for suite in args.suites.split(","):
        if not (ex / suite).is_dir():
            continue
        present = sorted(p.name for p in (ex / suite).iterdir() if p.is_dir())
        groups = GROUPS if suite == "bbob" else NOISY_GROUPS
        summary[suite], summary[suite + " per function"] = coco_summary(suite, present, root, groups)
        if suite == "bbob":
            summary["bbob ERT/D f1-5 at 1e-8"] = coco_ert(suite, present, root, range(1, 6))
        if args.figures:
            import cocopp

            cocopp.genericsettings.outputdir = f"ppdata/{suite}"
            cocopp.main(" ".join(f"exdata/{suite}/{n}" for n in present))
            copy_figures(root, suite)
    summary["commands"] = ["python benchmarks/long_runs/coco_full.py (one process per core), "
                           "then --summarise"]
    (root / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    expected = {}
    for suite, name, dim, _ in units(args):
        key = f"{suite}/{name}/d{dim}"
        expected[key] = expected.get(key, 0) + 1
    done_lines = [f"- {k}: {n} of {expected.get(k, '?')} functions"
                  + ("" if n == expected.get(k) else " (PARTIAL: its rows above average fewer functions)")
                  for k, n in sorted(summary["units"].items())]
    finished = "\nFinished units (suite/optimiser/dimension):\n\n" + "\n".join(done_lines) + "\n"
    (root / "report.md").write_text(report(summary) + finished)
    print((root / "report.md").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", default="bbob,bbob-noisy")
    ap.add_argument("--dims", default="2,5,10,20")
    ap.add_argument("--budget-multiplier", type=float, default=1e4)
    ap.add_argument("--optimizers", default="emns,emns-ipop-r999,cma,cma-ipop,sep-cma,snes,ngopt")
    ap.add_argument("--slow", default="ngopt", help="peers run on a subset (comma-separated)")
    ap.add_argument("--slow-dims", default="2", help="dimensions of the --slow peers")
    ap.add_argument("--slow-instances", type=int, default=1, help="the --slow peers run instances 1..this")
    ap.add_argument("--worker", default=None,
                    help="K/N: run every N-th unit from the K-th (default: claim the next free unit)")
    ap.add_argument("--status", action="store_true", help="units done and CPU time, per optimiser")
    ap.add_argument("--summarise", action="store_true", help="summary.json and report.md from the units")
    ap.add_argument("--figures", action="store_true", help="with --summarise: cocopp's figures (minutes)")
    ap.add_argument("--out", default="benchmarks/results/emns_blackbox_full")
    args = ap.parse_args()
    args.slow = {s for s in args.slow.split(",") if s}
    args.slow_dims = {int(d) for d in args.slow_dims.split(",") if d}
    import torch

    torch.set_num_threads(1)
    root = Path(args.out).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if args.status:
        status(args, root)
    elif args.summarise:
        summarise(args, root)
    else:
        work(args, root)


if __name__ == "__main__":
    main()
