"""The neural path kernel of any path graph: the unit-weight network run on pairs (Identity 2).

``H(x, x') = Σ_p φ_x(p) φ_x'(p)`` is the output (unit 0) of the *unit-weight* network — every weight
and every bias 1, BatchNorm folded — fed ``x ⊙ x'``, with gates ``G(x) ⊙ G(x')``, max-pool
selections ``s(x) ⊙ s(x')`` (then the window is summed) and every fixed coefficient ``c`` squared
(average pooling's ``1/D`` enters as ``1/D²``). Each bias adds 1 at its units: a path starting there.

Pairs are processed a block of ``x1`` rows against all of ``x2`` at a time. The value at a step is
kept as a sum of factored terms (:mod:`neuralpaths.graph.lazy`), so that the unit sums of the next
all-ones layer are matrix products, never ``pairs × units`` tensors: a ``Linear`` of ones gives
``base ⊙ (F F'ᵀ)``, a ``Conv`` of ones (one group) the per-position channel overlap
``Σ_c f_c f'_c`` (one batched product) box-filtered by the kernel's window; reshapes, ``Identity``,
residual adds and global average pooling stay factored. Max-pooling, strided pooling, concatenation
and permutations work on the explicit ``(pairs, *units)`` values.

Residual ``add`` steps can be restricted to one operand (``choices``): the kernel of the paths of
one sub-architecture (the NPF paper's ensemble view of ResNets).

Shape:
    ``h1: (n1, *in), h2: (n2, *in)`` -> ``(n1, n2)``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from ..progress import progress_bar
from .ir import PathGraph, Step, UnsupportedLayerError
from .lazy import Acc, Term, overlap
from .run import call, effective, evaluate
from .windows import box, pool_coef, window_params, windows

BLOCK_BYTES = 256 * 2**20  # peak size of one (pairs x units) intermediate
RESHAPES = ("flatten", "view", "reshape", "squeeze", "unsqueeze")


def _ones_linear(acc: Acc, m: nn.Linear, bias: bool) -> Acc:
    """All-ones ``Linear``: every output unit gets ``Σ_i acc_i`` (+1 with a bias)."""
    if len(acc.shape) > 1:  # applied along the last dim only
        total = acc.value().sum(-1, keepdim=True)
    else:
        total = sum(t.total(acc.pairs) for t in acc.terms)[..., None]  # (b1, n2, 1)
    shape = (*acc.shape[:-1], m.out_features)
    return acc.with_terms([Term(total + 1.0 if bias else total, shape)], shape)


def _ones_conv(acc: Acc, m: nn.modules.conv._ConvNd, bias: bool) -> Acc:
    """All-ones conv: per group, sum the channels, then box-filter with the kernel's window."""
    groups, c_in = m.groups, acc.shape[0]
    total = 0.0
    for t in acc.aligned():
        if groups == 1 and t.channel_uniform():
            s = t.base[:, :, 0] * (overlap(t.f1, t.f2) if t.f1 is not None else c_in)
        else:
            v = t.native(acc.pairs)
            s = v.reshape(*v.shape[:2], groups, c_in // groups, *acc.shape[1:]).sum(3)  # (b1, n2, G, *sp)
            if groups == 1:
                s = s[:, :, 0]
        total = total + s
    b1, n2 = acc.pairs
    total = total.expand(b1, n2, *([groups] if groups > 1 else []), *acc.shape[1:])
    x = total.reshape(b1 * n2, groups, *acc.shape[1:])  # (b1, n2, [G,] *sp) -> (b1 n2, G, *sp)
    y = box(x, m)  # (b1 n2, G, *sp_out)
    if bias:
        y = y + 1.0
    y = y.reshape(b1, n2, groups, *y.shape[2:])
    if groups > 1:
        y = y.repeat_interleave(m.out_channels // groups, dim=2)
    shape = (m.out_channels, *y.shape[3:])
    return acc.with_terms([Term(y, shape)], shape)


class _PairRun:
    """One block of pairs through the unit-weight network."""

    def __init__(self, graph: PathGraph, root: nn.Module, b1: int, n2: int, g1: dict, g2: dict, opts: dict):
        self.graph, self.root, self.b1, self.n2 = graph, root, b1, n2
        self.g1, self.g2, self.choices, self.biases = g1, g2, opts["choices"], opts["biases"]

    def tensors(self, step: Step, env: dict[str, Any], proxy: bool = False) -> dict[str, Any]:
        """``env`` with this step's inputs as flat tensors (a zero-stride proxy when only sizes matter)."""
        view = dict(env)
        for name in step.inputs:
            v = env[name]
            if isinstance(v, Acc):
                view[name] = (
                    v.flat()
                    if not proxy
                    else v.terms[0].base.new_zeros(()).expand(self.b1 * self.n2, *v.shape)
                )
        return view

    def handle(self, s: Step, env: dict[str, Any]) -> Any:
        h: Acc | None = env[s.inputs[0]] if s.inputs and isinstance(env[s.inputs[0]], Acc) else None
        if s.kind == "shape":
            return call(s, self.tensors(s, env, proxy=True), self.root)
        if s.kind == "gate":
            a, b = self.g1[s.name], self.g2[s.name]
            return h.with_terms([t.gated(a, b) for t in h.aligned()])
        if s.kind == "layer":
            m = self.root.get_submodule(s.module)
            bias = effective(self.root, s)[1] is not None and s.name in self.biases
            return _ones_linear(h, m, bias) if isinstance(m, nn.Linear) else _ones_conv(h, m, bias)
        if s.kind == "affine":
            one = Term(h.terms[0].base.new_ones((1, 1) + (1,) * len(h.shape)), h.shape)
            return h if s.name not in self.biases else h.with_terms([*h.terms, one])
        if s.kind == "bn":
            return h
        if s.kind == "scale":
            return h.with_terms([replace(t, coef=t.coef * s.info["c"] ** 2) for t in h.terms])
        if s.kind == "add":
            a, b = (env[i] for i in s.inputs)
            pick = self.choices.get(s.name)
            if pick is not None:
                return (a, b)[pick]
            if a.shape != b.shape:
                raise UnsupportedLayerError(f"{s.where} adds tensors of unit shapes {a.shape} and {b.shape}")
            return a.with_terms(a.terms + b.terms)
        if s.kind == "maxpool":
            sel = (self.g1[s.name][:, None] * self.g2[s.name][None]).flatten(0, 1)  # (b1 n2, C, K, L)
            x = h.flat()
            cols, shape = windows(x, window_params(s, self.root))
            return Acc.explicit((sel * cols).sum(2).reshape(*x.shape[:2], *shape), h.pairs)
        if s.kind == "move" and self._passes(s):
            return h
        if s.kind in ("move", "pool"):
            lazy = self._lazy(s, env, h)
            if lazy is not None:
                return lazy
        out = call(s, self.tensors(s, env), self.root)  # pool, move, cat: on explicit values
        if s.kind == "pool":
            out = out * pool_coef(s, self.root, env[s.inputs[0]].flat(), out)
        if out.shape[0] != self.b1 * self.n2:
            raise UnsupportedLayerError(f"{s.where} changes the batch dimension: no path reading")
        return Acc.explicit(out, (self.b1, self.n2))

    def _passes(self, s: Step) -> bool:
        """Identity-like moves: ``Identity``, ``Dropout`` (eval), ``contiguous``."""
        if s.module is not None:
            return isinstance(self.root.get_submodule(s.module), (nn.Identity, nn.modules.dropout._DropoutNd))
        return s.fn is torch.Tensor.contiguous

    def _lazy(self, s: Step, env: dict[str, Any], h: Acc) -> Acc | None:
        """Reshapes and global average pools without forming the values (``None``: not one of those)."""
        proxy = self.tensors(s, env, proxy=True)
        out = call(s, proxy, self.root)
        shape = tuple(out.shape[1:])
        if s.kind == "move":
            if s.module is not None:
                m = self.root.get_submodule(s.module)
                reshape = isinstance(m, (nn.Flatten, nn.Unflatten))
            else:
                reshape = getattr(s.fn, "__name__", "") in RESHAPES
            same = reshape and math.prod(shape) == math.prod(h.shape)
            return h.with_terms(h.terms, shape) if same else None
        channels = h.shape[0]
        if len(h.shape) < 2 or math.prod(shape) != channels or shape[0] != channels:
            return None
        probe = torch.arange(channels, dtype=out.dtype).view(1, channels, *[1] * (len(h.shape) - 1))
        pooled = call(s, {**proxy, s.inputs[0]: probe.expand(1, *h.shape)}, self.root).reshape(-1)
        scale = pooled[1] if channels > 1 else pooled[0]
        if channels == 1 or not torch.allclose(pooled, scale * torch.arange(channels, dtype=out.dtype)):
            return None  # not a per-channel sum/mean over all positions
        c = pool_coef(s, self.root, probe.expand(1, *h.shape), pooled.view(1, *shape))
        c = c if isinstance(c, float) else float(c.reshape(-1)[0])
        red = len(h.shape) - 1
        return h.with_terms([replace(t, red=red, coef=t.coef * c * c) for t in h.aligned()], shape)


def unit_kernel(
    graph: PathGraph,
    root: nn.Module,
    h1: Tensor,
    h2: Tensor,
    g1: dict[str, Tensor],
    g2: dict[str, Tensor],
    *,
    units: int,
    choices: dict[str, int] | None = None,
    late: dict[str, int] | None = None,
    ignore_bias: bool = False,
    block_size: int | None = None,
    progress: bool | None = None,
) -> Tensor:
    """``H(x1, x2)`` by the unit-weight network on pairs (see the module docstring).

    Args:
        h1: the value network's input for ``x1`` (``x`` or ones).
        h2: the same for ``x2``.
        g1: the gates of ``x1`` (:func:`neuralpaths.graph.run.record`).
        g2: the gates of ``x2``.
        units: the largest number of units of any step (sets the default block of rows).
        choices: ``{add step name: operand index}``: keep only that operand's paths there.
        late: ``{add step name: operand index}`` that owns the bias paths starting after the add
            (default 0; see :meth:`PathGraph.bias_owners`).

    Shape:
        ``-> (n1, n2)``.
    """
    n1, n2 = len(h1), len(h2)
    rows = block_size or max(1, BLOCK_BYTES // (h1.element_size() * max(1, n2 * units)))
    out = h1.new_empty(n1, n2)
    biases = set() if ignore_bias else graph.bias_owners(choices or {}, late or {})
    opts = {"choices": choices or {}, "biases": biases}
    bar = progress_bar(
        range(0, n1, rows), desc="npk", unit="block", enabled=progress, delay=2.0 if progress is None else 0
    )
    for s in bar:
        e = min(n1, s + rows)
        gs = {k: v[s:e] for k, v in g1.items()}
        run = _PairRun(graph, root, e - s, n2, gs, g2, opts)
        ones = h1.new_ones((1, 1) + (1,) * (h1.ndim - 1))
        shape = tuple(h1.shape[1:])
        start = Acc([Term(ones, shape, h1[s:e], h2)], shape, (e - s, n2))
        acc, _ = evaluate(graph, start, run.handle)
        val = acc.value()
        out[s:e] = val.reshape(e - s, n2, -1)[:, :, 0]  # (b1, n2, *S) -> unit 0
    return out
