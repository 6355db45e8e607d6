"""Every path of a path graph, enumerated: the tables behind ``npf`` and ``npv`` for any module.

A path is built step by step. Its table row holds where it started (an input coordinate, or the
bias of a layer's unit), the unit it is at, the product of the fixed coefficients it met, and for
every gate step and every weight step the index of the gate / weight it passed (``-1``: it did not
pass that step). Layers, pools and reshapes become edge lists ``(dst, src, payload)`` found by
running the step on index tensors (a layer with weights ``1..|W|`` applied to the identity basis
reads off which weight each connection carries), so strides, padding, dilation, groups, pooling
windows and reshapes need no special code. A residual ``add`` is the union of its operands' paths.

Paths into output unit 0 define the features; the paths into output ``k`` must have the same
features (the network treats its outputs alike, as a final ``Linear`` does), and ``v[:, k]`` holds
their values.

Shape:
    ``features: (n, *in) -> (n, P)``; ``values: -> (P, k)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .ir import PathGraph, Step, UnsupportedLayerError
from .run import apply_layer, call, channel_view, effective, evaluate
from .windows import window_params, windows


@dataclass
class Table:
    """Paths so far. Shape: every field ``(P,)`` but ``gate``/``weight`` ``(P, steps)``."""

    src: Tensor  # input coordinate, -1 for a bias path
    unit: Tensor
    fac: Tensor
    gate: Tensor
    weight: Tensor
    bias: Tensor  # (P, 2): weight-step column and bias element of a bias path, else -1

    def take(self, rows: Tensor) -> Table:
        return Table(*(f[rows] for f in self.fields()))

    def fields(self) -> tuple[Tensor, ...]:
        return self.src, self.unit, self.fac, self.gate, self.weight, self.bias

    @staticmethod
    def cat(tables: list[Table]) -> Table:
        return Table(*(torch.cat(f) for f in zip(*(t.fields() for t in tables))))


def _join(t: Table, dst: Tensor, src: Tensor) -> tuple[Table, Tensor]:
    """Extend every path at unit ``src[e]`` along edge ``e``; returns the new table and edge ids."""
    order = torch.argsort(src, stable=True)
    src_sorted = src[order]
    n_units = int(max(t.unit.max().item() if len(t.unit) else 0, src.max().item() if len(src) else 0)) + 1
    counts = torch.bincount(src_sorted, minlength=n_units)
    starts = torch.cumsum(counts, 0) - counts
    reps = counts[t.unit]
    parent = torch.repeat_interleave(torch.arange(len(t.unit)), reps)
    offset = torch.arange(len(parent)) - torch.repeat_interleave(torch.cumsum(reps, 0) - reps, reps)
    edge = order[starts[t.unit[parent]] + offset]
    new = t.take(parent)
    new.unit = dst[edge]
    return new, edge


class _Enumerator:
    def __init__(self, graph: PathGraph, root: nn.Module, in_shape: tuple[int, ...], ignore_bias: bool):
        self.graph, self.root, self.ignore_bias = graph, root, ignore_bias
        self.gcol = {s.name: i for i, s in enumerate(graph.gate_steps)}
        self.wcol = {s.name: i for i, s in enumerate(graph.of_kind("layer", "affine"))}
        probe = torch.zeros(1, *in_shape, dtype=torch.float64)
        self.shapes: dict[str, tuple[int, ...]] = {}

        def shapes(s: Step, env: dict[str, Any]) -> Any:
            out = call(s, env, root)
            if isinstance(out, Tensor):
                self.shapes[s.name] = tuple(out.shape[1:])
            return out

        with torch.no_grad():
            evaluate(graph, probe.to(next(root.parameters()).dtype), shapes)
        self.shapes[graph.steps[0].name] = tuple(in_shape)

    def _env(self, batch: int) -> dict[str, Any]:
        """Zero-stride stand-ins of every step's value for a batch of ``batch`` (sizes only)."""
        env: dict[str, Any] = {}
        for s in self.graph.steps:
            if s.name in self.shapes:
                env[s.name] = torch.zeros((), dtype=torch.float64).expand(batch, *self.shapes[s.name])
            else:
                env[s.name] = call(s, env, self.root)
        return env

    def _apply(self, s: Step, inputs: dict[str, Tensor]) -> Tensor:
        env = self._env(next(iter(inputs.values())).shape[0]) | inputs
        return call(s, env, self.root)

    def _dense_edges(self, s: Step) -> tuple[Tensor, Tensor, Tensor]:
        """``(dst, src, coefficient)`` of a fixed linear step, from its Jacobian."""
        shape = self.shapes[s.inputs[0]]
        m = int(torch.tensor(shape).prod())
        eye = torch.eye(m, dtype=torch.float64).view(m, *shape)
        jac = self._apply(s, {s.inputs[0]: eye}).reshape(m, -1)  # (m_in, m_out)
        src, dst = jac.nonzero(as_tuple=True)
        return dst, src, jac[src, dst]

    def _layer(self, s: Step, t: Table) -> Table:
        w, b = effective(self.root, s)
        shape_in = self.shapes[s.inputs[0]]
        m_in = int(torch.tensor(shape_in).prod())
        ids = torch.arange(1, w.numel() + 1, dtype=torch.float64).view(w.shape)
        eye = torch.eye(m_in, dtype=torch.float64).view(m_in, *shape_in)
        if s.kind == "affine":
            cols = (eye * channel_view(ids, eye)).reshape(m_in, -1)
        else:
            cols = apply_layer(self.root.get_submodule(s.module), eye, ids, None).reshape(m_in, -1)
        src, dst = cols.nonzero(as_tuple=True)
        new, edge = _join(t, dst, src)
        new.weight = new.weight.clone()
        new.weight[:, self.wcol[s.name]] = (cols[src, dst].long() - 1)[edge]
        if b is None or self.ignore_bias:
            return new
        bids = torch.arange(1, b.numel() + 1, dtype=torch.float64)
        zero = torch.zeros(1, *shape_in, dtype=torch.float64)
        if s.kind == "affine":
            elem = (zero + channel_view(bids, zero)).reshape(-1).long() - 1
        else:
            m = self.root.get_submodule(s.module)
            elem = (
                apply_layer(m, zero, torch.zeros(w.shape, dtype=torch.float64), bids).reshape(-1).long() - 1
            )
        starts = _sources(len(elem), -1, t.gate.shape[1], t.weight.shape[1])
        starts.bias[:, 0], starts.bias[:, 1] = self.wcol[s.name], elem
        return Table.cat([new, starts])

    def _maxpool(self, s: Step, t: Table) -> Table:
        c, *spatial = self.shapes[s.inputs[0]]
        plane = int(torch.tensor(spatial).prod())
        ids = torch.arange(c * plane, dtype=torch.float64).view(1, c, *spatial)
        cols, _ = windows(ids, window_params(s, self.root), fill=-1.0)  # (1, C, K, L)
        k, length = cols.shape[2:]
        sel = torch.arange(c * k * length).view(c, k, length)
        dst = (torch.arange(c)[:, None, None] * length + torch.arange(length)).expand(c, k, length)
        keep = cols[0] >= 0
        new, edge = _join(t, dst[keep], cols[0][keep].long())
        new.gate = new.gate.clone()
        new.gate[:, self.gcol[s.name]] = sel[keep][edge]
        return new

    def _cat(self, s: Step, env: dict[str, Table]) -> Table:
        parts, offset, ids = [], 0, {}
        for name in s.inputs:
            size = int(torch.tensor(self.shapes[name]).prod())
            ids[name] = torch.arange(offset, offset + size, dtype=torch.float64).view(1, *self.shapes[name])
            offset += size
        out_ids = self._apply(s, ids).reshape(-1).long()
        where = torch.full((offset,), -1, dtype=torch.long)
        where[out_ids] = torch.arange(len(out_ids))
        for name in s.inputs:
            t = env[name]
            start = int(ids[name].reshape(-1)[0])
            moved = t.take(torch.arange(len(t.unit)))
            moved.unit = where[start + t.unit]
            parts.append(moved.take(moved.unit >= 0))
        return Table.cat(parts)

    def handle(self, s: Step, env: dict[str, Any]) -> Any:
        if s.kind == "shape":
            return None
        t = env[s.inputs[0]]
        if s.kind in ("layer", "affine"):
            return self._layer(s, t)
        if s.kind == "bn":
            return t
        if s.kind == "gate":
            new = t.take(torch.arange(len(t.unit)))
            new.gate = new.gate.clone()
            new.gate[:, self.gcol[s.name]] = t.unit
            return new
        if s.kind == "maxpool":
            return self._maxpool(s, t)
        if s.kind == "add":
            return Table.cat([env[i] for i in s.inputs])
        if s.kind == "cat":
            return self._cat(s, env)
        dst, src, coef = self._dense_edges(s)  # pool, scale, move
        new, edge = _join(t, dst, src)
        new.fac = new.fac * coef[edge]
        return new


