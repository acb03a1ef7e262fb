"""EMNS network state in flat tensors, and the batched forward pass (over samples and population).

A network with layer sizes ``[n_0, n_1, ..., n_L]`` is described by ``sizes`` alone. Each layer
``l = 1..L`` (fan-in ``m = n_{l-1}``, width ``n = n_l``) owns five blocks, stored one after the other
in one flat vector per individual:

* ``W, B, G`` - synapse weight, bias and gain, each ``(n, m)`` (sec. 3.2);
* ``A`` - aggregation coefficients ``(n, 5)`` over {x, x^2, sqrt|x|, sin x, exp(-x^2)} (sec. 3.1);
* ``H`` - activation coefficients ``(n, 5)`` over {tanh, sigmoid, relu, swish, linear} (sec. 3.1).

Values and resistances of a population are ``(P, n_params)`` tensors; synapse masks (structure, shared
by the population: growth, pruning and connection formation change them) are one ``(n_syn,)`` tensor
laid out as the ``W`` blocks concatenated. There are no per-parameter objects.

Forward, for neuron ``j`` of layer ``l`` fed by ``x`` (the previous layer's outputs, or the inputs):

    s_ji = clip(G_ji * W_ji * x_i + B_ji, +-10)                      # sec. 3.2 (reference clip)
    z_j  = clip(sum_k A_jk * sum_i mask_ji * g_k(s_ji), +-5)           # sec. 3.1 aggregation
    y_j  = clip(sum_k H_jk * h_k(clip(z_j, +-15)), +-5)                # sec. 3.1 activation

Decision the paper leaves open: the paper writes ``s = g * w * f_act(x) + b``, i.e. the activation
belongs to the pre-synaptic neuron; with activations applied once per neuron (as here) that is the
same network. The inputs pass through unchanged. The clipping is the reference's and always on: it
keeps the forward pass finite whatever the mutation does.
"""

from __future__ import annotations

import torch

N_BASES = 5
# Initial values and resistances of the reference implementation (docs/decisions.md, EMNS section).
AGG_INIT = (1.0, 0.0, 0.0, 0.0, 0.0)
AGG_R = (0.3, 0.1, 0.1, 0.05, 0.05)
ACT_INIT = (1.0, 0.0, 0.0, 0.0, 0.0)
ACT_R = (0.3, 0.1, 0.1, 0.05, 0.15)
W_STD, W_R, B_R, G_R = 0.05, 0.2, 0.1, 0.2


def layer_shapes(sizes: tuple[int, ...] | list[int]) -> list[tuple[int, int]]:
    """(width, fan-in) per layer l = 1..L."""
    return [(sizes[l], sizes[l - 1]) for l in range(1, len(sizes))]


def n_params(sizes: tuple[int, ...] | list[int]) -> int:
    return sum(3 * n * m + 2 * n * N_BASES for n, m in layer_shapes(sizes))


def n_synapses(sizes: tuple[int, ...] | list[int]) -> int:
    return sum(n * m for n, m in layer_shapes(sizes))


def unpack(flat: torch.Tensor, sizes: tuple[int, ...] | list[int]) -> list[tuple[torch.Tensor, ...]]:
    """Views ``(W, B, G, A, H)`` per layer into ``flat`` of shape (P, n_params); no copies."""
    out, o = [], 0
    P = flat.shape[0]
    for n, m in layer_shapes(sizes):
        W = flat[:, o:o + n * m].view(P, n, m)
        B = flat[:, o + n * m:o + 2 * n * m].view(P, n, m)
        G = flat[:, o + 2 * n * m:o + 3 * n * m].view(P, n, m)
        o += 3 * n * m
        A = flat[:, o:o + n * N_BASES].view(P, n, N_BASES)
        H = flat[:, o + n * N_BASES:o + 2 * n * N_BASES].view(P, n, N_BASES)
        o += 2 * n * N_BASES
        out.append((W, B, G, A, H))
    return out


def pack(layers: list[tuple[torch.Tensor, ...]]) -> torch.Tensor:
    """Inverse of :func:`unpack`: per-layer blocks (P, ...) back into one (P, n_params) tensor."""
    P = layers[0][0].shape[0]
    return torch.cat([t.reshape(P, -1) for blocks in layers for t in blocks], dim=1)


def unpack_masks(masks: torch.Tensor, sizes: tuple[int, ...] | list[int]) -> list[torch.Tensor]:
    """Views (n, m) per layer into the flat synapse mask."""
    out, o = [], 0
    for n, m in layer_shapes(sizes):
        out.append(masks[o:o + n * m].view(n, m))
        o += n * m
    return out


