"""EMNSOptimizer: pycma's ask/tell conventions, every named strategy, discrete variables, exact resume
through gradfree.core.io, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gradfree.core.io import ModelFileError
from gradfree.emns import STRATEGIES, EMNSOptimizer

SIGMA = {"paper": 0.5, "reference": 0.1, "plus": 0.5, "tuned": 0.2, "blackbox": 1.0, "scale": 0.08,
         "activity": 0.08}


def sphere(X: np.ndarray) -> np.ndarray:
    return (X ** 2).sum(axis=1)


def run(opt: EMNSOptimizer, gens: int, f=sphere) -> None:
    for _ in range(gens):
        X = opt.ask()
        opt.tell(X, f(X))


def test_ask_shape_and_determinism():
    a = EMNSOptimizer(np.zeros(7), 0.3, random_state=4)
    b = EMNSOptimizer(np.zeros(7), 0.3, random_state=4)
    X = a.ask()
    assert X.shape == (a.strategy_.popsize, 7) and X.dtype == np.float64
    assert a.strategy_.popsize == 4 + int(3 * np.log(7)) + (4 + int(3 * np.log(7))) % 2
    np.testing.assert_array_equal(X, b.ask())
    np.testing.assert_array_equal(X, a.ask())  # asking again before tell: the same generation
    assert not np.array_equal(X, EMNSOptimizer(np.zeros(7), 0.3, random_state=5).ask())


@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - {"paper"}))
def test_every_strategy_improves_on_the_sphere(name):
    """Every strategy but the paper's literal rule, which freezes (test_termination_criteria)."""
    x0 = np.full(6, 1.0)
    pop = 16 if STRATEGIES[name].selection == "gradient" else None  # more steps in the budget
    opt = EMNSOptimizer(x0, SIGMA[name], strategy=name, popsize=pop, random_state=0, maxfevals=3000)
    opt.optimize(sphere, vectorized=True)
    r = opt.result
    assert r.fbest < 0.5 * sphere(x0[None])[0]
    assert r.evaluations >= 1 and r.iterations >= 1 and r.xfavorite.shape == (6,)
    assert sphere(r.xbest[None])[0] == r.fbest
    assert 1 <= r.evals_best <= r.evaluations


def test_blackbox_converges_and_stops_on_tolfun():
    opt = EMNSOptimizer(np.full(5, 3.0), 1.0, random_state=1)
    opt.optimize(sphere, vectorized=True)
    assert opt.result.fbest < 1e-10 and "tolfun" in opt.stop()


def test_termination_criteria():
    opt = EMNSOptimizer(np.ones(3), 0.5, random_state=0, maxiter=4)
    opt.optimize(sphere, vectorized=True)
    assert opt.stop() == {"maxiter": 4} and opt.result.iterations == 4
    opt = EMNSOptimizer(np.ones(3), 0.5, random_state=0, maxfevals=25)
    opt.optimize(lambda x: float(x @ x))  # one row at a time, pycma's default
    assert "maxfevals" in opt.stop() and 25 <= opt.result.evaluations < 25 + opt.strategy_.popsize
    opt = EMNSOptimizer(np.ones(3), 0.5, random_state=0, ftarget=0.1)
    opt.optimize(sphere, vectorized=True)
    assert opt.result.fbest <= 0.1 and "ftarget" in opt.stop()
    opt = EMNSOptimizer(np.ones(3), 0.5, strategy="paper", random_state=0)
    opt.optimize(sphere, vectorized=True, iterations=200)
    assert "tolx" in opt.stop()  # the paper's rule: every resistance reaches 1, the search freezes


