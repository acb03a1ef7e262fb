"""``report.md`` from a ``summary.json`` dictionary: COCO's target fractions per group and dimension,
ERT on the separable functions, PBO's mean best fitness, CPU seconds."""

from __future__ import annotations

import json
import math


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
    lines += ["CPU seconds: " + json.dumps(s["cpu_seconds"], default=lambda x: round(float(x), 1)), ""]
    return "\n".join(lines)