def init_layer(P: int, n: int, m: int, rng: torch.Generator, device: torch.device,
               r_scale: float | None = None) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Values and resistances of a fresh layer (reference initialisation), each block (P, ...).

    ``r_scale`` replaces every initial resistance by that value (growth: r_init = 0.1, sec. 6.1).
    """
    f32 = dict(dtype=torch.float32, device=device)
    W = torch.randn(P, n, m, generator=rng, **f32) * W_STD
    vals = (W, torch.zeros(P, n, m, **f32), torch.ones(P, n, m, **f32),
            torch.tensor(AGG_INIT, **f32).expand(P, n, N_BASES).clone(),
            torch.tensor(ACT_INIT, **f32).expand(P, n, N_BASES).clone())
    if r_scale is None:
        res = (torch.full((P, n, m), W_R, **f32), torch.full((P, n, m), B_R, **f32),
               torch.full((P, n, m), G_R, **f32),
               torch.tensor(AGG_R, **f32).expand(P, n, N_BASES).clone(),
               torch.tensor(ACT_R, **f32).expand(P, n, N_BASES).clone())
    else:
        res = tuple(torch.full_like(v, r_scale) for v in vals)
    return vals, res


def init_network(sizes: list[int], P: int, rng: torch.Generator, device: torch.device
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fresh ``values (P, n_params)``, ``resistances (P, n_params)`` and ``masks (n_syn,)`` (all ones).

    Every individual of the initial population starts from the same network (the first draw), so a
    population run and a single-individual run start from the same point.
    """
    layers = [init_layer(1, n, m, rng, device) for n, m in layer_shapes(sizes)]
    values = pack([v for v, _ in layers]).expand(P, -1).clone()
    res = pack([r for _, r in layers]).expand(P, -1).clone()
    masks = torch.ones(n_synapses(sizes), dtype=torch.float32, device=device)
    return values, res, masks


def _layer(x: torch.Tensor, W: torch.Tensor, B: torch.Tensor, G: torch.Tensor, A: torch.Tensor,
           H: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One layer. x (P|1, N, m) -> (P, N, n). Bases are stacked on a leading axis (fast reductions)."""
    s = torch.clamp((G * W).unsqueeze(1) * x.unsqueeze(2) + B.unsqueeze(1), -10.0, 10.0)  # (P, N, n, m)
    s2 = s * s
    basis = torch.stack((s, s2, s.abs().sqrt(), s.sin(), torch.exp(-s2)))  # (5, P, N, n, m)
    per_basis = (basis * mask).sum(-1)  # (5, P, N, n): sum_i mask_ji g_k(s_ji)
    z = (per_basis * A.permute(2, 0, 1).unsqueeze(2)).sum(0)  # (P, N, n)   sec. 3.1 aggregation
    z = torch.clamp(z, -5.0, 5.0)  # aggregation output clip; activation input clip +-15 is then a no-op
    sig = torch.sigmoid(z)
    act = torch.stack((torch.tanh(z), sig, torch.relu(z), z * sig, z))  # (5, P, N, n)
    return torch.clamp((act * H.permute(2, 0, 1).unsqueeze(2)).sum(0), -5.0, 5.0)  # sec. 3.1 activation


def forward(values: torch.Tensor, masks: torch.Tensor, sizes: list[int], X: torch.Tensor,
            return_hidden: bool = False) -> torch.Tensor | list[torch.Tensor]:
    """Outputs (P, N, n_out) of every individual on every sample; X is (N, n_in).

    With ``return_hidden`` the list of every layer's outputs (inputs first) is returned instead.
    """
    x = X.unsqueeze(0)  # (1, N, m)
    outs = [x]
    for (W, B, G, A, H), mask in zip(unpack(values, sizes), unpack_masks(masks, sizes)):
        x = _layer(x, W, B, G, A, H, mask)
        outs.append(x)
    return outs if return_hidden else x


def fitness(values: torch.Tensor, masks: torch.Tensor, sizes: list[int], X: torch.Tensor,
            Y: torch.Tensor) -> torch.Tensor:
    """-MSE per individual (P,): the paper's performance (sec. 7.1). Non-finite becomes -inf."""
    out = forward(values, masks, sizes, X)
    f = -((out - Y.unsqueeze(0)) ** 2).mean(dim=(1, 2))
    return torch.nan_to_num(f, nan=-torch.inf)