def test_stagnation_ends_a_run_that_makes_no_progress():
    """A flat function under noise (far above tolfun), tolx off: no progress, values never settle."""
    noise = np.random.default_rng(0)
    flat = lambda X: 1.0 + 1e-6 * noise.standard_normal(len(X))  # noqa: E731
    opt = EMNSOptimizer(np.zeros(2), 1.0, random_state=0, maxfevals=50_000, tolx=None)
    opt.optimize(flat, vectorized=True)
    T = int(100 + 100 * 2 ** 1.5 / opt.strategy_.popsize)  # pycma's default
    assert opt.stop() == {"tolstagnation": T}
    assert 500 < opt.result.iterations < 5_000  # after pycma's minimum age, long before the budget
    off = EMNSOptimizer(np.zeros(2), 1.0, random_state=0, maxfevals=20_000, tolx=None, tolstagnation=None)
    off.optimize(flat, vectorized=True)
    assert off.stop() == {"maxfevals": 20_000}


def test_stagnation_never_stops_progress_or_a_bit_string_on_a_plateau():
    opt = EMNSOptimizer(np.full(6, 3.0), 1.0, random_state=2, tolstagnation=5)
    opt.optimize(sphere, vectorized=True)
    assert "tolstagnation" not in opt.stop() and opt.result.fbest < 1e-10
    bits = EMNSOptimizer(np.zeros(16), 1 / 16, strategy="plus", vartype="binary", popsize=2, random_state=0,
                         tolstagnation=5, tolfun=None, maxfevals=4_000)
    bits.optimize(lambda X: np.zeros(len(X)), vectorized=True)  # a plateau: never improves
    assert bits.stop() == {"maxfevals": 4_000}


def test_files_saved_before_tolstagnation_resume_without_it(tmp_path):
    a = EMNSOptimizer(np.ones(4), 0.5, random_state=0)
    run(a, 2)
    path = a.save(tmp_path / "opt")
    meta = json.loads(path.read_text())
    del meta["params"]["tolstagnation"]
    path.write_text(json.dumps(meta))
    assert EMNSOptimizer.load(tmp_path / "opt").tolstagnation is None


@pytest.mark.parametrize("options", [{"centre": "momentum", "learning_rate": 8.0},
                                     {"centre": "momentum", "learning_rate": 8.0, "top_pairs": 4}])
def test_scale_options_descend_and_resume_exactly(tmp_path, options):
    opt = EMNSOptimizer(np.full(6, 1.0), 0.1, strategy="scale", popsize=16, random_state=0, maxfevals=3200,
                        options=options)
    opt.optimize(sphere, vectorized=True)
    assert opt.strategy_.centre == "momentum" and opt.result.fbest < 0.5 * 6
    assert opt.result.evaluations == 3200  # every candidate counts, selected by top_pairs or not
    a = EMNSOptimizer(np.ones(5), 0.1, strategy="scale", popsize=8, random_state=1, options=options)
    b = EMNSOptimizer(np.ones(5), 0.1, strategy="scale", popsize=8, random_state=1, options=options)
    run(a, 3)
    run(b, 3)
    b.save(tmp_path / "m")
    b = EMNSOptimizer.load(tmp_path / "m")
    assert b.strategy_.top_pairs == options.get("top_pairs", 0)
    run(a, 2)
    run(b, 2)
    np.testing.assert_array_equal(a.ask(), b.ask())


def test_centre_momentum_needs_the_rank_gradient_update_and_old_files_mean_adam(tmp_path):
    for name in ("blackbox", "activity"):
        with pytest.raises(ValueError, match="centre"):
            EMNSOptimizer(np.ones(3), 0.1, strategy=name, options={"centre": "momentum"})
    with pytest.raises(ValueError, match="centre"):
        EMNSOptimizer(np.ones(3), 0.1, strategy="scale", options={"centre": "sgd"})
    a = EMNSOptimizer(np.ones(4), 0.1, strategy="scale", popsize=4, random_state=0)
    path = a.save(tmp_path / "old")
    meta = json.loads(path.read_text())
    for name in ("centre", "neutral", "top_pairs"):  # a file saved before the options: defaults apply
        del meta["state"]["strategy_"]["fields"][name]
    path.write_text(json.dumps(meta))
    back = EMNSOptimizer.load(tmp_path / "old")
    s = back.strategy_
    assert s.centre == "adam" and s.neutral is False and s.top_pairs == 0
    meta["state"]["strategy_"]["fields"].pop("popsize")  # a required field may not be absent
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="strategy_"):
        EMNSOptimizer.load(tmp_path / "old")


