"""Hyperplanes ``{x : ⟨w, x⟩ + b = 0}`` as data, and the sign- and scale-free distance between them.

Distance (ICLR 2025 DLGN paper): ``d(u, v) = min(‖û − v̂‖, ‖û + v̂‖)`` with ``û = u/‖u‖``; with
offsets, the homogeneous vectors ``[w, b]`` are compared (see :mod:`neuralpaths.geometry`).

Shape:
    ``Hyperplanes.normals: (m, d)``, ``offsets: (m,)``; inputs ``x: (n, d)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

DEFAULT_RADII = (0.1, 0.2, 0.3)


@dataclass(frozen=True, eq=False)
class Hyperplanes:
    """``m`` hyperplanes ``{x : ⟨w_i, x⟩ + b_i = 0}`` in ``R^d``; ``offsets=None`` means all through 0."""

    normals: Tensor
    offsets: Tensor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.normals, Tensor) or self.normals.ndim != 2:
            raise ValueError(f"normals must be a (m, d) tensor, got {getattr(self.normals, 'shape', None)}")
        if self.offsets is not None and tuple(self.offsets.shape) != (len(self.normals),):
            raise ValueError(
                f"offsets must have shape ({len(self.normals)},), got {tuple(self.offsets.shape)}"
            )

    def __len__(self) -> int:
        return len(self.normals)

    @property
    def dim(self) -> int:
        return self.normals.shape[1]

    def __getitem__(self, idx) -> Hyperplanes:
        idx = [idx] if isinstance(idx, int) else idx
        return Hyperplanes(self.normals[idx], None if self.offsets is None else self.offsets[idx])

    def offsets_or_zeros(self) -> Tensor:
        return self.offsets if self.offsets is not None else self.normals.new_zeros(len(self))

    def evaluate(self, x: Tensor) -> Tensor:
        """``⟨w_i, x⟩ + b_i`` for every input and hyperplane, in the promoted dtype.

        Shape:
            ``x: (n, d) -> (n, m)``.
        """
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"inputs must have shape (n, {self.dim}), got {tuple(x.shape)}")
        dtype = torch.promote_types(x.dtype, self.normals.dtype)
        out = x.to(dtype) @ self.normals.to(dtype).T  # (n, d) @ (d, m) -> (n, m)
        return out if self.offsets is None else out + self.offsets.to(dtype)

    def positive(self, x: Tensor) -> Tensor:
        """Boolean ``(n, m)``: ``x`` lies strictly on the positive side (a hard gate is on)."""
        return self.evaluate(x) > 0

    def homogeneous(self) -> Tensor:
        """``[w, b]`` per hyperplane. Shape: ``(m, d + 1)``."""
        return torch.cat([self.normals, self.offsets_or_zeros()[:, None]], dim=1)

    def distance_to(self, x: Tensor) -> Tensor:
        """Euclidean distance of each input to each hyperplane, ``|⟨w, x⟩ + b| / ‖w‖``. Shape ``(n, m)``."""
        return self.evaluate(x).abs() / self.normals.norm(dim=1).to(
            torch.promote_types(x.dtype, self.normals.dtype)
        )

    def absorb_constant(self, value: float = 1.0) -> Hyperplanes:
        """The same hyperplanes for inputs ``[x, value]``: drop the last coordinate into the offsets.

        For a model fed ``x̃ = [x, 1]`` (bias-free, hyperplanes through 0 in ``R^{d+1}``) this gives
        its hyperplanes in ``R^d``. Shape: ``(m, d) -> (m, d - 1)``.
        """
        return Hyperplanes(self.normals[:, :-1], self.offsets_or_zeros() + value * self.normals[:, -1])

    def to_dict(self) -> dict:
        """JSON-able form (lists); :meth:`from_dict` inverts it."""
        return {
            "normals": self.normals.tolist(),
            "offsets": None if self.offsets is None else self.offsets.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Hyperplanes:
        off = d.get("offsets")
        return cls(
            torch.tensor(d["normals"], dtype=torch.float64),
            None if off is None else torch.tensor(off, dtype=torch.float64),
        )

    @staticmethod
    def cat(planes: Sequence[Hyperplanes]) -> Hyperplanes:
        """All hyperplanes of a list (e.g. every layer) in one object."""
        if not planes:
            raise ValueError("Hyperplanes.cat needs at least one set of hyperplanes")
        normals = torch.cat([p.normals for p in planes])
        if all(p.offsets is None for p in planes):
            return Hyperplanes(normals)
        return Hyperplanes(normals, torch.cat([p.offsets_or_zeros() for p in planes]))


def append_constant(x: Tensor, value: float = 1.0) -> Tensor:
    """``[x, value]``: the lifted input of a model whose last input coordinate is a constant.

    Shape:
        ``(n, d) -> (n, d + 1)``.
    """
    return torch.cat([x, x.new_full((len(x), 1), value)], dim=1)


# --- distances between hyperplanes ----------------------------------------------------------
def _vectors(u: Tensor | Hyperplanes, v: Tensor | Hyperplanes) -> tuple[Tensor, Tensor]:
    """The vectors compared: normals, or homogeneous ``[w, b]`` if either side has offsets."""
    lift = any(isinstance(h, Hyperplanes) and h.offsets is not None for h in (u, v))

    def vec(h: Tensor | Hyperplanes) -> Tensor:
        if isinstance(h, Hyperplanes):
            return h.homogeneous() if lift else h.normals
        if not isinstance(h, Tensor):
            raise TypeError(f"expected a Tensor of normals or Hyperplanes, got {type(h).__name__}")
        return torch.cat([h, h.new_zeros((*h.shape[:-1], 1))], dim=-1) if lift else h

    a, b = vec(u), vec(v)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"hyperplanes live in different dimensions: {a.shape[-1]} vs {b.shape[-1]}")
    dtype = torch.promote_types(a.dtype, b.dtype)
    a, b = a.to(dtype), b.to(dtype)
    return a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)


def hyperplane_distance(u: Tensor | Hyperplanes, v: Tensor | Hyperplanes) -> Tensor:
    """``min(‖û − v̂‖, ‖û + v̂‖)``, elementwise over matching rows (leading dimensions broadcast).

    Shape:
        ``u: (..., d), v: (..., d) -> (...)`` (``Hyperplanes``: ``(m,)``).
    """
    a, b = _vectors(u, v)
    return torch.minimum((a - b).norm(dim=-1), (a + b).norm(dim=-1))


def pairwise_hyperplane_distance(u: Tensor | Hyperplanes, v: Tensor | Hyperplanes) -> Tensor:
    """All pairs: entry ``(i, j)`` is ``hyperplane_distance(u[i], v[j])``.

    Shape:
        ``u: (m, d), v: (k, d) -> (m, k)``.
    """
    a, b = _vectors(u, v)
    mode = "donot_use_mm_for_euclid_dist"  # exact 0 for identical hyperplanes
    return torch.minimum(torch.cdist(a, b, compute_mode=mode), torch.cdist(a, -b, compute_mode=mode))


def _layers(gating: Hyperplanes | Sequence[Hyperplanes]) -> list[Hyperplanes]:
    return [gating] if isinstance(gating, Hyperplanes) else list(gating)


def nearest_gating_distance(
    targets: Tensor | Hyperplanes, gating: Hyperplanes | Sequence[Hyperplanes], *, per_layer: bool = False
) -> Tensor:
    """Distance of each target hyperplane to the nearest gating hyperplane (of any layer, or per layer).

    Shape:
        ``targets: (m, d) -> (m,)``, or ``(m, L)`` with ``per_layer=True``.
    """
    per = torch.stack(
        [pairwise_hyperplane_distance(targets, g).min(dim=1).values for g in _layers(gating)], 1
    )
    return per if per_layer else per.min(dim=1).values


def count_within(
    targets: Tensor | Hyperplanes,
    gating: Hyperplanes | Sequence[Hyperplanes],
    radii: Sequence[float] = DEFAULT_RADII,
    *,
    per_layer: bool = False,
) -> Tensor:
    """How many gating hyperplanes lie within distance ``r`` (``≤ r``) of each target, for each radius.

    Shape:
        ``targets: (m, d) -> (m, len(radii))`` int64, or ``(m, L, len(radii))`` with ``per_layer=True``.
    """
    r = torch.as_tensor(list(radii), dtype=torch.float64)
    per = torch.stack(
        [
            (pairwise_hyperplane_distance(targets, g).double()[:, :, None] <= r).sum(1)
            for g in _layers(gating)
        ],
        1,
    )  # (m, L, R)
    return per if per_layer else per.sum(1)


def attraction_rows(
    targets: Tensor | Hyperplanes,
    gating_init: Hyperplanes | Sequence[Hyperplanes],
    gating_final: Hyperplanes | Sequence[Hyperplanes],
    *,
    depths: Sequence[int] | Tensor | None = None,
    radii: Sequence[float] = DEFAULT_RADII,
) -> list[dict]:
    """One row per target: nearest gating distance at init and after training, counts within ``radii``
    (after training), and the layer holding the nearest gating hyperplane — the ICLR 2025 Table 1."""
    d0 = nearest_gating_distance(targets, gating_init)
    per_final = nearest_gating_distance(targets, gating_final, per_layer=True)
    counts = count_within(targets, gating_final, radii)
    rows = []
    for i in range(len(d0)):
        row = {"node": i} if depths is None else {"node": i, "depth": int(depths[i])}
        row |= {"dist_init": float(d0[i]), "dist_final": float(per_final[i].min())}
        row["nearest_layer"] = int(per_final[i].argmin()) + 1
        row |= {f"within_{r:g}": int(c) for r, c in zip(radii, counts[i])}
        rows.append(row)
    return rows
