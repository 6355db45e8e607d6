"""Axes-level helpers for pictures of 2-D inputs: the window, a grid over it, data by class, lines.

The figure-level pictures (:mod:`neuralpaths.plots.halfspace`) are built from these; experiments use
them to draw their own panels in the same style. The window is ``lim = ((x0, x1), (y0, y1))``.

Shape:
    data ``X: (n, 2)``, labels ``y: (n,)``; grid values ``(resolution, resolution, ...)``, rows = y.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from matplotlib.lines import Line2D
from torch import Tensor, nn

from ..geometry import Hyperplanes

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
def grid_values(source: GridSource, lim: Lim, resolution: int) -> np.ndarray:
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


def extent(lim: Lim) -> list[float]:
    """``[x0, x1, y0, y1]``, as ``imshow`` takes it."""
    return [lim[0][0], lim[0][1], lim[1][0], lim[1][1]]


def panels_size(lim: Lim, ncols: int, nrows: int, width: float) -> tuple[float, float]:
    """Figure size for a grid of equal-aspect panels of the window ``lim``, ``width`` inches wide each."""
    aspect = (lim[1][1] - lim[1][0]) / (lim[0][1] - lim[0][0])
    return width * ncols, (0.85 * width * min(max(aspect, 0.3), 3.0) + 0.7) * nrows + 0.3


def setup_axes(ax, lim: Lim, title: str | None = None) -> None:
    """Window, equal aspect, axis labels ``x_1``, ``x_2`` and the title."""
    ax.set_xlim(*lim[0])
    ax.set_ylim(*lim[1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)


def scatter_classes(
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


def draw_hyperplanes(ax, planes: Hyperplanes | None, **style) -> None:
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