def test_top_pairs_moves_the_centre_by_the_selected_pairs_ranks_alone():
    """One generation against an independent NumPy computation of ARS V2-t's top-direction selection
    with EMNS's rank update: the noise read back from the rows, the b pairs whose better member is best,
    centred ranks among their 2b values, the momentum step scaled by 1 - r."""
    P, b, sigma0, lr = 12, 2, 0.1, 8.0
    x0 = np.linspace(-1.0, 1.0, 5)
    opt = EMNSOptimizer(x0, sigma0, strategy="scale", popsize=P, random_state=3,
                        options={"centre": "momentum", "learning_rate": lr, "top_pairs": b})
    X = opt.ask()
    f = sphere(X)
    opt.tell(X, f)
    K, scale = P // 2, 1.0 - 0.2  # the "scale" strategy's resistances: 0.2, fixed
    z = (X[:K] - x0) / (sigma0 * scale)  # the + rows' noise
    fit = -f
    keep = np.argsort(-np.maximum(fit[:K], fit[K:]), kind="stable")[:b]
    sel = np.concatenate([fit[:K][keep], fit[K:][keep]])
    u = np.empty(2 * b)
    u[np.argsort(sel, kind="stable")] = np.arange(2 * b)
    u = u / (2 * b - 1) - 0.5
    de = (u[:b] - u[b:]) @ z[keep] / (2 * b)
    expected = x0 + lr * sigma0 * scale * (1 - 0.9) * de  # momentum's first step from m = 0
    np.testing.assert_allclose(opt.result.xfavorite, expected, rtol=1e-6, atol=1e-9)
    assert opt.result.evaluations == P  # every candidate counts, selected or not


def test_top_pairs_of_every_pair_is_the_plain_update_and_is_checked():
    top = {"centre": "momentum", "learning_rate": 8.0}
    full = EMNSOptimizer(np.ones(5), 0.1, strategy="scale", popsize=8, random_state=1, options=top)
    every = EMNSOptimizer(np.ones(5), 0.1, strategy="scale", popsize=8, random_state=1,
                          options={**top, "top_pairs": 4})
    run(full, 1)
    run(every, 1)  # all 4 pairs selected: the plain rank update
    np.testing.assert_array_equal(full.result.xfavorite, every.result.xfavorite)
    for name, options in (("scale", {"top_pairs": 5}), ("activity", {"top_pairs": 2}),
                          ("tuned", {"top_pairs": 2})):
        with pytest.raises(ValueError, match="top_pairs"):
            EMNSOptimizer(np.ones(3), 0.1, strategy=name, popsize=8, options=options)


def test_top_pairs_ranks_pairs_by_their_better_member_nan_last():
    from gradfree.emns.engine import top_pairs

    fit = torch.tensor([1.0, 5.0, float("nan"), 0.0,   # + members of pairs 0..3
                        4.0, -1.0, 9.0, 4.0])          # - members
    assert top_pairs(fit, 4).tolist() == [1, 0, 3, 2]  # 5; 4 (first of the tie); 4; NaN last


def test_onemax_bits():
    D = 40
    opt = EMNSOptimizer(np.zeros(D), 1 / D, strategy="plus", vartype="binary", popsize=4, random_state=3,
                        ftarget=0, maxfevals=20_000)
    seen = []
    opt.optimize(lambda X: (1 - X).sum(1), vectorized=True, callback=lambda o: seen.append(o.ask()))
    assert opt.result.fbest == 0 and "ftarget" in opt.stop()
    assert all(np.isin(X, (0.0, 1.0)).all() for X in seen)


