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
from collections.abc import Callable, Sequence

import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from torch import Tensor, nn

from ..geometry import Hyperplanes, activation_patterns

Lim = tuple[tuple[float, float], tuple[float, float]]
GridSource = Callable[[Tensor], Tensor] | nn.Module | np.ndarray | Tensor

CLASS_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:brown", "tab:pink", "tab:olive")
GATE_COLOR, TARGET_COLOR, REGION_COLOR = "tab:purple", "black", "tab:green"


def window(X: Tensor | None = None, lim: Lim | float | None = None, pad: float = 0.1) -> Lim:
    """The plotting window: ``lim`` itself, ``((-lim, lim), (-lim, lim))`` for a number, or the data's
    bounding box grown by ``pad`` of its size (``[-1.1, 1.1]²`` without data)."""
    if isinstance(lim, (int, float)):
        return ((-float(lim), float(lim)), (-float(lim), float(lim)))
    if lim is not None:
        (x0, x1), (y0, y1) = lim
        return ((float(x0), float(x1)), (float(y0), float(y1)))
    if X is None or len(X) == 0:
        return ((-1.1, 1.1), (-1.1, 1.1))
    lo, hi = X.double().min(0).values, X.double().max(0).values
    p = pad * (hi - lo).max()
    return ((float(lo[0] - p), float(hi[0] + p)), (float(lo[1] - p), float(hi[1] + p)))


def grid_points(lim: Lim, resolution: int = 200) -> Tensor:
    """A ``resolution × resolution`` grid over ``lim``, rows = y, as points.

    Shape:
        ``-> (resolution**2, 2)`` float64; ``values.reshape(resolution, resolution)`` is an image.
    """
    (x0, x1), (y0, y1) = lim
    xs = torch.linspace(x0, x1, resolution, dtype=torch.float64)
    ys = torch.linspace(y0, y1, resolution, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], 1)  # (res, res) x 2 -> (res*res, 2)


@torch.no_grad()
def _on_grid(source: GridSource, lim: Lim, resolution: int) -> np.ndarray:
    """Values of ``source`` on the grid: a precomputed array, or a callable / module applied to it."""
    if isinstance(source, (np.ndarray, Tensor)):
        values = torch.as_tensor(source)
        if values.shape[:2] != (resolution, resolution):
            raise ValueError(
                f"grid values must have shape ({resolution}, {resolution}, ...), got {tuple(values.shape)}"
            )
        return values.cpu().numpy()
    pts = grid_points(lim, resolution)
    if isinstance(source, nn.Module):
        pts = pts.to(next(source.parameters()).dtype)
    out = torch.as_tensor(source(pts)).detach().cpu()
    return out.reshape(resolution, resolution, *out.shape[1:]).numpy()


def _extent(lim: Lim) -> list[float]:
    return [lim[0][0], lim[0][1], lim[1][0], lim[1][1]]


def _panels_size(lim: Lim, ncols: int, nrows: int, width: float) -> tuple[float, float]:
    """Figure size for a grid of equal-aspect panels of the window ``lim``, ``width`` inches wide each."""
    aspect = (lim[1][1] - lim[1][0]) / (lim[0][1] - lim[0][0])
    return width * ncols, (0.85 * width * min(max(aspect, 0.3), 3.0) + 0.7) * nrows + 0.3


def _setup(ax, lim: Lim, title: str | None = None) -> None:
    ax.set_xlim(*lim[0])
    ax.set_ylim(*lim[1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)


def _scatter(
    ax, X: Tensor | None, y: Tensor | None, max_points: int = 1500, alpha: float = 0.6, edge: bool = False
) -> list:
    """Data coloured by class (the first ``max_points``); legend handles."""
    if X is None:
        return []
    X, y = X[:max_points].double().cpu(), (torch.zeros(len(X)) if y is None else y[:max_points]).long()
    handles = []
    for c in torch.unique(y).tolist():
        pts = X[y == c]
        color = CLASS_COLORS[c % len(CLASS_COLORS)]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=9 if edge else 6,
            color=color,
            alpha=alpha,
            zorder=2,
            edgecolors="white" if edge else "none",
            linewidths=0.3 if edge else 0,
        )
        handles.append(Line2D([], [], ls="", marker="o", color=color, label=f"class {c}"))
    return handles


