"""A gated model's gates as geometry: a DLGN's gating hyperplanes, path regions and values, and the
activation patterns (linear regions) of any gated model.

Shape:
    inputs ``x: (n, *in_shape)``; hyperplanes per hidden layer ``(units_l, in_dim)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..models.arch import layer_params
from ..models.base import GatedModel
from ..paths import unrolled_layers
from .hyperplanes import Hyperplanes


# --- the gating hyperplanes of a model ---------------------------------------------------------
def _check_halfspace_gates(model: GatedModel) -> None:
    mode = getattr(model, "gating_kind", None)
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
        biased = any(m.bias is not None for m in model.gating)  # the layers' own biases, not arch.bias
        out = []
        for q in model.preactivations(x):
            q = q.flatten(1)  # (1+d, *hidden_shape) -> (1+d, units)
            out.append(Hyperplanes((q[1:] - q[0]).T.clone(), q[0].clone() if biased else None))
        return out
    weights, biases = layer_params(model.gating)
    if model.gating_kind == "shallow":
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