def test_neutral_plus_moves_across_a_plateau_and_counts_only_improvements():
    """On a flat objective, "plus" keeps its parent and the 1/5th rule (ties counted) raises mu;
    with ``neutral`` an equal offspring replaces the parent and nothing counts as a success."""
    flat = lambda X: np.zeros(len(X))  # noqa: E731
    runs = {}
    for neutral in (False, True):
        opt = EMNSOptimizer(np.zeros(30), 1 / 30, strategy="plus", vartype="binary", popsize=4,
                            random_state=0, tolfun=None, options={"rate_rule": "success", "neutral": neutral})
        run(opt, 1, flat)  # the first generation has no parent fitness: its best becomes the parent
        x0, mu0 = opt.result.xfavorite.copy(), opt.state_.mutation_rate
        run(opt, 20, flat)
        runs[neutral] = (opt.result.xfavorite, opt.state_.mutation_rate, x0, mu0)
    x, mu, x0, mu0 = runs[False]
    np.testing.assert_array_equal(x, x0)  # ties never replace the parent
    assert mu > mu0  # every tie counted as a success
    x, mu, x0, mu0 = runs[True]
    assert (x != x0).any() and mu < mu0


def test_neutral_needs_plus_selection():
    with pytest.raises(ValueError, match="neutral"):
        EMNSOptimizer(np.zeros(3), 0.5, strategy="blackbox", options={"neutral": True})


def test_every_binary_candidate_differs_from_its_parent():
    opt = EMNSOptimizer(np.zeros(50), 1e-6, strategy="plus", vartype="binary", popsize=8, random_state=0)
    X = opt.ask()
    assert (X.sum(1) >= 1).all()


def test_integers():
    opt = EMNSOptimizer(np.full(6, 5.0), 2.0, vartype="integer", random_state=2, ftarget=0,
                        maxfevals=20_000)
    opt.optimize(sphere, vectorized=True)
    assert opt.result.fbest == 0
    X = opt.ask()
    np.testing.assert_array_equal(X, np.round(X))


@pytest.mark.parametrize("name,vartype", [(n, "continuous") for n in sorted(STRATEGIES)]
                         + [("plus", "binary"), ("blackbox", "integer"), ("plus-neutral", "binary")])
def test_save_load_resumes_exactly(tmp_path, name, vartype):
    x0 = np.ones(8) if vartype != "binary" else np.zeros(8)
    neutral = name == "plus-neutral"
    name = "plus" if neutral else name
    sigma = 1 / 8 if vartype == "binary" else SIGMA[name]
    kw = dict(strategy=name, vartype=vartype, random_state=7, options={"neutral": True} if neutral else None)
    a = EMNSOptimizer(x0, sigma, **kw)
    run(a, 5)
    a.save(tmp_path / "opt")
    b = EMNSOptimizer.load(tmp_path / "opt")
    for _ in range(4):
        Xa, Xb = a.ask(), b.ask()
        np.testing.assert_array_equal(Xa, Xb)
        a.tell(Xa, sphere(Xa))
        b.tell(Xb, sphere(Xb))
    assert a.result.fbest == b.result.fbest and a.state_.mutation_rate == b.state_.mutation_rate
    np.testing.assert_array_equal(a.result.xfavorite, b.result.xfavorite)


def test_save_between_ask_and_tell(tmp_path):
    a = EMNSOptimizer(np.ones(4), 0.5, random_state=0)
    run(a, 3)
    X = a.ask()
    a.save(tmp_path / "pending")
    b = EMNSOptimizer.load(tmp_path / "pending")
    np.testing.assert_array_equal(b.ask(), X)
    b.tell(X, sphere(X))  # the loaded optimizer accepts the rows asked before saving
    a.tell(X, sphere(X))
    np.testing.assert_array_equal(a.ask(), b.ask())


