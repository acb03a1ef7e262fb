"""Wuxing network: neuron dynamics, wiring and BSP checked against independent computations."""

from __future__ import annotations

import pytest
import torch

from gradfree.wuxing import MODEL1, MODEL2, PRESETS, WuxingDivergenceError, build_wiring, steady_gain
from gradfree.wuxing.bsp import bsp_g1, fp_direction
from gradfree.wuxing.dynamics import backward_coeffs, forward_coeffs, integrate, rhs
from gradfree.wuxing.network import RunSpec, backward_run, forward_run

F64 = torch.float64


def small_net(seed: int = 0, sizes=(6, 8, 6, 3)):
    g = torch.Generator().manual_seed(seed)
    w = build_wiring(list(sizes), "fill", generator=g)
    N = w.n_neurons
    c = (2 * torch.rand(w.n_connections, generator=g, dtype=F64) - 1)
    K = (torch.ones(N, dtype=F64), torch.full((N,), 0.5, dtype=F64), torch.full((N,), 0.5, dtype=F64))
    return w, c, K, g


def jacobian(f, n: int) -> torch.Tensor:
    """Central-difference Jacobian of f: R^n -> R^n at 0."""
    h = 1e-6
    cols = []
    for i in range(n):
        e = torch.zeros(n, 1, dtype=F64)
        e[i] = h
        cols.append(((f(e) - f(-e)) / (2 * h)).reshape(-1))
    return torch.stack(cols, dim=1)


def test_fixed_point_is_rest_and_stable():
    w, c, K, _ = small_net()
    co = forward_coeffs(*K, b_ref=1.0)
    S = 5 * w.n_neurons
    Xbar, Xend = integrate(torch.zeros(S, 3, dtype=F64), w.src, w.dst, c[w.pix_src.numel():], co,
                           shift=1, dt=0.2, steps=150)
    assert torch.equal(Xbar, torch.zeros_like(Xbar)) and torch.equal(Xend, torch.zeros_like(Xend))
    # eq. 2.2 fixed point of one neuron, and its linearisation has eigenvalues with negative real part
    one = forward_coeffs(*(k[:1] for k in K), b_ref=1.0)
    empty = torch.empty(0, dtype=torch.long)
    J = jacobian(lambda x: rhs(x, torch.zeros(5, 1, dtype=F64), empty, empty, c[:0], one, 1), 5)
    ev = torch.linalg.eigvals(J)
    assert ev.real.max() < -0.25  # slowest mode -0.2865 at the defaults
    # E = B0 is a rest point of the original (non-deviation) eq. 2.3
    B0 = (1.0 - 0.5) / 0.5
    assert abs(1.0 * B0 - 0.5 * B0 - 0.5 * B0 * B0) < 1e-12


def test_backward_jacobian_is_transpose_of_forward_at_rest():
    w, c, K, _ = small_net(1)
    S, ch = 5 * w.n_neurons, c[w.pix_src.numel():]
    fco, bco = forward_coeffs(*K, b_ref=1.0), backward_coeffs(*K)
    Jf = jacobian(lambda x: rhs(x, torch.zeros(S, 1, dtype=F64), w.src, w.dst, ch, fco, 1), S)
    Jb = jacobian(lambda x: rhs(x, torch.zeros(S, 1, dtype=F64), w.dst, w.src, ch, bco, -1), S)
    assert torch.allclose(Jb, Jf.T, atol=1e-8)
    assert not torch.allclose(Jf, Jf.T, atol=1e-3)  # the check is not vacuous


def _loss(w, c, K, X, tgt, spec):
    st = forward_run(w, c, K, 1.0, X, spec)
    return 0.5 * ((tgt - st.y) ** 2).sum(1).mean()


@pytest.mark.parametrize("backward", ["rest", "linearised"])
def test_bsp_update_is_aligned_with_true_gradient(backward):
    w, c, K, g = small_net(2)
    X = torch.rand(4, 6, generator=g, dtype=F64)
    tgt = torch.eye(3, dtype=F64)[torch.tensor([0, 1, 2, 1])]
    spec = RunSpec(input_scale=0.02, error_scale=0.02, T=60.0, backward=backward)
    st = forward_run(w, c, K, 1.0, X, spec)
    backward_run(w, c, K, 1.0, st, tgt - st.y, spec)
    G = bsp_g1(w, X, st, spec).mean(1)  # eq. 3.3, normalised: should be -dL/dc
    h, fd = 1e-5, torch.zeros_like(c)
    for m in range(c.numel()):
        e = torch.zeros_like(c)
        e[m] = h
        fd[m] = -(_loss(w, c + e, K, X, tgt, spec) - _loss(w, c - e, K, X, tgt, spec)) / (2 * h)
    cos = torch.nn.functional.cosine_similarity(G, fd, dim=0)
    assert cos >= 0.95, f"cosine {cos:.3f}"
    assert 0.5 < G.norm() / fd.norm() < 2.0


