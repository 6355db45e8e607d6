"""Two-dimensional toy classification sets, for pictures of half-space features.

- ``"circles"``: two concentric circles, radii 1 and 0.5 (label 1 = inner), as scikit-learn's.
- ``"moons"``: two interleaving half circles, as scikit-learn's, centred and scaled into ``[-1, 1]²``.
- ``"checkerboard"``: uniform on ``[-1, 1]²``, labels alternate over a ``cells × cells`` grid
  (its discontinuities are the grid lines: :func:`toy2d_boundaries`).
- ``"tree"``: uniform on ``[-1, 1]²``, labelled by a fixed depth-2 oblique tree (:func:`toy2d_tree`).

``noise`` is the standard deviation of Gaussian jitter added to the inputs after labelling (as in
scikit-learn), so points near a boundary may cross it. Points are shuffled.

Shape:
    ``X: (n, 2)``, ``y: (n,)`` int64 in ``{0, 1}``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..checks import positive_int, real
from ..errors import ConfigError
from ..geometry import Hyperplanes
from .odt import ObliqueTree

TOY2D = ("circles", "moons", "checkerboard", "tree")


def toy2d_tree() -> ObliqueTree:
    """The depth-2 oblique tree of the ``"tree"`` set: a tilted root line, one line on each side."""
    normals = torch.tensor([[1.0, 0.4], [0.3, 1.0], [-0.7, 1.0]], dtype=torch.float64)
    norms = normals.norm(dim=1)
    offsets = torch.tensor([-0.1, 0.25, -0.2], dtype=torch.float64) / norms
    return ObliqueTree(normals / norms[:, None], offsets, torch.tensor([0, 1, 0, 1]), 2)


def toy2d_boundaries(name: str, cells: int = 4) -> Hyperplanes | None:
    """The lines carrying the label's discontinuities (``None`` for the curved sets).

    Checkerboard: every grid line (a discontinuity along its whole length inside the square);
    tree: the tree's node lines (each a discontinuity only where its node is reached).
    """
    _check_name(name)
    if name == "tree":
        return toy2d_tree().hyperplanes
    if name != "checkerboard":
        return None
    cuts = torch.linspace(-1, 1, cells + 1, dtype=torch.float64)[1:-1]
    eye = torch.eye(2, dtype=torch.float64)
    normals = torch.cat([eye[0].expand(len(cuts), 2), eye[1].expand(len(cuts), 2)])
    return Hyperplanes(normals.clone(), -torch.cat([cuts, cuts]))


def _check_name(name: str) -> None:
    if name not in TOY2D:
        raise ConfigError(f"unknown 2-D toy set {name!r}: use one of {TOY2D}")


def _two_classes(n: int, g: torch.Generator, curve) -> tuple[Tensor, Tensor]:
    """``n // 2`` points of class 0 and the rest of class 1, each on ``curve(t, label)``, t uniform."""
    y = (torch.arange(n) >= n // 2).long()
    t = torch.rand(n, generator=g, dtype=torch.float64)
    return curve(t, y), y


def make_toy2d(
    name: str,
    n: int,
    *,
    seed: int | torch.Generator,
    noise: float = 0.0,
    cells: int = 4,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """``n`` labelled points of the 2-D toy set ``name`` (one of :data:`TOY2D`).

    ``cells`` is the checkerboard's number of cells per side. Returns ``(X (n, 2), y (n,))``.
    """
    _check_name(name)
    n, cells, noise = positive_int("n", n), positive_int("cells", cells), real("noise", noise)
    if n < 2 or noise < 0 or cells < 2:
        raise ConfigError(f"need n >= 2, noise >= 0 and cells >= 2; got n={n}, noise={noise}, cells={cells}")
    g = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    if name == "circles":

        def curve(t: Tensor, y: Tensor) -> Tensor:
            r = torch.where(y == 1, 0.5, 1.0)
            return torch.stack([r * torch.cos(2 * math.pi * t), r * torch.sin(2 * math.pi * t)], 1)

        x, y = _two_classes(n, g, curve)
    elif name == "moons":

        def curve(t: Tensor, y: Tensor) -> Tensor:
            a = math.pi * t
            upper = torch.stack([torch.cos(a), torch.sin(a)], 1)
            lower = torch.stack([1 - torch.cos(a), 0.5 - torch.sin(a)], 1)
            pts = torch.where((y == 1)[:, None], lower, upper)
            return (pts - torch.tensor([0.5, 0.25], dtype=torch.float64)) / 1.5  # into [-1, 1]²

        x, y = _two_classes(n, g, curve)
    else:
        x = 2 * torch.rand((n, 2), generator=g, dtype=torch.float64) - 1
        if name == "tree":
            y = toy2d_tree().predict(x)
        else:  # checkerboard: parity of the cell index
            idx = ((x + 1) * cells / 2).floor().clamp(0, cells - 1).long()  # (n, 2) cell coordinates
            y = idx.sum(dim=1) % 2
    order = torch.randperm(n, generator=g)  # before the noise: noise changes inputs only
    x, y = x[order], y[order]
    if noise > 0:
        x = x + noise * torch.randn(x.shape, generator=g, dtype=torch.float64)
    return x.to(dtype), y
