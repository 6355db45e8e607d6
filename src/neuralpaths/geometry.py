"""Gating geometry of deep linearly gated networks: hyperplanes, their distances, path regions.

In a DLGN the layer-``l`` gate pre-activations are affine in the input,
``q_l = V_l x + b_l`` with ``V_l = W_l ⋯ W_1`` and ``b_l = W_l b_{l-1} + c_l`` (``c_l`` the gating
biases, ``b_1 = c_1``); DLGN-SF parameterises ``(V_l, b_l)`` directly. Every gate is a half-space
of the input and every path's feature the indicator of an intersection of half-spaces.

Convention: a hyperplane is ``{x : ⟨w, x⟩ + b = 0}``; a hard gate is on on its positive side
``⟨w, x⟩ + b > 0``.

Distance (ICLR 2025 DLGN paper): ``d(u, v) = min(‖û − v̂‖, ‖û + v̂‖)`` with ``û = u/‖u‖``, between
the normals of hyperplanes through the origin (the paper's DLGNs and its COB-ODT data are bias-free,
so its code compares normals only). It lies in ``[0, √2]``, ignores sign and scale, and a random
pair in high dimension sits near ``√2``. Hyperplanes with offsets are compared through their
homogeneous vectors ``[w, b]`` (hyperplanes through the origin of the lifted input ``[x, 1]``):
this equals the paper's distance when both offsets are 0, and depends on the scale of ``x``.
A zero normal has no direction: its distances are NaN.

Shape:
    ``Hyperplanes.normals: (m, d)``, ``offsets: (m,)``; inputs ``x: (n, d)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .models.arch import layer_params
from .models.base import GatedModel
from .paths import unrolled_layers

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


# --- the gating hyperplanes of a model ---------------------------------------------------------
def _check_halfspace_gates(model: GatedModel) -> None:
    mode = getattr(model, "gating_mode", None)
    if mode not in ("linear", "shallow"):
        what = f"gating={mode!r}" if mode is not None else type(model).__name__
        raise ValueError(
            f"the gates of this model ({what}) are not half-spaces of the input: only DLGN / DLGN-SF "
            "(gating 'linear' or 'shallow') have gating hyperplanes; for ReLU networks and DGNs use "
            "activation_patterns / linear_regions"
        )


@torch.no_grad()
def gating_hyperplanes(model: GatedModel, max_entries: int = 50_000_000) -> list[Hyperplanes]:
    """The effective gating hyperplanes ``(V_l, b_l)`` of every hidden layer of a DLGN or DLGN-SF.

    DLGN: ``V_l = W_l ⋯ W_1``, ``b_l = W_l b_{l-1} + c_l`` (``offsets=None`` without gating biases);
    DLGN-SF: the parameters ``(W_l, c_l)`` themselves. Conv DLGNs are unrolled (one hyperplane per
    unit, units in ``(C, H, W)`` order, normals over the flattened input) by pushing the input basis
    through the linear gating network; ``max_entries`` bounds ``Σ_l units_l · d_in``. Detached.

    Shape:
        ``[(units_l, in_dim) normals, (units_l,) offsets] per hidden layer``.
    """
    _check_halfspace_gates(model)
    arch = model.arch
    if arch.is_conv:
        size = sum(arch.widths) * arch.in_dim
        if size > max_entries:
            raise ValueError(
                f"unrolling this conv DLGN needs {size:,} entries (> max_entries={max_entries:,}): "
                "use a smaller image or raise max_entries"
            )
        w0 = model.gating[0].weight
        basis = torch.eye(arch.in_dim, dtype=w0.dtype, device=w0.device)
        x = torch.cat([basis.new_zeros(1, arch.in_dim), basis]).view(-1, *arch.in_shape)  # (1+d, *in_shape)
        out = []
        for q in model.preactivations(x):
            q = q.flatten(1)  # (1+d, *hidden_shape) -> (1+d, units)
            out.append(Hyperplanes((q[1:] - q[0]).T.clone(), q[0].clone() if arch.bias else None))
        return out
    weights, biases = layer_params(model.gating)
    if model.gating_mode == "shallow":
        return [
            Hyperplanes(w.detach().clone(), None if c is None else c.detach().clone())
            for w, c in zip(weights, biases)
        ]
    out, v, b = [], None, None
    for w, c in zip(weights, biases):
        w = w.detach()
        if b is not None:
            b = w @ b  # b_l = W_l b_{l-1} + c_l
        if c is not None:
            b = c.detach().clone() if b is None else b + c.detach()
        v = w.clone() if v is None else w @ v  # V_l = W_l V_{l-1}
        out.append(Hyperplanes(v, b))
    return out


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


# --- paths and regions ----------------------------------------------------------------------
def _split_path(model: GatedModel, path: Sequence[int]) -> tuple[int | None, list[int]]:
    """``(i_0, units)``: a path is one unit per hidden layer, optionally led by an input coordinate."""
    path = [int(i) for i in path]
    n_hidden, sizes = model.arch.n_hidden, model.arch.widths
    if len(path) == n_hidden + 1:
        i0, units = path[0], path[1:]
        if not 0 <= i0 < model.arch.in_dim:
            raise ValueError(f"input coordinate {i0} out of range 0..{model.arch.in_dim - 1}")
    elif len(path) == n_hidden:
        i0, units = None, path
    else:
        raise ValueError(
            f"a path has one unit per hidden layer ({n_hidden}), optionally led by an input coordinate "
            f"({n_hidden + 1} in all); got {len(path)} indices"
        )
    for layer, (i, w) in enumerate(zip(units, sizes), start=1):
        if not 0 <= i < w:
            raise ValueError(f"unit {i} out of range for hidden layer {layer} of width {w}")
    return i0, units


def path_halfspaces(model: GatedModel, path: Sequence[int]) -> Hyperplanes:
    """The half-spaces (one per hidden layer) whose intersection is the path's region. Shape: ``(L, d)``."""
    _, units = _split_path(model, path)
    return Hyperplanes.cat([h[i] for h, i in zip(gating_hyperplanes(model), units)])


