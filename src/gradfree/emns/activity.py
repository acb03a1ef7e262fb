"""Activity mutation (ours; ``mutate="activities"``): EMNS's mirrored mutation applied to the
neurons' summed inputs instead of to the weights, for wide networks on image-sized data.

Weight mutation (:mod:`gradfree.emns.scale`) perturbs all n parameters at once, and the search-gradient
estimate of one mirrored pair has a cosine of about sqrt(1 / n) with the true direction: on a 13k-parameter
network 64 pairs a generation give a cosine of ~0.07 whatever the training stage (measured,
benchmarks/results/emns_fashion_search.md). Here every neuron's summed input ``z`` on every sample of the
minibatch is mutated instead, ``z +- mu * xi`` (``xi`` ~ N(0, 1), K mirrored pairs per sample, every layer
at once), the paper's mutation ``N * mu`` (sec. 2.1) acting on a neuron's state. One pair's fitness
difference ``f+ - f-`` on one sample measures the fitness's slope along ``xi``; the estimate of the
slope with respect to ``z`` has as many unknowns as the layer has neurons (64), not weights (12,544), and
a weight's step follows from it and the neuron's input, a local rule:

    g_z = sum_k (f+_k - f-_k) xi_k / (2 mu K)            # (N, out) per layer and sample
    g_W = g_z^T a / N,   g_b = mean over samples of g_z   # a: the layer's unperturbed input (N, in)

No chain rule is computed: the only link from a neuron to the fitness is the measured change of the
fitness when the neuron's activity is mutated. This is node perturbation (Flower & Jabri, "Summed
weight neuron perturbation: an O(n) improvement over weight perturbation", NeurIPS 5, 1992; Werfel,
Xie & Seung, "Learning curves for stochastic gradient descent in linear feedforward networks", Neural
Computation 17, 2005; Dalm et al., "Effective learning with node perturbation in deep neural
networks", arXiv:2310.00965) in EMNS's terms: mirrored sampling, the centre moved by Adam and every
parameter's step scaled by ``1 - r`` as in the paper's universal rule.
What it is not: the paper's rule ``theta + N mu (1 - r)`` on the weights; resistances are not adapted
from the mutations (there is no per-parameter mutation to adapt them from), so it needs
``resistance_rate=0``, ``centre="adam"`` and ``noise_rank=0``.

Per-sample fitness differences are used as measured (``shaping`` does not apply): ranks would discard how
much each sample's loss changed, and Adam normalises the scale. Cost per generation: the unperturbed
forward pass once, then only the layers after the first for 2K copies; the first layer's
(N, in) x (in, hidden) product is not repeated per candidate.
"""

from __future__ import annotations

import math

import torch

from gradfree.emns.mlp_forward import _tanh, layer_shapes, unpack
from gradfree.emns.noise import TABLE_SIZE, noise_table
from gradfree.emns.scale import ScaleParams, ScaleState, adam_direction, centre_step, sample_fitness


def _activity_noise(g: torch.Generator, K: int, N: int, widths: list[int], noise: str,
                    device: torch.device) -> list[torch.Tensor]:
    """Unit noise (K, N, width) per layer: fresh draws, or one contiguous block of the shared table."""
    total = K * N * sum(widths)
    if noise == "table" and total <= TABLE_SIZE // 2:
        o = int(torch.randint(0, TABLE_SIZE - total + 1, (1,), generator=g))
        flat = noise_table(total, device)[o]
    else:
        flat = torch.randn(total, generator=g).to(device)
    out, o = [], 0
    for w in widths:
        out.append(flat[o:o + K * N * w].view(K, N, w))
        o += K * N * w
    return out