def _sources(n: int, src: int | Tensor, cols_g: int, cols_w: int) -> Table:
    """``n`` new paths at units ``0..n-1`` (input coordinates ``src``, or ``-1`` for biases)."""
    src_t = torch.full((n,), src, dtype=torch.long) if isinstance(src, int) else src
    return Table(
        src_t,
        torch.arange(n),
        torch.ones(n, dtype=torch.float64),
        torch.full((n, cols_g), -1, dtype=torch.long),
        torch.full((n, cols_w), -1, dtype=torch.long),
        torch.full((n, 2), -1, dtype=torch.long),
    )


def path_table(
    graph: PathGraph, root: nn.Module, in_shape: tuple[int, ...], ignore_bias: bool = False
) -> tuple[Table, int]:
    """Every path, sorted by output unit, and ``P``, the number of paths into each output: output
    ``k``'s paths are rows ``k·P ... (k+1)·P - 1``, in the same order for every ``k``."""
    e = _Enumerator(graph, root, in_shape, ignore_bias)
    n_in = int(torch.tensor(in_shape).prod())
    start = _sources(n_in, torch.arange(n_in), max(1, len(e.gcol)), max(1, len(e.wcol)))
    with torch.no_grad():
        out, _ = evaluate(graph, start, e.handle)
    order = torch.argsort(out.unit, stable=True)
    out = out.take(order)
    k = int(torch.tensor(e.shapes[graph.output]).prod())
    counts = torch.bincount(out.unit, minlength=k)
    if not bool((counts == counts[0]).all()):
        raise UnsupportedLayerError(
            "the outputs do not have the same paths (a final layer that treats outputs differently): "
            "npf/npv need every output to be reached by the same paths"
        )
    p = int(counts[0])
    same = [out.src, out.fac, out.gate, out.bias[:, 0]]
    for f in same:
        g = f.reshape(k, p, *f.shape[1:])
        if not bool((g == g[:1]).all()):
            raise UnsupportedLayerError(
                "the paths into different outputs have different features: npf/npv need a network "
                "whose outputs are treated alike (e.g. a final Linear layer)"
            )
    return out, p