def test_fixed_point_method_is_aligned_with_true_gradient_wrt_K1():
    w, c, K, g = small_net(3)
    X = torch.rand(4, 6, generator=g, dtype=F64)
    tgt = torch.eye(3, dtype=F64)[torch.tensor([0, 1, 2, 1])]
    spec = RunSpec(input_scale=0.02, error_scale=0.02, T=60.0)
    st = forward_run(w, c, K, 1.0, X, spec)
    backward_run(w, c, K, 1.0, st, tgt - st.y, spec)
    G = fp_direction(st, K[2], 1.0, spec, kt=1e-6)  # kt -> 0: no limiting
    h, fd = 1e-6, torch.zeros(w.n_neurons, dtype=F64)
    for n in range(w.n_neurons):
        e = torch.zeros(w.n_neurons, dtype=F64)
        e[n] = h
        Kp, Km = (K[0] + e, K[1], K[2]), (K[0] - e, K[1], K[2])
        fd[n] = -(_loss(w, c, Kp, X, tgt, spec) - _loss(w, c, Km, X, tgt, spec)) / (2 * h)
    cos = torch.nn.functional.cosine_similarity(G, fd, dim=0)
    assert cos >= 0.95, f"cosine {cos:.3f}"


@pytest.mark.parametrize("name,target", [("model1", 0.51), ("model2", 0.38)])
def test_preset_link_ratios(name, target):
    p = PRESETS[name]
    for seed in range(3):
        w = build_wiring(p["sizes"], p["mode"], p["fanout"], generator=torch.Generator().manual_seed(seed))
        assert abs(100 * w.link_ratio - target) <= 0.03
        assert len(w.link_ratios) == len(p["sizes"]) - 1
    assert MODEL1 == (784, 839, 283, 96, 32, 10) and MODEL2 == (784, 1048, 353, 119, 40, 10)


def test_wiring_is_one_to_one_and_adders_multiply_links():
    w = build_wiring(MODEL1, "fill", 4)
    rows = torch.cat([w.pix_dst, w.dst])
    assert rows.unique().numel() == rows.numel()  # every input interface takes one connection
    assert w.src.unique().numel() == w.src.numel()  # every output interface sends one
    assert not set(w.dst.tolist()) & set(w.src.tolist())  # an interface is an input or an output
    assert torch.bincount(w.pix_src).tolist() == [4] * 784  # pixel fanout
    assert len(set(w.out_rows.tolist()) & set(rows.tolist())) == 0
    w3 = build_wiring(MODEL1, "fill", 4, fan_in=3)
    assert w3.n_connections == 3 * w.n_connections
    assert torch.bincount(torch.cat([w3.pix_dst, w3.dst])).max() == 3
    assert abs(w3.link_ratio - 3 * w.link_ratio) < 1e-12


def test_steady_gain_and_element_aware_wiring():
    g = steady_gain()
    assert torch.allclose(g, torch.tensor([0.78, 0.878, 0.488, 0.049, -0.195], dtype=F64), atol=2e-3)
    w = build_wiring(MODEL1, "fill", 4, element_aware=True)
    # read-out layer: a neuron with < 4 inputs never puts one three elements before its read element
    dst = set(torch.cat([w.pix_dst, w.dst]).tolist())
    checked = 0
    for r in w.out_rows.tolist():
        base = r - r % 5
        n_in = sum(base + e in dst for e in range(5))
        if n_in < 4:
            checked += 1
            assert base + (r - 3) % 5 not in dst
    assert checked > 0


@pytest.mark.parametrize("fan_in,mode,uniform", [(1, "fill", True), (3, "fill", False),
                                                 (1, "one_out", False)])