def copy_fitness(theta: torch.Tensor, sizes: list[int], X: torch.Tensor, y: torch.Tensor,
                 xi: list[torch.Tensor], mu: float, fitness: str = "cross_entropy",
                 class_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Fitness (2K, N) of the mirrored copies: + then -, every layer's summed input mutated by
    ``+- mu * xi`` (``xi``: (K, N, width) per layer) on every sample of ``X`` (N, in)."""
    K, N = xi[0].shape[:2]
    layers = unpack(theta[None], sizes)
    z = torch.addmm(layers[0][1][0], X, layers[0][0][0].T)  # (N, hidden) the first layer's summed input
    h = torch.empty(2 * K, *z.shape, dtype=z.dtype, device=z.device)
    torch.add(z, xi[0], alpha=mu, out=h[:K])  # the + copies, then the - copies
    torch.sub(z, xi[0], alpha=mu, out=h[K:])
    for k, (W, b) in enumerate(layers[1:], start=1):
        a = _tanh(h)  # (2K, N, in_k)
        h = torch.addmm(b[0], a.view(2 * K * N, -1), W[0].T).view(2 * K, N, -1)  # (2K, N, out_k)
        h.view(2, K, N, -1)[0].add_(xi[k], alpha=mu)
        h.view(2, K, N, -1)[1].sub_(xi[k], alpha=mu)
    return sample_fitness(h, y, fitness, class_mask)


def slope_gradient(theta: torch.Tensor, sizes: list[int], X: torch.Tensor, f: torch.Tensor,
                   xi: list[torch.Tensor], mu: float) -> torch.Tensor:
    """The search gradient (n,) from the copies' fitness ``f`` (2K, N): per layer, the slope along each
    neuron's summed input times the layer's unperturbed input, averaged over the samples."""
    K, N = xi[0].shape[:2]
    layers = unpack(theta[None], sizes)
    clean = [X]  # every layer's unperturbed input
    for W, b in layers[:-1]:
        clean.append(_tanh(torch.addmm(b[0], clean[-1], W[0].T)))
    d = torch.nan_to_num(f[:K] - f[K:], nan=0.0, posinf=0.0, neginf=0.0)  # (K, N)
    parts = []
    for a, e in zip(clean, xi):
        gz = torch.einsum("kn,kno->no", d, e) / (2.0 * mu * K)  # (N, out) slope along each neuron's input
        parts += [(gz.T @ a).reshape(-1) / N, gz.mean(0)]  # (out * in,), (out,)
    return torch.cat(parts)


def search_gradient(theta: torch.Tensor, sizes: list[int], X: torch.Tensor, y: torch.Tensor,
                    K: int, mu: float, g: torch.Generator, fitness: str = "cross_entropy",
                    class_mask: torch.Tensor | None = None, noise: str = "seeded"
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimate (n,) of the gradient of the mean fitness on ``X`` (N, in) with respect to ``theta`` (n,),
    from K mirrored activity mutations per sample; also the fitness (2K, N) of the mutated copies."""
    xi = _activity_noise(g, K, X.shape[0], [o for o, _ in layer_shapes(sizes)], noise, X.device)
    f = copy_fitness(theta, sizes, X, y, xi, mu, fitness, class_mask)
    return slope_gradient(theta, sizes, X, f, xi, mu), f


def draw(st: ScaleState, p: ScaleParams, seed: int, X: torch.Tensor, y: torch.Tensor,
         batch: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """The generation's minibatch and activity noise, a pure function of ``seed`` (and ``batch``, sample
    indices that replace the seed's own minibatch)."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    N = X.shape[0]
    idx = torch.randint(0, N, (p.batch_size,), generator=g) if 0 < p.batch_size < N else None
    idx = batch if batch is not None else idx
    xb, yb = (X, y) if idx is None else (X[idx.to(X.device)], y[idx.to(X.device)])
    widths = [o for o, _ in layer_shapes(st.sizes)]
    return xb, yb, _activity_noise(g, p.population_size // 2, xb.shape[0], widths, p.noise, X.device)


def evaluate(st: ScaleState, p: ScaleParams, seed: int, X: torch.Tensor, y: torch.Tensor,
             class_mask: torch.Tensor | None = None, pairs: list[int] | None = None) -> torch.Tensor:
    """Fitness (2P, N) of the mirrored pairs ``pairs`` (default: all K) of the generation of ``seed``, +
    copies first (a distributed worker's share; each value is the same as in the whole generation)."""
    xb, yb, xi = draw(st, p, seed, X, y)
    if pairs is not None:
        rows = torch.as_tensor(pairs, dtype=torch.long, device=X.device)
        xi = [e.index_select(0, rows) for e in xi]
    return copy_fitness(st.theta, st.sizes, xb, yb, xi, st.mutation_rate, p.fitness, class_mask)


def update(st: ScaleState, p: ScaleParams, f: torch.Tensor, xb: torch.Tensor, xi: list[torch.Tensor]
           ) -> None:
    """Move the centre from the generation's copy fitness ``f`` (2K, N): Adam along the search gradient,
    every parameter's step scaled by ``1 - r`` (sec. 2.1)."""
    grad = slope_gradient(st.theta, st.sizes, xb, f, xi, st.mutation_rate)
    step_centre(st, p, grad, xi[0].shape[0])


def step_centre(st: ScaleState, p: ScaleParams, grad: torch.Tensor, K: int) -> None:
    """Adam's step along the slope estimate ``grad`` (n,) of a generation of K mirrored pairs, every
    parameter's step scaled by ``1 - r`` (also the engine's ``"activity"`` strategy)."""
    st.n_generations += 1
    st.n_evaluations += 2 * K
    scale = 1.0 - st.resistances
    st.theta = st.theta + centre_step(st, p) * scale * adam_direction(st, p, grad)
    if p.weight_decay:
        st.theta = st.theta * (1.0 - p.learning_rate * p.weight_decay * scale)
    st.resistances = torch.maximum(st.resistances, st.r_floor)


def apply(st: ScaleState, p: ScaleParams, seed: int, X: torch.Tensor, y: torch.Tensor, f: torch.Tensor
          ) -> None:
    """:func:`update` from the seed and the gathered fitness (what a distributed worker or driver runs)."""
    xb, _, xi = draw(st, p, seed, X, y)
    update(st, p, f, xb, xi)


def generation(st: ScaleState, p: ScaleParams, seed: int, X: torch.Tensor, y: torch.Tensor,
               class_mask: torch.Tensor | None = None, batch: torch.Tensor | None = None) -> float:
    """One generation of activity mutation in-process; returns the mean fitness of the mutated copies."""
    xb, yb, xi = draw(st, p, seed, X, y, batch)
    f = copy_fitness(st.theta, st.sizes, xb, yb, xi, st.mutation_rate, p.fitness, class_mask)
    update(st, p, f, xb, xi)
    finite = f[torch.isfinite(f)]
    return float(finite.mean()) if finite.numel() else -math.inf
