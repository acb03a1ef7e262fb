"""EMNS policy search throughput: the simulator is the floor.

Per environment, in one process and one run (repeats interleaved; the load average printed beside
the numbers because the machine may be shared):

* ``bare``      - the environments PolicySearch would step (one per candidate), stepped with random
                  actions drawn in advance; episodes reset as they end;
* ``sync-vec``  - the same through gymnasium's ``SyncVectorEnv`` (the alternative batching);
* ``linear`` / ``mlp H`` - PolicySearch in-process (``n_jobs=1``): env steps per second of ``fit``
                  after its first generation (which builds the environments);
* ``2 procs`` / ``2 ray`` - PolicySearch with two workers, steady state (the generations after the
                  first, which starts the workers), and its speed-up over ``linear`` in-process;
* bytes per generation with two workers for two policy sizes (it must not grow with the parameters).

``--loop-overhead`` instead times the rollout loop alone (``Rollouts.run`` on do-nothing environments
of CartPole's sizes, episodes of 20-500 steps): microseconds of CPU per time step and per env step,
for the linear policy and the small MLPs, a number that does not depend on the simulator or the load.

``--share`` adds ``in simulator``: the fraction of an in-process fit's wall time spent inside the
environments' ``step`` (one more run per policy, every environment wrapped in a timer whose own cost
counts as outside). It measures PolicySearch's overhead on the simulator PolicySearch actually drives
(a policy's actions cost the physics engine more or less than random ones: HalfCheetah-v5 steps cost
71-84 us here for zero, small, random or saturated actions) and is less sensitive to the load.

Every in-process case is timed twice: wall time (``time.perf_counter``) and this process's CPU time
(``time.process_time``); ``/ bare`` is the median over repeats of the ratio to the ``bare`` run of the
same repeat. On a shared, loaded machine the CPU-time ratio is the meaningful one (a process that
waits for a core is not charged); the wall-time ratio and the worker speed-ups need a quiet machine
(workers run in other processes, so they have wall times only).

    python benchmarks/bench_emns_control.py --envs CartPole-v1 HalfCheetah-v5 --steps 100000 --repeats 3
    python benchmarks/bench_emns_control.py --loop-overhead                 # seconds
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch


def bare(env_id: str, n: int, steps: int, seed: int = 0, vector: bool = False) -> tuple[float, float]:
    """Env steps per second (wall, CPU) of ``n`` environments stepped with random actions."""
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
        t0, c0 = time.perf_counter(), time.process_time()
        for t in range(per):
            vec.step(acts[t])
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        vec.close()
        return per * n / dt, per * n / dc
    for i, e in enumerate(envs):
        e.reset(seed=seed + i)
    t0, c0 = time.perf_counter(), time.process_time()
    for t in range(per):
        for i, e in enumerate(envs):
            _, _, term, trunc, _ = e.step(acts[t, i])
            if term or trunc:
                e.reset()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    return per * n / dt, per * n / dc


class _TimedEnv:
    """An environment whose ``step`` calls are timed (wall clock, summed in ``clock[0]``)."""

    def __init__(self, env, clock: list[int]) -> None:
        self.env, self.clock = env, clock

    def step(self, action):
        t = time.perf_counter_ns()
        out = self.env.step(action)
        self.clock[0] += time.perf_counter_ns() - t
        return out

    def reset(self, **kw):
        return self.env.reset(**kw)

    def close(self) -> None:
        self.env.close()


def search(env_id: str, steps: int, popsize: int, share: bool = False, **kw) -> tuple[float, float]:
    """Env steps per second (wall, CPU) of an in-process PolicySearch.fit after its first generation.
    With ``share``: (fraction of the wall time spent inside the environments' ``step``, nan) instead,
    measured by wrapping every environment (the wrapper's own cost counts as outside: conservative)."""
    from gradfree.emns import PolicySearch

    ps = PolicySearch(env_id, max_env_steps=steps, popsize=popsize, random_state=0, progress=False, **kw)
    ps.fit(n_generations=1)  # builds the environments
    s0 = ps.env_steps_
    if s0 >= steps:
        raise SystemExit(f"{env_id}: --steps {steps} is one generation; give three generations' steps")
    clock = [0]
    if share:
        ps._rollouts.envs = [_TimedEnv(e, clock) for e in ps._rollouts.envs]
    t0, c0 = time.perf_counter(), time.process_time()
    ps.set_params(warm_start=True).fit()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    if share:
        return clock[0] / 1e9 / dt, float("nan")
    return (ps.env_steps_ - s0) / dt, (ps.env_steps_ - s0) / dc


def search_workers(env_id: str, steps: int, popsize: int, **kw) -> tuple[float, float]:
    """Env steps per second (wall; CPU: nan, the work is in other processes) of PolicySearch with
    workers, in steady state (the generations after the first, whose time includes starting them)."""
    from gradfree.emns import PolicySearch

    ps = PolicySearch(env_id, max_env_steps=steps, popsize=popsize, random_state=0, progress=False, **kw)
    ps.fit()
    h = ps.history_
    if len(h["seconds"]) < 2:
        raise SystemExit(f"{env_id}: --steps {steps} is one generation; give three generations' steps")
    return (h["env_steps"][-1] - h["env_steps"][0]) / sum(h["seconds"][1:]), float("nan")


class _NullEnv:
    """A do-nothing environment: 4 observations, episode lengths 20-500 set by the reset seed."""

    def __init__(self) -> None:
        self.t, self.length, self.obs = 0, 1, np.zeros(4, dtype=np.float32)

    def reset(self, seed: int = 0) -> tuple:
        self.t, self.length = 0, 20 + (seed * 7919) % 481
        return self.obs, {}

    def step(self, action) -> tuple:
        self.t += 1
        return self.obs, 1.0, self.t >= self.length, False, {}

    def close(self) -> None:
        pass


def loop_overhead(popsize: int, hidden: list[int], repeats: int = 7) -> list[str]:
    """CPU microseconds of Rollouts.run per time step and per env step on do-nothing environments
    (minimum over ``repeats``; the null environment's own step is timed and subtracted)."""
    from gradfree.emns.control.policies import PolicySpec
    from gradfree.emns.control.rollout import Rollouts, TaskSpec

    rows = []
    for kind, hid in [("linear", ())] + [("mlp", (h,)) for h in hidden]:
        spec = PolicySpec(kind, 4, 2, hid)
        ro = Rollouts(TaskSpec("null", policy=spec, discrete=True))
        ro.envs = [_NullEnv() for _ in range(popsize)]
        params = torch.randn(popsize, spec.n_params, dtype=torch.float64,
                             generator=torch.Generator().manual_seed(0))
        mean, std, seeds = np.zeros(4), np.ones(4), list(range(popsize))
        best, null = np.inf, np.inf
        for _ in range(repeats):
            c0 = time.process_time()
            _, _, steps, _ = ro.run(params, seeds, mean, std)
            best = min(best, time.process_time() - c0)
            c0 = time.process_time()
            for e, s in zip(ro.envs, seeds):
                e.reset(seed=s)
                for _ in range(e.length):
                    e.step(0)
            null = min(null, time.process_time() - c0)
        n, iters = int(steps.sum()), int(steps.max())
        name = "linear" if kind == "linear" else f"mlp {hid[0]}"
        rows.append(f"| {name} | {(best - null) / iters * 1e6:.1f} | {(best - null) / n * 1e6:.2f} | "
                    f"{n / iters:.1f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envs", nargs="+", default=["CartPole-v1", "HalfCheetah-v5"])
    ap.add_argument("--steps", type=int, default=100_000, help="env steps per measurement")
    ap.add_argument("--popsize", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hidden", type=int, nargs="+", default=[16, 32],
                    help="the small MLPs' hidden units (16: PolicySearch's default)")
    ap.add_argument("--no-vector", action="store_true", help="skip the SyncVectorEnv row")
    ap.add_argument("--no-workers", action="store_true", help="skip the 2-worker rows")
    ap.add_argument("--no-ray", action="store_true", help="skip the 2 Ray actors row")
    ap.add_argument("--share", action="store_true", help="one more run per in-process policy with the "
                    "environments' steps timed: the fraction of the time spent inside the simulator")
    ap.add_argument("--loop-overhead", action="store_true",
                    help="only the rollout loop's own cost (do-nothing environments)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    if args.loop_overhead:
        print(f"rollout loop on do-nothing environments, popsize {args.popsize}, CPU time (min of 7)")
        print("| policy | us per time step | us per env step | live episodes per time step |")
        print("|---|---|---|---|")
        print("\n".join(loop_overhead(args.popsize, args.hidden)))
        return
    rows = []
    n, pop = args.steps, args.popsize
    for env_id in args.envs:
        cases = {"bare": lambda e=env_id: bare(e, pop, n)}
        if not args.no_vector:
            cases["sync-vec"] = lambda e=env_id: bare(e, pop, n, vector=True)
        cases["linear"] = lambda e=env_id: search(e, n, pop)
        for hid in args.hidden:
            cases[f"mlp {hid}"] = lambda e=env_id, h=hid: search(e, n, pop, policy="mlp", hidden=(h,))
        if not args.no_workers:
            cases["2 procs"] = lambda e=env_id: search_workers(e, n, pop, n_jobs=2)
            if not args.no_ray:
                cases["2 ray"] = lambda e=env_id: search_workers(e, n, pop, n_jobs=2, backend="ray")
        res: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
        loads = []
        for _ in range(args.repeats):
            for name, fn in cases.items():
                res[name].append(fn())
                loads.append(os.getloadavg()[0])
        shares = {}
        if args.share:  # one more run per in-process policy, with the environments' steps timed
            shares["linear"] = search(env_id, n, pop, share=True)[0]
            for hid in args.hidden:
                shares[f"mlp {hid}"] = search(env_id, n, pop, share=True, policy="mlp", hidden=(hid,))[0]
        base = np.array(res["bare"])
        for k, v in res.items():
            v = np.array(v)
            wall, cpu = np.median(v, axis=0)
            rw, rc = np.median(v / base, axis=0)
            sh = f"{shares[k]:.2f}" if k in shares else ""
            if k.startswith("2 "):
                lin = np.array(res["linear"])[:, 0]
                extra = f" x{np.median(v[:, 0] / lin):.2f} of linear (wall) |"
                rows.append(f"| {env_id} | {k} | {wall:,.0f} | {rw:.2f} | | | |{extra}")
            else:
                rows.append(f"| {env_id} | {k} | {wall:,.0f} | {rw:.2f} | {cpu:,.0f} | {rc:.2f} | {sh} | |")
        print(f"{env_id}: load average during {np.mean(loads):.2f}", flush=True)
        if not args.no_workers:
            from gradfree.emns import PolicySearch

            for hidden in (4, 256):
                ps = PolicySearch(env_id, policy="mlp", hidden=(hidden,), popsize=pop, n_jobs=2,
                                  max_env_steps=10**9, random_state=0, progress=False).fit(n_generations=3)
                mid = np.median(ps.history_["bytes"][1:])
                rows.append(f"| {env_id} | bytes/generation, mlp {hidden} hidden "
                            f"({ps.centre_.size:,} parameters) | {mid:,.0f} | | | | | |")
    print(f"popsize {pop}, {n:,} env steps per measurement, medians of {args.repeats} interleaved repeats")
    print("| env | case | env steps/s (wall) | / bare (wall) | env steps/s (CPU) | / bare (CPU) "
          "| in simulator | workers |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
