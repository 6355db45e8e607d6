"""The neural path kernel of any path graph: the unit-weight network run on pairs (Identity 2).

``H(x, x') = Σ_p φ_x(p) φ_x'(p)`` is the output (unit 0) of the *unit-weight* network — every weight
and every bias 1, BatchNorm folded — fed ``x ⊙ x'``, with gates ``G(x) ⊙ G(x')``, max-pool
selections ``s(x) ⊙ s(x')`` (then the window is summed) and every fixed coefficient ``c`` squared
(average pooling's ``1/D`` enters as ``1/D²``). Each bias adds 1 at its units: a path starting there.

Pairs are processed a block of ``x1`` rows against all of ``x2`` at a time. The value at a step is
kept as a sum of :class:`Term`\\ s ``base ⊙ f(x) ⊙ f(x')`` — a per-pair ``base`` times per-sample
factors (the gates met since the last layer) — so that the unit sums of the next all-ones layer
are matrix products, never ``pairs × units`` tensors: a ``Linear`` of ones gives
``base ⊙ (F F'ᵀ)``, a ``Conv`` of ones (one group) the per-position channel overlap
``Σ_c f_c f'_c`` (one batched product) box-filtered by the kernel's window. Other steps (pooling,
max-pooling, reshaping, concatenation, adds of different shapes) work on the explicit
``(pairs, *units)`` values.

Residual ``add`` steps can be restricted to one operand (``choices``): the kernel of the paths of
one sub-architecture (the NPF paper's ensemble view of ResNets).

Shape:
    ``h1: (n1, *in), h2: (n2, *in)`` -> ``(n1, n2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..progress import progress_bar
from .ir import PathGraph, Step, UnsupportedLayerError
from .run import call, effective, evaluate
from .windows import pool_coef, window_params, windows

BLOCK_BYTES = 256 * 2**20  # peak size of one (pairs x units) intermediate


@dataclass
class Term:
    """``base ⊙ f1[:, None] ⊙ f2[None]``. Shape: ``base (b1, n2, *broadcastable)``, ``f (b, *units)``."""

    base: Tensor
    f1: Tensor | None = None
    f2: Tensor | None = None

    def value(self, pairs: tuple[int, int], shape: tuple[int, ...]) -> Tensor:
        v = self.base if self.f1 is None else self.base * self.f1[:, None] * self.f2[None]
        return v.expand(*pairs, *shape)


@dataclass
class Acc:
    """The unit-weight network's value at one step: a sum of terms over ``shape`` units, for
    ``pairs = (b1, n2)`` pairs."""

    terms: list[Term]
    shape: tuple[int, ...]
    pairs: tuple[int, int]

    def value(self) -> Tensor:
        """Explicit ``(b1, n2, *shape)``."""
        out = self.terms[0].value(self.pairs, self.shape)
        for t in self.terms[1:]:
            out = out + t.value(self.pairs, self.shape)
        return out

    def flat(self) -> Tensor:
        v = self.value()
        return v.reshape(v.shape[0] * v.shape[1], *self.shape)  # (b1, n2, *S) -> (b1 n2, *S)


def _explicit(t: Tensor, b1: int, n2: int) -> Acc:
    """Wrap a flat ``(b1 n2, *S)`` tensor."""
    return Acc([Term(t.reshape(b1, n2, *t.shape[1:]))], tuple(t.shape[1:]), (b1, n2))


def _overlap(f1: Tensor, f2: Tensor) -> Tensor:
    """``Σ_c f1_c f2_c`` per position. Shape: ``(b1, C, *sp), (n2, C, *sp) -> (b1, n2, *sp)``."""
    b1, c, sp = f1.shape[0], f1.shape[1], f1.shape[2:]
    pos = math.prod(sp)
    a = f1.reshape(b1, c, pos).permute(2, 0, 1)  # (b1, C, P) -> (P, b1, C)
    b = f2.reshape(len(f2), c, pos).permute(2, 1, 0)  # (n2, C, P) -> (P, C, n2)
    return torch.bmm(a, b).permute(1, 2, 0).reshape(b1, len(f2), *sp)  # (P, b1, n2) -> (b1, n2, *sp)


def _ones_linear(acc: Acc, m: nn.Linear, bias: bool) -> Acc:
    """All-ones ``Linear``: every output unit gets ``Σ_i acc_i`` (+1 with a bias)."""
    if len(acc.shape) > 1:
        total = acc.value().sum(-1, keepdim=True)
    else:
        total = 0.0
        for t in acc.terms:
            if t.base.shape[2:] == (1,) or t.base.ndim == 2:
                base = t.base.reshape(*t.base.shape[:2])
                total = total + base * (t.f1 @ t.f2.T if t.f1 is not None else acc.shape[-1])
            else:
                total = total + t.value(acc.pairs, acc.shape).sum(-1)
        total = total[..., None]
    return Acc([Term(total + 1.0 if bias else total)], (*acc.shape[:-1], m.out_features), acc.pairs)


def _ones_conv(acc: Acc, m: nn.modules.conv._ConvNd, bias: bool) -> Acc:
    """All-ones conv: per group, sum the channels, then box-filter with the kernel's window."""
    groups, c_in = m.groups, acc.shape[0]
    total = 0.0
    for t in acc.terms:
        uniform = t.base.ndim == 2 + len(acc.shape) and t.base.shape[2] == 1
        if groups == 1 and uniform and t.f1 is not None:
            s = t.base[:, :, 0] * _overlap(t.f1, t.f2)
        elif groups == 1 and uniform:
            s = t.base[:, :, 0] * c_in
        else:
            v = t.value(acc.pairs, acc.shape)
            s = v.reshape(*v.shape[:2], groups, c_in // groups, *acc.shape[1:]).sum(3)  # (b1, n2, G, *sp)
            if groups == 1:
                s = s[:, :, 0]
        total = total + s
    b1, n2 = acc.pairs
    total = total.expand(b1, n2, *([groups] if groups > 1 else []), *acc.shape[1:])
    x = total.reshape(b1 * n2, groups, *acc.shape[1:])  # (b1, n2, [G,] *sp) -> (b1 n2, G, *sp)
    conv = F.conv1d if isinstance(m, nn.Conv1d) else F.conv2d
    ones = x.new_ones(groups, 1, *m.kernel_size)
    y = conv(x, ones, None, m.stride, m.padding, m.dilation, groups)  # (b1 n2, G, *sp_out)
    if bias:
        y = y + 1.0
    y = y.reshape(b1, n2, groups, *y.shape[2:])
    if groups > 1:
        y = y.repeat_interleave(m.out_channels // groups, dim=2)
    return Acc([Term(y)], (m.out_channels, *y.shape[3:]), acc.pairs)


def bias_owners(graph: PathGraph, choices: dict[str, int], late: dict[str, int]) -> set[str]:
    """Steps whose bias paths belong to the sub-architecture ``choices``.

    A bias path that starts after a residual add never meets it; it is counted with that add's
    ``late[add]`` operand (the skip connection), so the sub-architectures partition the paths. A
    bias is kept iff it is upstream of every add where ``choices`` takes the other operand.
    """
    keep = {s.name for s in graph.of_kind("layer", "affine")}
    for add, pick in choices.items():
        if pick != late.get(add, 0):
            up, todo = set(), [add]
            while todo:
                n = todo.pop()
                if n not in up:
                    up.add(n)
                    todo += list(graph[n].inputs)
            keep &= up
    return keep


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
            terms = [
                Term(t.base, a if t.f1 is None else t.f1 * a, b if t.f2 is None else t.f2 * b)
                for t in h.terms
            ]
            return Acc(terms, h.shape, h.pairs)
        if s.kind == "layer":
            m = self.root.get_submodule(s.module)
            bias = effective(self.root, s)[1] is not None and s.name in self.biases
            return _ones_linear(h, m, bias) if isinstance(m, nn.Linear) else _ones_conv(h, m, bias)
        if s.kind == "affine":
            one = h.terms[0].base.new_ones((1, 1) + (1,) * len(h.shape))
            return h if s.name not in self.biases else Acc([*h.terms, Term(one)], h.shape, h.pairs)
        if s.kind == "bn":
            return h
        if s.kind == "scale":
            c2 = s.info["c"] ** 2
            return Acc([Term(t.base * c2, t.f1, t.f2) for t in h.terms], h.shape, h.pairs)
        if s.kind == "add":
            a, b = (env[i] for i in s.inputs)
            pick = self.choices.get(s.name)
            if pick is not None:
                return (a, b)[pick]
            if a.shape != b.shape:
                raise UnsupportedLayerError(f"{s.where} adds tensors of unit shapes {a.shape} and {b.shape}")
            return Acc(a.terms + b.terms, a.shape, a.pairs)
        if s.kind == "maxpool":
            sel = (self.g1[s.name][:, None] * self.g2[s.name][None]).flatten(0, 1)  # (b1 n2, C, K, L)
            x = h.flat()
            cols, shape = windows(x, window_params(s, self.root))
            return _explicit((sel * cols).sum(2).reshape(*x.shape[:2], *shape), self.b1, self.n2)
        out = call(s, self.tensors(s, env), self.root)  # pool, move, cat: on explicit values
        if s.kind == "pool":
            out = out * pool_coef(s, self.root, env[s.inputs[0]].flat(), out)
        if out.shape[0] != self.b1 * self.n2:
            raise UnsupportedLayerError(f"{s.where} changes the batch dimension: no path reading")
        return _explicit(out, self.b1, self.n2)


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
        h1, h2: the value network's inputs (``x`` or ones); g1, g2: their gates (:func:`record`).
        units: the largest number of units of any step (sets the default block of rows).
        choices: ``{add step name: operand index}``: keep only that operand's paths there.
        late: ``{add step name: operand index}`` that owns the bias paths starting after the add
            (default 0; see :func:`bias_owners`).

    Shape:
        ``-> (n1, n2)``.
    """
    n1, n2 = len(h1), len(h2)
    rows = block_size or max(1, BLOCK_BYTES // (h1.element_size() * max(1, n2 * units)))
    out = h1.new_empty(n1, n2)
    biases = set() if ignore_bias else bias_owners(graph, choices or {}, late or {})
    opts = {"choices": choices or {}, "biases": biases}
    bar = progress_bar(
        range(0, n1, rows), desc="npk", unit="block", enabled=progress, delay=2.0 if progress is None else 0
    )
    for s in bar:
        e = min(n1, s + rows)
        gs = {k: v[s:e] for k, v in g1.items()}
        run = _PairRun(graph, root, e - s, n2, gs, g2, opts)
        ones = h1.new_ones((1, 1) + (1,) * (h1.ndim - 1))
        start = Acc([Term(ones, h1[s:e], h2)], tuple(h1.shape[1:]), (e - s, n2))
        acc, _ = evaluate(graph, start, run.handle)
        val = acc.value()
        out[s:e] = val.reshape(e - s, n2, -1)[:, :, 0]  # (b1, n2, *S) -> unit 0
    return out