@pytest.mark.parametrize("name", ["blackbox", "tuned", "scale"])
def test_reused_buffers_never_leak_into_what_the_caller_holds(name):
    """The engine reuses its (P, D) buffers from one generation to the next: the rows a caller got
    from ask() stay as they were, a copy or a pickle runs on exactly like the original, a row changed
    in place before tell is still refused."""
    import copy
    import pickle

    a = EMNSOptimizer(np.linspace(-1, 1, 50), SIGMA[name], strategy=name, random_state=1)
    X0 = a.ask()
    kept = X0.copy()
    a.tell(X0, sphere(X0))
    run(a, 2)
    np.testing.assert_array_equal(X0, kept)
    twins = [copy.deepcopy(a), pickle.loads(pickle.dumps(a))]
    assert all(t._work is None for t in twins[1:]) and a._work
    run(a, 3)
    for t in twins:
        run(t, 3)
        np.testing.assert_array_equal(t.ask(), a.ask())
    X = a.ask()
    X[1, 0] += 1.0
    with pytest.raises(ValueError, match="did not return"):
        a.tell(X, sphere(X))


def test_tampered_file_is_refused(tmp_path):
    a = EMNSOptimizer(np.ones(4), 0.5, random_state=0)
    run(a, 2)
    path = a.save(tmp_path / "opt")
    meta = json.loads(path.read_text())
    meta["state"]["state_"]["fields"]["mutation_rate"] = -1.0
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="mutation_rate"):
        EMNSOptimizer.load(tmp_path / "opt")


def test_clear_errors():
    with pytest.raises(ValueError, match="x0"):
        EMNSOptimizer(np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="x0"):
        EMNSOptimizer([1.0, np.nan], 1.0)
    with pytest.raises(ValueError, match="sigma0"):
        EMNSOptimizer(np.ones(2), 0.0)
    for bad in (0, "sometimes", 2.5, True):
        with pytest.raises(ValueError, match="tolstagnation"):
            EMNSOptimizer(np.ones(2), 1.0, tolstagnation=bad)
    with pytest.raises(ValueError, match="strategy"):
        EMNSOptimizer(np.ones(2), 1.0, strategy="cma")
    with pytest.raises(ValueError, match="unknown option"):
        EMNSOptimizer(np.ones(2), 1.0, options={"sigma": 2})
    with pytest.raises(ValueError, match="even"):
        EMNSOptimizer(np.ones(2), 1.0, popsize=5)
    with pytest.raises(ValueError, match="popsize must be 1"):
        EMNSOptimizer(np.ones(2), 1.0, strategy="paper", popsize=4)
    with pytest.raises(ValueError, match="binary"):
        EMNSOptimizer(np.full(3, 0.5), 0.1, vartype="binary")
    opt = EMNSOptimizer(np.ones(3), 1.0, random_state=0)
    with pytest.raises(RuntimeError, match="before ask"):
        opt.tell(np.ones((opt.strategy_.popsize, 3)), np.ones(opt.strategy_.popsize))
    X = opt.ask()
    with pytest.raises(ValueError, match="shape"):
        opt.tell(X[:-1], sphere(X[:-1]))
    with pytest.raises(ValueError, match="one value per row"):
        opt.tell(X, sphere(X)[:-1])
    f = sphere(X)
    f[1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        opt.tell(X, f)
    with pytest.raises(ValueError, match="did not return"):
        opt.tell(X + 1e-3, sphere(X))
    f = sphere(X)
    f[0] = np.inf  # an infeasible candidate is allowed
    opt.tell(X, f)
    with pytest.raises(RuntimeError, match="before ask"):
        opt.tell(X, f)  # each generation is told once


@pytest.mark.parametrize("module", ["optimizer", "engine", "wide", "estimators"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"gradfree.emns.{module}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and (res.attempted > 0 or module == "engine")
