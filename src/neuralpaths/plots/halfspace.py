"""Pictures of half-space features: gating hyperplanes, path regions, decision functions, linear regions.

Every function returns a :class:`matplotlib.figure.Figure` (no pyplot); save it with
:func:`neuralpaths.io.save_figure`, or a sequence of them with :func:`render_frames` (PNGs and an
animated GIF). The 2-D pictures take the window ``lim = ((x0, x1), (y0, y1))`` (default: the data's
bounding box, padded) and either a callable evaluated on a grid of the window (see
:func:`grid_points`) or the values on that grid, precomputed (so pictures can be redrawn from
saved results).

Shape:
    data ``X: (n, 2)``, labels ``y: (n,)``; grid values ``(resolution, resolution)``, rows = y.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from torch import Tensor, nn

from ..geometry import Hyperplanes, activation_patterns
from .planar import (
    CLASS_COLORS,
    GATE_COLOR,
    REGION_COLOR,
    TARGET_COLOR,
    GridSource,
    Lim,
    draw_hyperplanes,
    extent,
    grid_points,
    grid_values,
    panels_size,
    scatter_classes,
    setup_axes,
    window,
)


def plot_gating_hyperplanes(
    gating: Sequence[Hyperplanes],
    X: Tensor | None = None,
    y: Tensor | None = None,
    *,
    targets: Hyperplanes | None = None,
    lim: Lim | float | None = None,
    title: str | None = None,
    ncols: int = 4,
) -> Figure:
    """One panel per hidden layer: that layer's gating hyperplanes over the data (and the target's
    discontinuities, dashed)."""
    lim = window(X, lim)
    n = len(gating)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=panels_size(lim, ncols, nrows, 3.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).flatten()
    for layer, (ax, planes) in enumerate(zip(axes, gating), start=1):
        handles = scatter_classes(ax, X, y, alpha=0.35)
        draw_hyperplanes(ax, planes, color=GATE_COLOR, lw=1.1, alpha=0.8, zorder=3)
        draw_hyperplanes(ax, targets, color=TARGET_COLOR, lw=1.6, ls="--", zorder=4)
        setup_axes(ax, lim, f"layer {layer}: {len(planes)} gating hyperplanes")
        if layer == 1:
            handles.append(Line2D([], [], color=GATE_COLOR, label="gating hyperplane"))
            if targets is not None:
                handles.append(Line2D([], [], color=TARGET_COLOR, ls="--", label="target hyperplane"))
            ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.9)
    for ax in axes[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig


def _value_text(value: float | Tensor | Sequence[float] | None) -> str:
    if value is None:
        return ""
    v = torch.as_tensor(value, dtype=torch.float64).flatten()
    return (
        f"value = {float(v[0]):+.3g}"
        if len(v) == 1
        else "value = [" + ", ".join(f"{t:+.2g}" for t in v) + "]"
    )


def plot_path_regions(
    regions: Sequence[Hyperplanes],
    values: Sequence[float | Tensor | None] | None = None,
    *,
    labels: Sequence[str] | None = None,
    X: Tensor | None = None,
    y: Tensor | None = None,
    lim: Lim | float | None = None,
    title: str | None = None,
    ncols: int = 3,
    resolution: int = 300,
) -> Figure:
    """One panel per path: its region (the intersection of its half-spaces, one per layer) shaded,
    the bounding lines with arrows into each half-space, and the path's value in the title."""
    lim = window(X, lim)
    pts = grid_points(lim, resolution)
    n = len(regions)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=panels_size(lim, ncols, nrows, 3.8), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).flatten()
    (x0, x1), (y0, y1) = lim
    centre = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2], dtype=torch.float64)
    for i, (ax, planes) in enumerate(zip(axes, regions)):
        inside = planes.positive(pts).all(1).reshape(resolution, resolution).numpy()
        ax.imshow(
            np.ma.masked_where(~inside, inside),
            extent=extent(lim),
            origin="lower",
            cmap=ListedColormap([REGION_COLOR]),
            alpha=0.35,
            interpolation="nearest",
            zorder=1,
        )
        handles = scatter_classes(ax, X, y, alpha=0.3)
        draw_hyperplanes(ax, planes, color="dimgray", lw=1.2, ls="--", zorder=3)
        scale = 0.08 * max(x1 - x0, y1 - y0)
        for w, b in zip(planes.normals.double(), planes.offsets_or_zeros().double()):
            if float(w @ w) == 0:
                continue
            foot = centre - (w @ centre + b) * w / (w @ w)  # projection of the centre onto the line
            tip = foot + scale * w / w.norm()
            ax.annotate(
                "",
                xy=tuple(tip.tolist()),
                xytext=tuple(foot.tolist()),
                zorder=4,
                arrowprops={"arrowstyle": "->", "color": "dimgray", "lw": 1.2},
            )
        name = labels[i] if labels is not None else f"path {i}"
        value = _value_text(values[i]) if values is not None else ""
        share = (
            ""
            if X is None
            else f", {100 * float(planes.positive(X.double()).all(1).float().mean()):.0f}% of data"
        )
        setup_axes(ax, lim, f"{name}\n{value}{share}")
        if i == 0:
            handles += [
                Patch(color=REGION_COLOR, alpha=0.35, label="path region"),
                Line2D([], [], color="dimgray", ls="--", label="its half-spaces (arrow: inside)"),
            ]
            ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.9)
    for ax in axes[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig


def plot_decision_function(
    f: GridSource,
    X: Tensor | None = None,
    y: Tensor | None = None,
    *,
    lim: Lim | float | None = None,
    gating: Hyperplanes | None = None,
    targets: Hyperplanes | None = None,
    title: str | None = None,
    resolution: int = 200,
) -> Figure:
    """The network's output over the window (a heatmap with its zero level as the decision boundary),
    with the data; optionally the gating hyperplanes and the target's discontinuities.

    ``f`` gives one score per point (``(N,)`` or ``(N, 1)``), two logits (their difference is drawn)
    or ``k > 2`` logits (the predicted class is drawn).
    """
    lim = window(X, lim)
    v = grid_values(f, lim, resolution)
    v = v.reshape(resolution, resolution, -1) if v.ndim > 2 else v[..., None]
    fig = Figure(figsize=(5.6, 4.8), layout="constrained")
    ax = fig.subplots()
    if v.shape[-1] > 2:
        k = v.shape[-1]
        im = ax.imshow(
            v.argmax(-1),
            extent=extent(lim),
            origin="lower",
            alpha=0.5,
            interpolation="nearest",
            cmap=ListedColormap([CLASS_COLORS[c % len(CLASS_COLORS)] for c in range(k)]),
            vmin=-0.5,
            vmax=k - 0.5,
        )
        fig.colorbar(im, ax=ax, ticks=range(k), label="predicted class")
    else:
        score = v[..., 1] - v[..., 0] if v.shape[-1] == 2 else v[..., 0]
        top = float(np.abs(score).max()) or 1.0
        im = ax.imshow(score, extent=extent(lim), origin="lower", cmap="RdBu_r", vmin=-top, vmax=top)
        ax.contour(score, levels=[0.0], extent=extent(lim), colors="black", linewidths=1.5, zorder=3)
        fig.colorbar(im, ax=ax, label="network output (score of class 1)")
    handles = scatter_classes(ax, X, y, alpha=0.8, edge=True)
    draw_hyperplanes(ax, gating, color=GATE_COLOR, lw=0.8, alpha=0.5, zorder=3)
    draw_hyperplanes(ax, targets, color=TARGET_COLOR, lw=1.4, ls="--", zorder=4)
    if v.shape[-1] <= 2:
        handles.append(Line2D([], [], color="black", label="decision boundary"))
    if gating is not None:
        handles.append(Line2D([], [], color=GATE_COLOR, alpha=0.5, label="gating hyperplanes"))
    if targets is not None:
        handles.append(Line2D([], [], color=TARGET_COLOR, ls="--", label="target hyperplane"))
    ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.9)
    setup_axes(ax, lim, title or "decision function")
    return fig


