"""``report.md`` from a ``summary.json`` dictionary: COCO's target fractions per group and dimension,
ERT on the separable functions, PBO's mean best fitness, CPU seconds."""

from __future__ import annotations

import json
import math


def pbo_scores(pbo: dict, slow: set) -> list[str]:
    """Lines of the aggregate: per function each optimiser's mean best, scaled to [0, 1] between the
    worst and the best optimiser on it (1 where all tie), averaged over the functions; and, against each
    (1+lambda) EA, the functions an optimiser is ahead of and behind it. ``slow`` peers (fewer runs) are
    left out."""
    names = sorted({n for v in pbo.values() for n in v} - slow)
    fids = [f for f in pbo if all(n in pbo[f] for n in names)]
    score = dict.fromkeys(names, 0.0)
    for f in fids:
        m = {n: pbo[f][n]["mean"] for n in names}
        lo, hi = min(m.values()), max(m.values())
        for n in names:
            score[n] += (1.0 if hi == lo else (m[n] - lo) / (hi - lo)) / len(fids)
    eas = [n for n in names if n.endswith(" EA")]
    left = ", ".join(sorted(slow)) or "no slow peer"
    lines = [f"Aggregate over the {len(fids)} functions (mean best scaled to [0, 1] between the worst and "
             f"best of these rows on each function, averaged; {left} left out), and functions ahead / "
             "behind each EA:", "",
             "| optimiser | score | " + " | ".join(f"vs {e}" for e in eas) + " |",
             "|---|---" + "|---" * len(eas) + "|"]
    for n in sorted(names, key=lambda n: -score[n]):
        vs = [f"{sum(pbo[f][n]['mean'] > pbo[f][e]['mean'] for f in fids)} / "
              f"{sum(pbo[f][n]['mean'] < pbo[f][e]['mean'] for f in fids)}" if n != e else "" for e in eas]
        lines.append(f"| {n} | {score[n]:.3f} | " + " | ".join(vs) + " |")
    return lines + [""]


def report(s: dict) -> str:
    runs = "\n".join(f"    {c}" for c in s.get("commands", []))
    lines = ["# EMNS on COCO / IOH", "", "Commands (one folder, run in turn):", "", runs, ""]
    for suite in ("bbob", "bbob-noisy"):
        if suite not in s:
            continue
        lines += [f"## {suite}: fraction of (run, target) pairs reached within the budget "
                  f"({s['budget_multiplier']:g} x D evaluations; 51 targets 10^[2..-8])", ""]
        for g, by_dim in s[suite].items():
            names = sorted({n for v in by_dim.values() for n in v})
            lines += [f"**{g}**", "", "| D | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
            for d, v in sorted(by_dim.items(), key=lambda kv: int(kv[0])):
                lines.append(f"| {d} | " + " | ".join(f"{v.get(n, math.nan):.3f}" for n in names) + " |")
            lines.append("")
    if "bbob ERT/D f1-5 at 1e-8" in s:
        lines += ["## bbob separable f1-5: ERT / D to f - f_opt <= 1e-8 (inf: not reached)", ""]
        for name, by_dim in s["bbob ERT/D f1-5 at 1e-8"].items():
            for d, by_f in sorted(by_dim.items(), key=lambda kv: int(kv[0])):
                ert = ", ".join(f"f{f} {e:.0f}" for f, e in sorted(by_f.items()))
                lines.append(f"- {name}, D={d}: {ert}")
        lines.append("")
    if "pbo" in s:
        st = s["pbo settings"]
        lines += [f"## IOH PBO, n = {st['dim']}, budget {st['budget']}, {st['runs']} runs, instance 1: "
                  "mean best fitness (maximised)", ""]
        names = sorted({n for v in s["pbo"].values() for n in v})
        lines += ["| f | problem | " + " | ".join(names) + " |", "|---|---" + "|---" * len(names) + "|"]
        for fid, v in sorted(s["pbo"].items(), key=lambda kv: int(kv[0])):
            prob = next(iter(v.values()))["problem"]
            lines.append(f"| {fid} | {prob} | " + " | ".join(f"{v[n]['mean']:.2f}" for n in names) + " |")
        lines.append("")
        lines += pbo_scores(s["pbo"], set(s.get("slow peers", {}).get("names", [])))
    lines += ["CPU seconds: " + json.dumps(s["cpu_seconds"], default=lambda x: round(float(x), 1)), ""]
    return "\n".join(lines)