def features(table: Table, p: int, h0: Tensor, gates: list[Tensor]) -> Tensor:
    """``φ`` of the first ``p`` rows (output 0). ``gates[c]`` is gate column ``c`` flattened ``(n, ·)``."""
    src = table.src[:p]
    h = h0.flatten(1)
    phi = torch.where(src >= 0, h[:, src.clamp(min=0)], torch.ones_like(h[:, :1])) * table.fac[:p].to(h0)
    for c, g in enumerate(gates):
        idx = table.gate[:p, c]
        phi = phi * torch.where(idx >= 0, g[:, idx.clamp(min=0)], torch.ones_like(g[:, :1]))
    return phi


def values(table: Table, p: int, weights: list[Tensor], biases: list[Tensor | None]) -> Tensor:
    """``v`` of every output, ``(P, k)``; ``weights[c]``, ``biases[c]`` of weight column ``c`` (flat)."""
    k = len(table.unit) // p
    v = None
    for c, w in enumerate(weights):
        idx = table.weight[:, c]
        f = torch.where(idx >= 0, w[idx.clamp(min=0)], torch.ones_like(w[:1]))
        v = f if v is None else v * f
    for c, b in enumerate(biases):
        if b is None:
            continue
        rows = table.bias[:, 0] == c
        f = torch.where(rows, b[torch.where(rows, table.bias[:, 1], 0)], torch.ones_like(b[:1]))
        v = f if v is None else v * f
    if v is None:
        v = torch.ones(len(table.unit))
    return v.reshape(k, p).T  # (k P,) -> (P, k)