def path_region(model: GatedModel, path: Sequence[int], x: Tensor) -> Tensor:
    """Whether each input lies in the path's region ``∩_l {⟨v_{l,i_l}, x⟩ + b > 0}`` (hard gates),
    computed from the gating hyperplanes. Shape: ``x: (n, d) -> (n,)`` bool."""
    return path_halfspaces(model, path).positive(x.flatten(1)).all(dim=1)  # (n, *in_shape) -> (n, d)


def _value_matrices(model: GatedModel) -> list[Tensor]:
    if model.has_value_bias:
        raise ValueError("path values: the value network has biases, which are not paths; use bias=False")
    return [w.detach() for _, w in unrolled_layers(model)]


def path_value(model: GatedModel, path: Sequence[int]) -> Tensor:
    """The value of a path, per output (the row of :func:`neuralpaths.npv`).

    A path of units only (no input coordinate) gets the value of its region's feature with the
    all-ones value input, ``Σ_{i_0} v(i_0, i_1, …)`` (the paper's ``g_π``); that needs
    ``value_input="ones"``. Conv nets: as in ``npv``, the fixed factors of a path (average
    pooling's ``1/(HW)``) belong to its feature, not its value. Shape: ``-> (k,)``.
    """
    i0, units = _split_path(model, path)
    if i0 is None and model.value_input != "ones":
        raise ValueError("a path without an input coordinate has a value only for value_input='ones'")
    ws = _value_matrices(model)
    v = ws[0][units[0]].sum() if i0 is None else ws[0][units[0], i0]
    for w, i, j in zip(ws[1:-1], units[1:], units[:-1]):
        v = v * w[i, j]
    return v * ws[-1][:, units[-1]]


def unit_path_values(model: GatedModel, max_paths: int = 10_000_000) -> Tensor:
    """Values of all unit-paths with the all-ones input: entry ``[i_1, …, i_L, k]`` is
    ``path_value(model, (i_1, …, i_L))[k]``. Shape: ``-> (w_1, …, w_L, k)``."""
    if model.value_input != "ones":
        raise ValueError("unit_path_values needs value_input='ones' (with x the value depends on i_0)")
    n = model.arch.out_dim
    for w in model.arch.widths:
        n *= w
    if n > max_paths:
        raise ValueError(f"{n:,} unit-path values exceed max_paths={max_paths:,}: use path_value per path")
    ws = _value_matrices(model)
    t = ws[0].sum(dim=1)  # (w_1,)
    for w in ws[1:]:
        t = t[..., None] * w.T  # (w_1, …, w_{l-1}) x (w_{l-1}, w_l) -> (w_1, …, w_l)
    return t


# --- activation patterns and linear regions -------------------------------------------------
@torch.no_grad()
def activation_patterns(model: GatedModel, x: Tensor) -> Tensor:
    """Which gates are on (pre-activation > 0) for each input, all hidden layers concatenated.

    Shape:
        ``x: (n, *in_shape) -> (n, Σ_l units_l)`` bool.
    """
    return torch.cat([q.flatten(1) > 0 for q in model.preactivations(x)], dim=1)  # (n, *s) -> (n, units)


def linear_regions(model: GatedModel, x: Tensor) -> tuple[Tensor, int]:
    """Region id of each input (inputs share an id iff they share the gate pattern), and the number
    of distinct regions among them. Ids are comparable within one call only.

    For a ReLU network a gate pattern is a linear region; for a DLGN, a cell of the arrangement
    of all its gating hyperplanes. Shape: ``x: (n, *in_shape) -> (n,)`` int64.
    """
    patterns, ids = torch.unique(activation_patterns(model, x), dim=0, return_inverse=True)
    return ids, len(patterns)
