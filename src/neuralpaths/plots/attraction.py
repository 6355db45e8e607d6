"""Pictures of hyperplane attraction: how close the gating hyperplanes come to the target's.

Inputs are the per-target nearest-gating distances (:func:`neuralpaths.geometry.nearest_gating_distance`)
or the rows of :func:`neuralpaths.geometry.attraction_rows`; any input dimension.

Shape:
    distances ``(m,)``, one per target hyperplane (e.g. per tree node).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor


def plot_distance_histogram(
    init: Tensor | Sequence[float],
    trained: Tensor | Sequence[float],
    *,
    labels: tuple[str, str] = ("at initialisation", "after training"),
    bins: int = 28,
    title: str | None = None,
    xlabel: str = "distance to the nearest gating hyperplane",
) -> Figure:
    """Overlaid histograms of nearest-hyperplane distances (one per target), with their medians."""
    fig = Figure(figsize=(6.0, 3.8), layout="constrained")
    ax = fig.subplots()
    edges = np.linspace(0, math.sqrt(2), bins + 1)
    for data, label, color in zip((init, trained), labels, ("tab:gray", "tab:red")):
        d = torch.as_tensor(data, dtype=torch.float64).flatten().numpy()
        ax.hist(d, bins=edges, color=color, alpha=0.45, label=f"{label} (n={len(d)})")
        ax.hist(d, bins=edges, color=color, histtype="step", lw=1.2)
        med = float(np.median(d))
        ax.axvline(med, color=color, ls="--", lw=1.4, label=f"median {label}: {med:.3f}")
    ax.axvline(math.sqrt(2), color="black", ls=":", lw=1, label="√2 (random pair, high dim.)")
    ax.set_xlim(0, 1.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("number of target hyperplanes")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    ax.set_title(title or "hyperplane attraction")
    return fig


def plot_attraction_by_node(rows: Sequence[dict], *, title: str | None = None, radius: float = 0.1) -> Figure:
    """Per target (tree node), the nearest-gating distance at initialisation and after training, joined
    by an arrow, coloured by node depth; ``rows`` as from :func:`neuralpaths.geometry.attraction_rows`."""
    fig = Figure(figsize=(max(5.0, 0.42 * len(rows) + 3.5), 3.8), layout="constrained")
    ax = fig.subplots()
    depths = [int(r.get("depth", 0)) for r in rows]
    colors = [f"C{d % 10}" for d in depths]
    for i, (r, c) in enumerate(zip(rows, colors)):
        if abs(r["dist_final"] - r["dist_init"]) > 0.03:  # an arrow only where it has room
            ax.annotate(
                "",
                xy=(i, r["dist_final"]),
                xytext=(i, r["dist_init"]),
                arrowprops={"arrowstyle": "->", "color": c, "lw": 1.4, "shrinkA": 3, "shrinkB": 3},
            )
        ax.scatter([i], [r["dist_init"]], color="tab:gray", s=18, zorder=3)
        ax.scatter([i], [r["dist_final"]], color=c, s=28, zorder=3)
    ax.axhline(radius, color="black", ls=":", lw=1)
    ax.axhline(math.sqrt(2), color="black", ls="--", lw=0.8)
    handles = [
        ax.scatter([], [], color="tab:gray", s=18, label="at initialisation"),
        *[
            ax.scatter([], [], color=f"C{d % 10}", s=28, label=f"after training, depth {d}")
            for d in sorted(set(depths))
        ],
    ]
    handles.append(ax.plot([], [], color="black", ls=":", lw=1, label=f"distance {radius:g}")[0])
    handles.append(ax.plot([], [], color="black", ls="--", lw=0.8, label="√2")[0])
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xticks(range(len(rows)), [str(r.get("node", i)) for i, r in enumerate(rows)])
    ax.set_xlabel("target hyperplane (tree node, heap order)")
    ax.set_ylabel("distance to nearest gating hyperplane")
    ax.set_ylim(0, 1.5)
    ax.set_title(title or "hyperplane attraction per node")
    return fig