@pytest.mark.parametrize("clamp", [True, False])
def test_fused_kernel_matches_torch_path(fan_in, mode, uniform, clamp):
    """Every path of the numba kernel (forward, backward, linearised; dense and sparse rows; adders;
    several chunks per group; rotated neurons; uniform or per-neuron K) against the torch Euler loop."""
    from gradfree.wuxing import kernels
    from gradfree.wuxing.dynamics import linearised_coeffs

    if not kernels.available(torch.device("cpu"), torch.float32):
        pytest.skip("numba not available")
    g = torch.Generator().manual_seed(fan_in)
    w = build_wiring((40, kernels.CHUNK + 37, 30, 12, 4), mode, fan_in=fan_in, generator=g)
    S = 5 * w.n_neurons
    c = (torch.rand(w.src.numel(), generator=g) * 2 - 1) * 0.7
    K = (1 + (0 if uniform else 0.05) * torch.rand(w.n_neurons, generator=g), torch.full((w.n_neurons,), 0.5),
         torch.full((w.n_neurons,), 0.5))
    u = torch.randn(S, 19, generator=g) * (0.3 if clamp else 0.03) * (torch.rand(S, 1, generator=g) < 0.5)
    fco = forward_coeffs(*K, 1.0)
    Xf = integrate(u, w.src, w.dst, c, fco, shift=1, dt=0.2, steps=40, fused=False)[1]
    lin = linearised_coeffs(fco, Xf)
    cases = [(fco, 1, w.src, w.dst, None), (backward_coeffs(*K), -1, w.dst, w.src, None),
             (backward_coeffs(*K), -1, w.dst, w.src, lin)]
    for co, shift, gather, scatter, ln in cases:
        assert kernels.plan_for(gather, scatter, w.n_neurons) is not None
        kw = dict(shift=shift, dt=0.2, steps=60, clamp=clamp, lin=ln)
        a = integrate(u, gather, scatter, c, co, fused=True, **kw)
        b = integrate(u, gather, scatter, c, co, fused=False, **kw)
        for x, y in zip(a, b):
            assert torch.allclose(x, y, atol=1e-5), (shift, ln is not None, (x - y).abs().max())


def test_fused_kernel_declines_unlayered_connections():
    """Connections that do not all point one way admit no in-place order: the torch path runs."""
    from gradfree.wuxing import kernels

    gather, scatter = torch.tensor([0, 12]), torch.tensor([7, 3])  # neuron 0 -> 1 and 2 -> 0
    assert kernels.plan_for(gather, scatter, 3) is None
    co = forward_coeffs(torch.ones(3), torch.full((3,), 0.5), torch.full((3,), 0.5), 1.0)
    u = torch.rand(15, 4) * 0.1
    a = integrate(u, gather, scatter, torch.tensor([0.5, -0.3]), co, shift=1, dt=0.2, steps=30)
    b = integrate(u, gather, scatter, torch.tensor([0.5, -0.3]), co, shift=1, dt=0.2, steps=30, fused=False)
    assert torch.equal(a[0], b[0])


def test_rk4_agrees_with_euler_at_small_dt():
    w, c, K, g = small_net(4)
    X = torch.rand(3, 6, generator=g, dtype=F64)
    ya = forward_run(w, c, K, 1.0, X, RunSpec(dt=0.02, T=30.0)).y
    yb = forward_run(w, c, K, 1.0, X, RunSpec(dt=0.2, T=30.0, integrator="rk4")).y
    assert torch.allclose(ya, yb, atol=2e-2 * ya.abs().max())


@pytest.mark.parametrize("fused", [True, False])
def test_non_finite_state_raises_naming_the_step(fused):
    w = build_wiring((4, 6, 3), "fill")
    S = 5 * w.n_neurons
    N = w.n_neurons
    K = (torch.ones(N), torch.full((N,), 0.5), torch.full((N,), 0.5))
    u = torch.full((S, 2), -20.0)  # strong negative drive, no positivity clamp
    with pytest.raises(WuxingDivergenceError, match=r"integration step \d+.*clamp=False"):
        integrate(u, w.src, w.dst, torch.ones(w.src.numel()), forward_coeffs(*K, 1.0), shift=1, dt=0.2,
                  steps=150, clamp=False, fused=fused)
    # with the clamp the same drive stays finite
    m, e = integrate(u, w.src, w.dst, torch.ones(w.src.numel()), forward_coeffs(*K, 1.0), shift=1,
                     dt=0.2, steps=150, clamp=True, fused=fused)
    assert torch.isfinite(m).all() and (e >= -1.0).all()
