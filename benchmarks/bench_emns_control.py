"""EMNS policy search throughput: the simulator is the floor.

Per environment, in one process and one run (repeats interleaved, medians reported, the load
average printed beside them because the machine may be shared):

* ``bare``      - the environments PolicySearch would step (one per candidate), stepped with random
                  actions drawn in advance; episodes reset as they end;
* ``sync-vec``  - the same through gymnasium's ``SyncVectorEnv`` (the alternative batching);
* ``linear`` / ``mlp`` - PolicySearch in-process (``n_jobs=1``): env steps per second of fit;
* ``2 procs`` / ``2 ray`` - PolicySearch with two workers (speed-up over ``linear``);
* bytes per generation with two workers for two policy sizes (it must not grow with the parameters).

    python benchmarks/bench_emns_control.py --envs CartPole-v1 HalfCheetah-v5 --steps 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch


def bare(env_id: str, n: int, steps: int, seed: int = 0, vector: bool = False) -> float:
    """Env steps per second of ``n`` environments stepped with random actions."""
    import gymnasium as gym

    envs = [gym.make(env_id) for _ in range(n)]
    space = envs[0].action_space
    rng = np.random.default_rng(seed)
    per = steps // n
    if isinstance(space, gym.spaces.Discrete):
        acts = rng.integers(0, space.n, size=(per, n))
    else:
        acts = rng.uniform(space.low, space.high, size=(per, n, space.shape[0])).astype(space.dtype)
    if vector:
        vec = gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(n)])
        vec.reset(seed=seed)
        t0 = time.perf_counter()
        for t in range(per):
            vec.step(acts[t])
        dt = time.perf_counter() - t0
        vec.close()
        return per * n / dt
    for i, e in enumerate(envs):
        e.reset(seed=seed + i)
    t0 = time.perf_counter()
    for t in range(per):
        for i, e in enumerate(envs):
            _, _, term, trunc, _ = e.step(acts[t, i])
            if term or trunc:
                e.reset()
    dt = time.perf_counter() - t0
    return per * n / dt


def search(env_id: str, steps: int, popsize: int, **kw) -> tuple[float, list[int]]:
    """Env steps per second of PolicySearch.fit in steady state (the generations after the first, whose
    time includes starting workers and building environments) and bytes per generation."""
    from gradfree.emns import PolicySearch

    ps = PolicySearch(env_id, max_env_steps=steps, popsize=popsize, random_state=0, progress=False, **kw)
    ps.fit()
    h = ps.history_
    if len(h["seconds"]) < 2:
        raise SystemExit(f"{env_id}: --steps {steps} is one generation; give three generations' steps")
    return (h["env_steps"][-1] - h["env_steps"][0]) / sum(h["seconds"][1:]), h["bytes"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envs", nargs="+", default=["CartPole-v1", "HalfCheetah-v5"])
    ap.add_argument("--steps", type=int, default=100_000, help="env steps per measurement")
    ap.add_argument("--popsize", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=32, help="the small MLP's hidden units")
    ap.add_argument("--no-workers", action="store_true", help="skip the 2-worker rows")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    rows = []
    n, pop = args.steps, args.popsize
    for env_id in args.envs:
        cases = {
            "bare": lambda e=env_id: bare(e, pop, n),
            "sync-vec": lambda e=env_id: bare(e, pop, n, vector=True),
            "linear": lambda e=env_id: search(e, n, pop)[0],
            "mlp": lambda e=env_id: search(e, n, pop, policy="mlp", hidden=(args.hidden,))[0],
        }
        if not args.no_workers:
            cases["2 procs"] = lambda e=env_id: search(e, n, pop, n_jobs=2)[0]
            cases["2 ray"] = lambda e=env_id: search(e, n, pop, n_jobs=2, backend="ray")[0]
        res: dict[str, list[float]] = {k: [] for k in cases}
        loads = []
        for _ in range(args.repeats):
            for name, fn in cases.items():
                res[name].append(fn())
                loads.append(os.getloadavg()[0])
        med = {k: float(np.median(v)) for k, v in res.items()}
        for k, v in med.items():
            rel = v / med["bare"]
            extra = f"  x{v / med['linear']:.2f} of linear" if k.startswith("2 ") else ""
            rows.append(f"| {env_id} | {k} | {v:,.0f} | {rel:.2f} |{extra}")
        print(f"{env_id}: load average during {np.mean(loads):.2f}")
        if not args.no_workers:
            from gradfree.emns import PolicySearch

            for hidden in (4, 256):
                ps = PolicySearch(env_id, policy="mlp", hidden=(hidden,), popsize=pop, n_jobs=2,
                                  max_env_steps=10**9, random_state=0, progress=False).fit(n_generations=3)
                mid = np.median(ps.history_["bytes"][1:])
                rows.append(f"| {env_id} | bytes/generation, mlp {hidden} hidden "
                            f"({ps.centre_.size:,} parameters) | {mid:,.0f} | |")
    print("| env | case | env steps/s (median) | / bare |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