def _lines(ax, planes: Hyperplanes | None, **style) -> None:
    """Each hyperplane ``⟨w, x⟩ + b = 0`` as an infinite line (clipped to the window by matplotlib)."""
    if planes is None:
        return
    normals = planes.normals.double().cpu()
    offsets = planes.offsets_or_zeros().double().cpu()
    for w, b in zip(normals, offsets):
        nn2 = float(w @ w)
        if nn2 == 0:
            continue
        p = -b * w / nn2  # the point of the line closest to the origin
        ax.axline((float(p[0]), float(p[1])), (float(p[0] - w[1]), float(p[1] + w[0])), **style)


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
    fig = Figure(figsize=_panels_size(lim, ncols, nrows, 3.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).flatten()
    for layer, (ax, planes) in enumerate(zip(axes, gating), start=1):
        handles = _scatter(ax, X, y, alpha=0.35)
        _lines(ax, planes, color=GATE_COLOR, lw=1.1, alpha=0.8, zorder=3)
        _lines(ax, targets, color=TARGET_COLOR, lw=1.6, ls="--", zorder=4)
        _setup(ax, lim, f"layer {layer}: {len(planes)} gating hyperplanes")
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
    fig = Figure(figsize=_panels_size(lim, ncols, nrows, 3.8), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).flatten()
    (x0, x1), (y0, y1) = lim
    centre = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2], dtype=torch.float64)
    for i, (ax, planes) in enumerate(zip(axes, regions)):
        inside = planes.positive(pts).all(1).reshape(resolution, resolution).numpy()
        ax.imshow(
            np.ma.masked_where(~inside, inside),
            extent=_extent(lim),
            origin="lower",
            cmap=ListedColormap([REGION_COLOR]),
            alpha=0.35,
            interpolation="nearest",
            zorder=1,
        )
        handles = _scatter(ax, X, y, alpha=0.3)
        _lines(ax, planes, color="dimgray", lw=1.2, ls="--", zorder=3)
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
        _setup(ax, lim, f"{name}\n{value}{share}")
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
    v = _on_grid(f, lim, resolution)
    v = v.reshape(resolution, resolution, -1) if v.ndim > 2 else v[..., None]
    fig = Figure(figsize=(5.6, 4.8), layout="constrained")
    ax = fig.subplots()
    if v.shape[-1] > 2:
        k = v.shape[-1]
        im = ax.imshow(
            v.argmax(-1),
            extent=_extent(lim),
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
        im = ax.imshow(score, extent=_extent(lim), origin="lower", cmap="RdBu_r", vmin=-top, vmax=top)
        ax.contour(score, levels=[0.0], extent=_extent(lim), colors="black", linewidths=1.5, zorder=3)
        fig.colorbar(im, ax=ax, label="network output (score of class 1)")
    handles = _scatter(ax, X, y, alpha=0.8, edge=True)
    _lines(ax, gating, color=GATE_COLOR, lw=0.8, alpha=0.5, zorder=3)
    _lines(ax, targets, color=TARGET_COLOR, lw=1.4, ls="--", zorder=4)
    if v.shape[-1] <= 2:
        handles.append(Line2D([], [], color="black", label="decision boundary"))
    if gating is not None:
        handles.append(Line2D([], [], color=GATE_COLOR, alpha=0.5, label="gating hyperplanes"))
    if targets is not None:
        handles.append(Line2D([], [], color=TARGET_COLOR, ls="--", label="target hyperplane"))
    ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.9)
    _setup(ax, lim, title or "decision function")
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
    v = _on_grid(regions, lim, resolution)
    flat = v.reshape(resolution * resolution, -1)  # ids (N, 1) or patterns (N, U)
    _, ids = np.unique(flat, axis=0, return_inverse=True)
    ids = ids.reshape(resolution, resolution)
    n_regions = int(ids.max()) + 1
    colors = np.random.default_rng(seed).uniform(0.3, 0.95, size=(n_regions, 3))
    fig = Figure(figsize=(5.2, 4.8), layout="constrained")
    ax = fig.subplots()
    ax.imshow(
        ids,
        extent=_extent(lim),
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
        extent=_extent(lim),
        origin="lower",
        interpolation="nearest",
        cmap=ListedColormap(["black"]),
        alpha=0.6,
    )
    handles = _scatter(ax, X, y, max_points=600, alpha=0.8)
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.9)
    _setup(ax, lim, f"{title or 'linear regions'}\n{n_regions} activation patterns in the window")
    return fig
