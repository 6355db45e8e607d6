"""Pooling windows as tensors: the edges of max-pooling and average pooling, and their coefficients.

A pooling step maps each output position ``l`` to the ``K`` input positions of its window.
:func:`windows` lays them out as ``(n, C, K, L)`` (padding filled with ``fill``), so that

- max-pooling with a selection ``s`` (one-hot over ``K``, or a softmax) is ``Σ_K s ⊙ windows(h)``;
- the selection of PyTorch's own ``max_pool`` comes from its ``return_indices`` (:func:`selection`),
  so ties are broken exactly as PyTorch breaks them;
- an average pool's per-output coefficient ``1/D(l)`` (:func:`pool_coef`) honours padding,
  ``count_include_pad``, ``ceil_mode``, ``divisor_override`` and adaptive windows.

Shape:
    ``windows: (n, C, *spatial) -> (n, C, K, L)``; ``selection: -> (n, C, K, L)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .ir import Step


def _pair(v, dims: int) -> tuple[int, ...]:
    v = tuple(v) if isinstance(v, Sequence) else (v,) * dims
    return v if len(v) == dims else v * dims


def out_size(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """PyTorch's pooling output length."""
    span = size + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil else span // s) + 1
    if ceil and (o - 1) * s >= size + p:
        o -= 1
    return o


# the settings of MaxPool / AvgPool modules that decide their windows
WINDOW_KEYS = (
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "ceil_mode",
    "count_include_pad",
    "divisor_override",
)


def window_params(step: Step, root: nn.Module | None) -> dict:
    """``dims, kernel_size, stride, padding, dilation, ceil_mode`` (and for average pools
    ``count_include_pad, divisor_override``) of a max/avg pooling step, each a per-dim tuple."""
    if step.module is not None:  # MaxPool / AvgPool modules
        m = root.get_submodule(step.module)
        info = {k: getattr(m, k) for k in WINDOW_KEYS if hasattr(m, k)}
    elif step.kind == "maxpool":  # F.max_pool*: parsed when traced
        info = dict(step.info)
    else:
        names = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]
        info = dict(zip(names, step.args[1:])) | dict(step.kwargs)
    dims = step.info["dims"]
    k = _pair(info["kernel_size"], dims)
    stride = info.get("stride")
    return dict(
        dims=dims,
        kernel_size=k,
        stride=k if stride in (None, (), []) else _pair(stride, dims),
        padding=_pair(info.get("padding", 0), dims),
        dilation=_pair(info.get("dilation", 1), dims),
        ceil_mode=bool(info.get("ceil_mode", False)),
        count_include_pad=bool(info.get("count_include_pad", True)),
        divisor_override=info.get("divisor_override"),
    )


def _as_2d(t: Tensor, w: dict) -> tuple[Tensor, list[tuple[int, ...]]]:
    """Unsqueeze 1-d pooling to 2-d; per-dim ``(k, s, p, d)`` lists for the two dims."""
    if w["dims"] == 1:
        t = t.unsqueeze(2)  # (n, C, L) -> (n, C, 1, L)
        return t, [(1, 1, 0, 1), (w["kernel_size"][0], w["stride"][0], w["padding"][0], w["dilation"][0])]
    keys = ("kernel_size", "stride", "padding", "dilation")
    return t, [tuple(w[key][i] for key in keys) for i in range(2)]


def windows(
    t: Tensor, w: dict, fill: float = 0.0, outs: Sequence[int] | None = None
) -> tuple[Tensor, tuple[int, ...]]:
    """The pooling windows of ``t``: ``(n, C, K, L)`` and the output spatial shape.

    Positions outside the input (padding, and the extra right margin of ``ceil_mode``) hold ``fill``.
    ``outs`` forces the number of windows per dim (2-d layout) instead of PyTorch's formula.
    """
    t, per_dim = _as_2d(t, w)
    if outs is None:
        outs = [out_size(t.shape[2 + i], *per_dim[i], w["ceil_mode"]) for i in range(2)]
    pads = []
    for i in (1, 0):  # F.pad lists the last dim first
        k, s, p, d = per_dim[i]
        extra = max(0, (outs[i] - 1) * s + d * (k - 1) + 1 - (t.shape[2 + i] + 2 * p))
        pads += [p, p + extra]
    if any(pads):
        t = F.pad(t, pads, value=fill)
    n, c = t.shape[:2]
    (k0, s0, _, d0), (k1, s1, _, d1) = per_dim
    v = t.unfold(2, d0 * (k0 - 1) + 1, s0).unfold(3, d1 * (k1 - 1) + 1, s1)  # (n, C, O0, O1, span0, span1)
    v = v[:, :, : outs[0], : outs[1], ::d0, ::d1]  # strided views so far: (n, C, O0, O1, k0, k1)
    cols = v.permute(0, 1, 4, 5, 2, 3).reshape(n, c, k0 * k1, outs[0] * outs[1])  # one copy: (n, C, K, L)
    out_shape = tuple(outs) if w["dims"] == 2 else (outs[1],)
    return cols, out_shape