def plot_linear_regions(
    regions: GridSource,
    X: Tensor | None = None,
    y: Tensor | None = None,
    *,
    lim: Lim | float | None = None,
    title: str | None = None,
    resolution: int = 300,
    seed: int = 0,
) -> Figure:
    """Each activation pattern (linear region of a ReLU net, arrangement cell of a DLGN) in its own colour.

    ``regions``: a model (its :func:`~neuralpaths.geometry.activation_patterns`), a callable giving
    patterns ``(N, U)`` or region ids ``(N,)``, or precomputed grid values of either.
    """
    lim = window(X, lim)
    if isinstance(regions, nn.Module):
        model, dtype = regions, next(regions.parameters()).dtype
        regions = lambda pts: activation_patterns(model, pts.to(dtype))
    v = grid_values(regions, lim, resolution)
    flat = v.reshape(resolution * resolution, -1)  # ids (N, 1) or patterns (N, U)
    _, ids = np.unique(flat, axis=0, return_inverse=True)
    ids = ids.reshape(resolution, resolution)
    n_regions = int(ids.max()) + 1
    colors = np.random.default_rng(seed).uniform(0.3, 0.95, size=(n_regions, 3))
    fig = Figure(figsize=(5.2, 4.8), layout="constrained")
    ax = fig.subplots()
    ax.imshow(
        ids,
        extent=extent(lim),
        origin="lower",
        cmap=ListedColormap(colors),
        interpolation="nearest",
        vmin=-0.5,
        vmax=n_regions - 0.5,
    )
    edge = np.zeros_like(ids, dtype=bool)
    edge[:, 1:] |= ids[:, 1:] != ids[:, :-1]
    edge[1:, :] |= ids[1:, :] != ids[:-1, :]
    ax.imshow(
        np.ma.masked_where(~edge, edge),
        extent=extent(lim),
        origin="lower",
        interpolation="nearest",
        cmap=ListedColormap(["black"]),
        alpha=0.6,
    )
    handles = scatter_classes(ax, X, y, max_points=600, alpha=0.8)
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.9)
    setup_axes(ax, lim, f"{title or 'linear regions'}\n{n_regions} activation patterns in the window")
    return fig
