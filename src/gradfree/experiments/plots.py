"""Figure and table helpers shared by experiments' report and figure steps (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (4.5, 3.6)):
    """A figure with ``nrows x ncols`` axes of the given per-axes size; returns (fig, axes array)."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    return fig, axes


def accuracy_matrix_heatmap(ax, R: Sequence[Sequence[float]], title: str = "",
                            task_names: Sequence[str] | None = None) -> None:
    """Draw ``R[t, u]`` (accuracy on task u after training task t, a fraction) in %, values in the cells."""
    R = np.asarray(R, dtype=float) * 100
    im = ax.imshow(R, vmin=0, vmax=100, cmap="viridis")
    T = R.shape[0]
    for t in range(T):
        for u in range(R.shape[1]):
            ax.text(u, t, f"{R[t, u]:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if R[t, u] < 60 else "black")
    labels = task_names or [f"T{i + 1}" for i in range(T)]
    ax.set_xticks(range(R.shape[1]), labels, fontsize=7, rotation=45)
    ax.set_yticks(range(T), [f"after {x}" for x in labels], fontsize=7)
    ax.set_xlabel("task evaluated")
    ax.set_ylabel("training so far")
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, label="accuracy (%)")


def clipped_yerr(mean: np.ndarray, sd: np.ndarray, low: float = 0.0, high: float = 100.0) -> np.ndarray:
    """Asymmetric error bars (2, n) for ``mean ± sd`` that stop at the metric's range [low, high]."""
    mean, sd = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
    return np.stack([np.minimum(sd, mean - low), np.minimum(sd, high - mean)]).clip(min=0)


def mean_sd(values: Sequence[float]) -> str:
    """``mean ± sd`` as a percentage string (sd over seeds, ddof=0; '±0.0' for one seed)."""
    v = np.asarray(values, dtype=float) * 100
    return f"{v.mean():.1f} ± {v.std():.1f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def in_order(d: dict, names: Sequence[str]) -> dict:
    """``d`` with the keys of ``names`` first, in that order, then any others sorted: results.json stores
    its keys sorted, so a report step restores the order its rows were computed in."""
    return {n: d[n] for n in [*names, *sorted(set(d) - set(names), key=str)] if n in d}


def png_bytes(fig) -> bytes:
    """``fig`` as PNG bytes (110 dpi, tight box, no time stamp or software tag, so the same figure gives
    the same bytes), and close it."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
