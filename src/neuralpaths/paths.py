"""Neural path features (NPF) and values (NPV) by explicit enumeration, and path norms.

A path ``p = (i_0, i_1, ..., i_{d-1})`` picks an input coordinate and one unit per hidden layer,
following a connection that exists in the network (conv nets: inside the kernel window and the
image; weight sharing means many paths reuse one weight). With ``x̃`` the value network's input
(``x`` or ones),

    ``φ_x(p) = x̃(i_0) · c(p) · Π_l G_l(x, i_l)``      ``v(p)_k = Π_l Θᵛ_l(i_l, i_{l-1}) · Θᵛ_d(k, i_{d-1})``

where ``c(p)`` is the product of the fixed linear factors on the path (average pooling's ``1/(HW)``;
1 elsewhere). Then ``ŷ(x) = φ_x · v`` exactly (Identity 1).

Enumeration is for small nets: every function raises ``ValueError`` when the number of paths
exceeds ``max_paths``.

Any ``nn.Module`` the path view reads (biases, strides, max-pooling, average pooling, BatchNorm in
eval mode, residual blocks, concatenation: :mod:`neuralpaths.graph`) goes through the general
enumeration of :mod:`neuralpaths.graph.paths`, where **biases are paths** (a path may start at any
unit's bias; the output bias is a path of length zero with feature 1) unless ``ignore_bias=True``.
The library's own bias-free models keep the fast layered enumeration below.

Shape:
    ``npf: (n, *in_shape) -> (n, P)``; ``npv: -> (P, k)``; ``path_index: -> (P, n_hidden + 1)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .graph import paths as general
from .graph.model import path_model
from .models.arch import gated_forward
from .models.base import GatedModel

DEFAULT_MAX_PATHS = 2_000_000


def _layered(model: nn.Module, ignore_bias: bool = False) -> bool:
    """Whether the fast layered code applies: a library model without (or ignoring) value biases."""
    return isinstance(model, GatedModel) and (ignore_bias or not model.has_value_bias)


def gates(model: nn.Module, x: Tensor) -> list[Tensor]:
    """The gates of any model on ``x``: one ``(n, units)`` tensor per gated layer (ReLU, LeakyReLU:
    gate values; max-pool: its window selections, ``C·K·L`` per sample), in forward order.

    Shape:
        ``x: (n, *in_shape) -> [(n, units_l)]``.
    """
    if isinstance(model, GatedModel):
        model.check_input(x)
        return model.gates(x)
    pm = path_model(model)
    general.check_x(pm, x, "gates")
    return general.gate_list(pm, x)


def _unit_weights(model: GatedModel) -> list[Tensor]:
    """All-ones weights of the value network, with a single output unit."""
    ws = [torch.ones_like(m.weight) for m in model.value_layers]
    ws[-1] = ws[-1][:1]
    return ws


def count_paths(
    model: nn.Module, *, ignore_bias: bool = False, in_shape: tuple[int, ...] | None = None
) -> int:
    """Number of paths into one output unit (the unit-weight net on ones, all gates on, sum pooling),
    bias paths included unless ``ignore_bias``. ``in_shape``: one sample's shape (plain conv modules)."""
    if not _layered(model, ignore_bias):
        pm = path_model(model)
        return general.count(pm, tuple(in_shape) if in_shape else pm.input_shape("count_paths"), ignore_bias)
    w0 = model.value_layers[0].weight
    ws = [w.to(torch.float64) for w in _unit_weights(model)]
    h0 = torch.ones((1, *model.arch.in_shape), dtype=torch.float64, device=w0.device)
    return int(gated_forward(model.arch, ws, h0, None, pool_power=0).round().item())