def selection(q: Tensor, w: dict, beta: float = math.inf) -> Tensor:
    """Max-pooling's selection over each window, from the values ``q`` that are pooled.

    ``beta = inf``: one-hot at PyTorch's own argmax (``return_indices``). Finite ``beta``: the soft
    selection ``softmax(beta · q)`` over the window (padding excluded), which tends to the argmax as
    ``beta → ∞`` (ties shared).

    Shape:
        ``(n, C, *spatial) -> (n, C, K, L)``.
    """
    if math.isinf(beta):
        pool = F.max_pool1d if w["dims"] == 1 else F.max_pool2d
        kw = {k: w[k] for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode")}
        _, idx = pool(q.detach(), return_indices=True, **kw)
        plane = torch.arange(math.prod(q.shape[2:]), dtype=torch.float64, device=q.device)
        ids, _ = windows(plane.view(1, 1, *q.shape[2:]), w, fill=-1.0)  # (1, 1, K, L)
        return (ids == idx.flatten(2)[:, :, None, :].to(ids.dtype)).to(q.dtype)
    cols, _ = windows(q, w, fill=-math.inf)
    return torch.softmax(beta * cols, dim=2)


def select(h: Tensor, s: Tensor, w: dict) -> Tensor:
    """``Σ_K s ⊙ windows(h)``: max-pooling of ``h`` with the given selection. Shape: like ``max_pool``."""
    cols, out_shape = windows(h, w)
    return (s * cols).sum(dim=2).reshape(*h.shape[:2], *out_shape)


def _adaptive_counts(size: int, out: int) -> Tensor:
    starts = [(i * size) // out for i in range(out)]
    ends = [-(-((i + 1) * size) // out) for i in range(out)]
    return torch.tensor([e - s for s, e in zip(starts, ends)], dtype=torch.float64)


def pool_coef(step: Step, root: nn.Module | None, t_in: Tensor, t_out: Tensor) -> Tensor | float:
    """The fixed coefficient on every edge into each output unit of a pooling step.

    ``sum``: 1; ``mean``: ``1/N``; average pools: ``1/D(l)`` with ``D`` PyTorch's divisor; adaptive
    average pools: ``1/|window(l)|``. Broadcastable to ``t_out``.
    """
    if step.info["dims"] == 0:
        return 1.0 if step.info.get("sum") else t_out[0].numel() / t_in[0].numel()
    name = type(root.get_submodule(step.module)).__name__ if step.module else getattr(step.fn, "__name__", "")
    spatial = t_in.shape[2:]
    if "daptive" in name:
        counts = [_adaptive_counts(s, o) for s, o in zip(spatial, t_out.shape[2:])]
        size = counts[0] if len(counts) == 1 else counts[0][:, None] * counts[1][None, :]
        return (1.0 / size).to(t_in)
    w = window_params(step, root)
    ones = t_in.new_ones(1, 1, *spatial)
    inside = windows(ones, w)[0].sum(2)  # (1, 1, L): input positions in each window
    if w["divisor_override"]:
        div = torch.full_like(inside, float(w["divisor_override"]))
    elif w["count_include_pad"]:
        pad = [p for i in reversed(range(len(spatial))) for p in (w["padding"][i],) * 2]
        padded = F.pad(ones, pad, value=1.0)
        w0 = {**w, "padding": (0,) * len(spatial)}
        outs = (1,) * (2 - len(spatial)) + tuple(t_out.shape[2:])
        div = windows(padded, w0, outs=outs)[0].sum(2)  # windows clipped at the padded border, as PyTorch
    else:
        div = inside
    return (1.0 / div).reshape(1, 1, *t_out.shape[2:])


def conv_pads(m: nn.Module) -> list[int]:
    """A conv's zero padding for ``F.pad`` (last dim first), ``"same"``/``"valid"`` resolved as PyTorch
    does (``"same"``: the extra element on the right)."""
    k, d, dims = m.kernel_size, m.dilation, len(m.kernel_size)
    if m.padding == "valid":
        per = [(0, 0)] * dims
    elif m.padding == "same":
        per = [(d[i] * (k[i] - 1) // 2, d[i] * (k[i] - 1) - d[i] * (k[i] - 1) // 2) for i in range(dims)]
    else:
        per = [(p, p) for p in m.padding]
    return [v for lo_hi in reversed(per) for v in lo_hi]


def box(x: Tensor, m: nn.Module) -> Tensor:
    """The all-ones kernel of conv ``m`` applied to each channel of ``x`` on its own: the sum over
    every kernel tap (``m``'s stride, padding, dilation). A sum of strided slices: much faster on the
    CPU than a one-channel convolution.

    Shape:
        ``(N, G, *spatial) -> (N, G, *spatial_out)``.
    """
    x = F.pad(x, conv_pads(m))
    k, st, dl = m.kernel_size, m.stride, m.dilation
    outs = [(x.shape[2 + i] - dl[i] * (k[i] - 1) - 1) // st[i] + 1 for i in range(len(k))]
    total = None
    for tap in itertools.product(*(range(ki) for ki in k)):
        idx = tuple(slice(t * d, t * d + s * (o - 1) + 1, s) for t, d, s, o in zip(tap, dl, st, outs))
        part = x[(slice(None), slice(None), *idx)]
        total = part.clone() if total is None else total.add_(part)
    return total
