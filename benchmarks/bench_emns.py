"""EMNS goals (issue 3), measured. Run: ``python benchmarks/bench_emns.py [--quick]``.

1. Reference regression (200 samples, 3 features, noise 0.1: the noise floor is MSE ~0.0100): train MSE
   <= 0.0105 within 10,000 evaluations with the population strategy (``TUNED``), per seed, over
   ``--seeds`` seeds from ``--first-seed`` (default 0-29, the seeds ``TUNED`` was chosen on; 30-59
   are held-out seeds). The realised floor of each seed, the MSE of the noiseless function on its
   200 samples, is printed beside it (0.009-0.0125): it is no bound on the *training* error, which a
   network of 347 parameters lowers by fitting noise. ``--gradient-reference`` also trains the same
   network by gradient descent (Adam, autograd; a diagnostic of what the architecture can reach, not
   part of the library), which ends at 0.0017-0.0048 on every one of seeds 0-29.
2. One mutate + evaluate step of the [3, 8, 5, 1] network on 200 samples <= 0.6 ms: torch (one
   thread), NumPy (the same vectorised forward) and the fused numba kernel, single step and amortised
   per candidate of a batched (1+16) generation.
3. >= 95 % held-out accuracy on x1 + x2 > 0 (200 training samples, 2,000 held-out).

Prints a table and writes benchmarks/results/emns.json (``emns-seedsA-B.json`` for other seeds).
Timings are on whatever machine runs it; on the project's shared 2-core machine other jobs compete for
the CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch

from gradfree.data import emns_classification, emns_regression
from gradfree.emns import TUNED, EMNSClassifier, EMNSRegressor, make_params
from gradfree.emns.evolution import EvoState, new_history, step_population, step_single
from gradfree.emns.fast import HAVE_NUMBA, fitness_numba
from gradfree.emns.mutation import candidate_noise, mutate
from gradfree.emns.network import fitness, init_network, layer_shapes

POP = TUNED  # (4/4_w, 16) with recombination; see gradfree.emns.estimators.TUNED


def numpy_fitness(values: np.ndarray, masks: np.ndarray, sizes: list[int], X: np.ndarray, Y: np.ndarray):
    """The torch forward written in NumPy (for the backend comparison only)."""
    P = values.shape[0]
    x, o, mo = X[None], 0, 0  # (1, N, m)
    for n, m in layer_shapes(sizes):
        W = values[:, o:o + n * m].reshape(P, n, m)
        B = values[:, o + n * m:o + 2 * n * m].reshape(P, n, m)
        G = values[:, o + 2 * n * m:o + 3 * n * m].reshape(P, n, m)
        A = values[:, o + 3 * n * m:o + 3 * n * m + 5 * n].reshape(P, n, 5)
        H = values[:, o + 3 * n * m + 5 * n:o + 3 * n * m + 10 * n].reshape(P, n, 5)
        mk = masks[mo:mo + n * m].reshape(n, m)
        o, mo = o + 3 * n * m + 10 * n, mo + n * m
        s = np.clip((G * W)[:, None] * x[:, :, None, :] + B[:, None], -10, 10)  # (P, N, n, m)
        s2 = s * s
        bases = (s, s2, np.sqrt(np.abs(s)), np.sin(s), np.exp(-s2))
        z = sum(A[:, None, :, k] * (b * mk).sum(-1) for k, b in enumerate(bases))
        z = np.clip(z, -5, 5)
        sg = 1 / (1 + np.exp(-z))
        acts = (np.tanh(z), sg, np.maximum(z, 0), z * sg, z)
        x = np.clip(sum(H[:, None, :, k] * a for k, a in enumerate(acts)), -5, 5)
    return -((x - Y[None]) ** 2).mean(axis=(1, 2))


def per_call(fn, repeats: int) -> float:
    """Median over 5 blocks of the mean seconds per call."""
    fn()
    blocks = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeats):
            fn()
        blocks.append((time.perf_counter() - t) / repeats)
    return float(np.median(blocks))


def step_times(repeats: int) -> dict:
    sizes = [3, 8, 5, 1]
    X, y = emns_regression(random_state=0)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32))[:, None]
    XT, YT = np.ascontiguousarray(X.T), np.ascontiguousarray(Yt.numpy().T)
    p = make_params("paper", mutation_rate=0.05)
    g = torch.Generator().manual_seed(0)
    v, r, m = init_network(sizes, 1, g, torch.device("cpu"))
    evaluators = {"torch": lambda vv, mm, ss: fitness(vv, mm, ss, Xt, Yt)}
    if HAVE_NUMBA:
        evaluators["numba (fused)"] = lambda vv, mm, ss: fitness_numba(vv, mm, ss, XT, YT)
    out = {}
    with torch.inference_mode():
        for name, ev in evaluators.items():
            st = EvoState(sizes, v.clone(), r.clone(), m, ev(v, m, sizes), 0.05, history=new_history())
            out[f"{name}: step (1 candidate)"] = per_call(lambda st=st, ev=ev: step_single(
                st, ev, p, g, selection="revert", revert_prob=0.7, rate_rule="preset", damping=3.0), repeats)
            st16 = EvoState(sizes, v.clone(), r.clone(), m, ev(v, m, sizes), 0.05, history=new_history())
            out[f"{name}: per candidate, (1+16) generation"] = per_call(
                lambda st=st16, ev=ev: step_population(st, ev, p, g, selection="plus", lam=16,
                                                       rate_rule="success", damping=3.0), repeats // 8) / 16
        vn, mn = v.numpy(), m.numpy()
        Xn, Yn = X.astype(np.float32), Yt.numpy()

        def numpy_step():
            noise = candidate_noise(int(torch.randint(0, 2**62, (), generator=g)), v.shape[1]).numpy()
            nv = vn + noise[0] * 0.05 * (1 - r.numpy())
            return numpy_fitness(nv, mn, sizes, Xn, Yn)

        out["numpy: step (1 candidate)"] = per_call(numpy_step, repeats)
        out["mutation only (torch, 347 params)"] = per_call(
            lambda: mutate(v, r, candidate_noise(1, v.shape[1]).unsqueeze(1), 0.05, p), repeats)
    return out


def regression_goal(seeds: list[int], budget: int) -> list[dict]:
    rows = []
    for seed in seeds:
        X, y = emns_regression(random_state=seed)
        f = 0.5 * np.tanh(np.sin(X[:, 0]) + 0.5 * np.cos(X[:, 1]) + 0.2 * np.tanh(X[:, 2]))
        t = time.perf_counter()
        m = EMNSRegressor((8, 5), max_evaluations=budget, random_state=seed, **POP).fit(X, y)
        secs = time.perf_counter() - t
        mse = float(np.mean((m.predict(X) - y) ** 2))
        floor = float(np.mean((y - f) ** 2))
        rows.append({"seed": seed, "train_mse": mse, "noise_floor": floor, "evaluations": m.n_evaluations_,
                     "seconds": secs, "met": mse <= 0.0105, "within_0.0005_of_floor": mse <= floor + 5e-4})
    return rows


def gradient_reference(seed: int, steps: int = 4000, restarts: int = 3) -> float:
    """Best train MSE of full-batch Adam on the same [3, 8, 5, 1] network (autograd: a diagnostic only)."""
    X, y = emns_regression(random_state=seed)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32))[:, None]
    g = torch.Generator().manual_seed(seed)
    best = math.inf
    for _ in range(restarts):
        v, _, m = init_network([3, 8, 5, 1], 1, g, torch.device("cpu"))
        v = (v + 0.05 * torch.randn(v.shape, generator=g)).requires_grad_()  # sqrt|s| has no slope at 0
        opt = torch.optim.Adam([v], lr=3e-3)
        for _ in range(steps):
            opt.zero_grad()
            loss = -fitness(v, m, [3, 8, 5, 1], Xt, Yt)[0]
            if not torch.isfinite(loss):
                break
            loss.backward()
            torch.nn.utils.clip_grad_norm_([v], 1.0)
            opt.step()
            best = min(best, float(loss.detach()))
    return best


def classification_goal(seeds: list[int], budget: int) -> list[dict]:
    rows = []
    for seed in seeds:
        X, y = emns_classification(random_state=seed)
        Xt, yt = emns_classification(n_samples=2000, random_state=seed + 1000)
        m = EMNSClassifier.paper(hidden_layer_sizes=(8, 4), max_evaluations=budget, random_state=seed,
                                 **POP).fit(X, y)
        acc = float(m.score(Xt, yt))
        rows.append({"seed": seed, "test_accuracy": acc, "met": acc >= 0.95})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one seed, short timing loops")
    ap.add_argument("--seeds", type=int, default=30, help="seeds of the regression goal")
    ap.add_argument("--first-seed", type=int, default=0, help="first regression seed (30: held out)")
    ap.add_argument("--gradient-reference", action="store_true",
                    help="also train the same network by Adam (autograd) on each regression seed")
    args = ap.parse_args()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead and contention
    seeds = [0] if args.quick else [0, 1, 2]
    times = step_times(100 if args.quick else 400)
    print(f"{'[3,8,5,1] on 200 samples: mutate + evaluate':<52} {'ms':>8}")
    for k, sec in times.items():
        print(f"{k:<52} {sec * 1e3:>8.3f}")
    best_single = min(v for k, v in times.items() if "step (1 candidate)" in k)
    verdict = "met" if best_single <= 6e-4 else "NOT met"
    print(f"goal: one step <= 0.6 ms -> best {best_single * 1e3:.3f} ms: {verdict}")

    first = args.first_seed
    reg = regression_goal([first] if args.quick else list(range(first, first + args.seeds)), 10_000)
    if args.gradient_reference:
        for r in reg:
            r["adam_train_mse"] = gradient_reference(r["seed"])
    adam = "  Adam MSE" if args.gradient_reference else ""
    head = f"{'seed':>4} {'train MSE':>10} {'noise floor':>12} {'evals':>7} {'s':>6}"
    print(f"\n{head}  (goal <= 0.0105){adam}")
    for r in reg:
        extra = f"  {r['adam_train_mse']:.5f}" if "adam_train_mse" in r else ""
        print(f"{r['seed']:>4} {r['train_mse']:>10.5f} {r['noise_floor']:>12.5f} {r['evaluations']:>7} "
              f"{r['seconds']:>6.1f}  {'met' if r['met'] else 'NOT met':<7}{extra}")
    n_met, n_near = sum(r["met"] for r in reg), sum(r["within_0.0005_of_floor"] for r in reg)
    mses = [r["train_mse"] for r in reg]
    print(f"train MSE <= 0.0105: {n_met}/{len(reg)} seeds (median {np.median(mses):.5f}, worst "
          f"{max(mses):.5f}); within 0.0005 of the seed's own floor: {n_near}/{len(reg)}")
    cls = classification_goal(seeds, 10_000)
    print(f"\n{'seed':>4} {'held-out accuracy':>18}  (goal >= 95 %)")
    for r in cls:
        print(f"{r['seed']:>4} {r['test_accuracy'] * 100:>17.1f}%  {'met' if r['met'] else 'NOT met'}")
    name = "emns.json" if first == 0 else f"emns-seeds{first}-{first + args.seeds - 1}.json"
    out = Path(__file__).parent / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "step_seconds": times, "step_goal_met": best_single <= 6e-4,
        "regression": reg, "regression_goal_met": all(r["met"] for r in reg),
        "regression_seeds_met": f"{sum(r['met'] for r in reg)}/{len(reg)}",
        "regression_median_train_mse": float(np.median(mses)),
        "regression_seeds_within_0.0005_of_floor": f"{n_near}/{len(reg)}",
        "classification": cls, "classification_goal_met": all(r["met"] for r in cls),
        "population_config": POP, "numba": HAVE_NUMBA, "torch_threads": 1,
        "machine": platform.node(), "date": time.strftime("%Y-%m-%d")}, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