def _unroll_conv(weight: Tensor, spatial: tuple[int, int]) -> Tensor:
    """A 'same' conv as a dense matrix.

    Shape:
        ``weight: (C_out, C_in, k, k) -> (C_out*H*W, C_in*H*W)``.
    """
    c_in, (h, w) = weight.shape[1], spatial
    eye = torch.eye(c_in * h * w, dtype=weight.dtype, device=weight.device).view(c_in * h * w, c_in, h, w)
    out = F.conv2d(eye, weight, padding=weight.shape[-1] // 2)  # (C_in*H*W, C_out, H, W)
    return out.reshape(c_in * h * w, -1).T  # (C_out*H*W, C_in*H*W)


def unrolled_layers(model: GatedModel) -> list[tuple[Tensor, Tensor]]:
    """Each weight layer as ``(factor, weight)`` dense matrices over units, ``layer = factor ⊙ weight``.

    ``factor`` is the fixed part (0 where no connection exists, the pooling factor after GAP, else 1);
    ``weight`` holds the learnable weight each connection carries.

    Shape:
        layer ``l``: ``(units_l, units_{l-1})`` with units counted after unrolling convs.
    """
    arch = model.arch
    spatial = arch.in_shape[1:]
    maps = []
    for i, m in enumerate(model.value_layers):
        w = m.weight
        if i < len(arch.conv):
            maps.append((_unroll_conv(torch.ones_like(w), spatial), _unroll_conv(w, spatial)))
        elif i == len(arch.conv) and arch.conv:
            c, hw = arch.conv[-1], spatial[0] * spatial[1]
            eye = torch.eye(c, dtype=w.dtype, device=w.device)
            if arch.pool == "gap":  # (C, C*HW): channel c averages its HW positions
                pool = torch.kron(eye, torch.ones((1, hw), dtype=w.dtype, device=w.device)) / hw
            else:
                pool = torch.eye(c * hw, dtype=w.dtype, device=w.device)
            maps.append((torch.ones_like(w) @ pool, w @ (pool != 0).to(w.dtype)))
        else:
            maps.append((torch.ones_like(w), w))
    return maps


@torch.no_grad()
def path_index(model: GatedModel, max_paths: int = DEFAULT_MAX_PATHS) -> tuple[Tensor, Tensor]:
    """Enumerate the paths: unit indices ``(P, n_hidden + 1)`` and fixed factors ``c(p)``, ``(P,)``.

    Indices are into the flattened input and the flattened hidden layers (``(C, H, W)`` order).
    """
    n_paths = count_paths(model, ignore_bias=True)
    if n_paths > max_paths:
        raise ValueError(
            f"the network has P = {n_paths:,} paths per output, more than max_paths = {max_paths:,}; "
            "enumerate a smaller net, raise max_paths, or use neuralpaths.kernels.npk (no enumeration)"
        )
    maps = unrolled_layers(model)
    dev, dtype = maps[0][0].device, maps[0][0].dtype
    idx = torch.arange(model.arch.in_dim, device=dev)[:, None]
    fac = torch.ones(model.arch.in_dim, dtype=dtype, device=dev)
    for factor, _ in maps[:-1]:
        edges = factor.T.nonzero()  # (E, 2) rows (source j, target i), sorted by source
        src, dst = edges[:, 0], edges[:, 1]
        counts = torch.bincount(src, minlength=factor.shape[1])
        starts = torch.cumsum(counts, 0) - counts
        ends = idx[:, -1]
        reps = counts[ends]  # new paths spawned by each current path
        parent = torch.repeat_interleave(torch.arange(len(idx), device=dev), reps)
        offset = torch.arange(len(parent), device=dev) - torch.repeat_interleave(
            torch.cumsum(reps, 0) - reps, reps
        )
        new = dst[starts[ends[parent]] + offset]
        fac = fac[parent] * factor[new, ends[parent]]
        idx = torch.cat([idx[parent], new[:, None]], dim=1)
    last = maps[-1][0]
    if not torch.equal(last, last[:1].expand_as(last)):
        raise AssertionError("output layer's fixed factors differ between outputs")
    fac = fac * last[0, idx[:, -1]]
    assert len(idx) == n_paths, (len(idx), n_paths)
    return idx, fac


def npf(
    model: nn.Module, x: Tensor, max_paths: int = DEFAULT_MAX_PATHS, *, ignore_bias: bool = False
) -> Tensor:
    """Neural path features ``φ_x``, one row per input, for any supported model (bias paths
    included unless ``ignore_bias``).

    Shape:
        ``x: (n, *in_shape) -> (n, P)``.
    """
    if not _layered(model, ignore_bias):
        return general.npf(path_model(model), x, max_paths, ignore_bias)
    model.check_input(x)
    if not model.arch.is_conv:  # every path exists, in lexicographic order: an outer product
        n_paths = count_paths(model, ignore_bias=True)
        if n_paths > max_paths:
            path_index(model, max_paths)  # raises the explanatory error
        phi = model.value_input_for(x)
        for g in model.gates(x):
            phi = (phi[..., None] * g[:, None, :]).flatten(1)  # (n, P_l) x (n, w) -> (n, P_l * w)
        return phi
    return _npf_gather(model, x, *path_index(model, max_paths))


def sub_architecture_paths(
    model: nn.Module, *, in_shape: tuple[int, ...] | None = None, ignore_bias: bool = False
) -> dict[str, int]:
    """Paths into one output unit of each sub-architecture of a residual network (the keys of
    :func:`neuralpaths.kernels.npk_parts`); they sum to :func:`count_paths`."""
    pm = path_model(model)
    shape = tuple(in_shape) if in_shape is not None else pm.input_shape("sub_architecture_paths")
    return general.part_counts(pm, shape, ignore_bias)


def _npf_gather(model: GatedModel, x: Tensor, idx: Tensor, fac: Tensor) -> Tensor:
    """``φ`` for any architecture from the enumerated paths (one gather per layer)."""
    phi = model.value_input_for(x).flatten(1)[:, idx[:, 0]] * fac  # (n, in_dim) -> (n, P)
    for layer, g in enumerate(model.gates(x), start=1):
        phi = phi * g[:, idx[:, layer]]
    return phi


def npv(
    model: nn.Module,
    max_paths: int = DEFAULT_MAX_PATHS,
    *,
    ignore_bias: bool = False,
    in_shape: tuple[int, ...] | None = None,
) -> Tensor:
    """Neural path values ``v``, one column per output (differentiable in the value weights), in
    the order of :func:`npf`'s columns. ``in_shape`` (one sample's shape) is needed for plain conv
    modules, whose paths depend on the image size.

    Shape:
        ``-> (P, k)``.
    """
    if not _layered(model, ignore_bias):
        return general.npv(path_model(model), max_paths, ignore_bias, in_shape)
    idx, _ = path_index(model, max_paths)
    maps = unrolled_layers(model)
    v = torch.ones(len(idx), dtype=maps[0][1].dtype, device=idx.device)
    for layer, (_, w) in enumerate(maps[:-1], start=1):
        v = v * w[idx[:, layer], idx[:, layer - 1]]
    return v[:, None] * maps[-1][1][:, idx[:, -1]].T  # (P,) x (k, P).T -> (P, k)


def path_norm(
    model: nn.Module,
    p: float = 2.0,
    per_output: bool = False,
    *,
    ignore_bias: bool = False,
    in_shape: tuple[int, ...] | None = None,
) -> Tensor:
    """``‖v‖_p`` over all paths, by one forward pass of the net with ``|w|^p`` weights on ones.

    Every path counts regardless of gates; with weight sharing every unrolled path counts; bias
    paths count with ``|b|^p`` unless ``ignore_bias``; BatchNorm is folded into the layer before it.
    ``per_output=True`` gives one norm per output unit ``(k,)``; otherwise one over all of ``v``.
    """
    if not (p > 0 and p != float("inf")):
        raise ValueError(f"path_norm needs a finite p > 0, got {p}")
    if not _layered(model, ignore_bias):
        return general.path_norm(path_model(model), p, per_output, ignore_bias, in_shape)
    ws = [m.weight.abs() ** p for m in model.value_layers]
    h0 = ws[0].new_ones((1, *model.arch.in_shape))
    sums = gated_forward(model.arch, ws, h0, None, pool_power=0)[0]  # (k,): Σ_p |v_pk|^p
    return (sums if per_output else sums.sum()) ** (1.0 / p)
