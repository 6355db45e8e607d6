"""An explicit unit-level DAG of a ReLU network, and brute-force enumeration of its paths.

Every *layer* of the DAG is a tensor of units of a known per-sample ``shape``; units are numbered by
their row-major flat index in that shape. Each unit ``j`` of a non-input layer has

* optionally a **bias** ``b_j``: the source of one bias path (feature 1, value ``b_j``);
* a list of incoming **edges** ``(src, i, feat, val, tag)`` from unit ``i`` of layer ``src``.
  ``feat`` is the edge's factor in the *feature* (a per-sample gate tensor of shape ``(n,)``, or a
  fixed linear coefficient such as ``1/window``), ``val`` its factor in the *value* (a learnable
  weight, or 1). ``tag`` marks the two operand edges of a residual add.

The input layer's units are the sources ``x_i`` (feature ``x_i``, value 1). A path is a source
followed by a chain of edges up to an output unit; its feature is the product of the source feature
and the edges' ``feat``, its value the product of the source value and the edges' ``val``.

The helpers below unroll one torch operation each into such edges with plain Python loops (every
conv kernel tap at every position is its own edge; weight sharing only repeats values). Paths are
enumerated structurally, whatever the gates: a path through an off gate is kept, with feature 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor, nn

# code of a path at one residual add: it does not pass through the add / through its shortcut
# operand / through its residual-branch operand
NONE, SKIP, BRANCH = 0, 1, 2


class Edge(NamedTuple):
    src: str
    idx: int
    feat: Tensor | float
    val: float
    tag: tuple[int, int] | None = None  # (block column, SKIP or BRANCH) on a residual-add edge


@dataclass
class Layer:
    shape: tuple[int, ...]
    edges: list[list[Edge]] = field(default_factory=list)  # edges[j]: incoming edges of unit j
    bias: list[float] | None = None


def flat(shape: tuple[int, ...], idx: tuple[int, ...]) -> int:
    """Row-major flat index of the multi-index ``idx`` in ``shape``."""
    out = 0
    for size, i in zip(shape, idx, strict=True):
        assert 0 <= i < size
        out = out * size + i
    return out


def grid(shape: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """All multi-indices of ``shape`` in row-major order."""
    return itertools.product(*(range(s) for s in shape))


def _tuple(v: int | tuple[int, ...], dims: int) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, tuple | list) else (v,) * dims


def pool_windows(
    in_sp: tuple[int, ...], ksize: tuple[int, ...], stride: tuple[int, ...]
) -> tuple[tuple[int, ...], list[list[tuple[int, ...]]]]:
    """Output grid and windows (row-major over that grid) of an unpadded pooling."""
    out_sp = tuple((size - k) // s + 1 for size, k, s in zip(in_sp, ksize, stride))
    wins = []
    for q in grid(out_sp):
        wins.append(list(itertools.product(*(range(a * s, a * s + k) for a, s, k in zip(q, stride, ksize)))))
    return out_sp, wins


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def adaptive_windows(in_sp: tuple[int, ...], out_sp: tuple[int, ...]) -> list[list[tuple[int, ...]]]:
    """Windows of adaptive average pooling: [floor(q·In/Out), ceil((q+1)·In/Out)) along each dim."""
    wins = []
    for q in grid(out_sp):
        ranges = [range((a * i) // o, _ceil_div((a + 1) * i, o)) for a, i, o in zip(q, in_sp, out_sp)]
        wins.append(list(itertools.product(*ranges)))
    return wins


class Dag:
    """The unit-level DAG of one network on one batch ``x`` (gates are per-sample tensors)."""

    def __init__(self, x: Tensor, blocks: tuple[str, ...] = ()):
        self.n = x.shape[0]
        self.x = x.reshape(self.n, -1)
        self.blocks = blocks  # residual blocks, in the order of the tag columns
        self.layers: dict[str, Layer] = {"input": Layer(tuple(x.shape[1:]))}
        self._memo: dict[tuple[str, int], tuple[Tensor, Tensor, Tensor]] = {}

    def shape(self, name: str) -> tuple[int, ...]:
        return self.layers[name].shape

    def _new(self, name: str, shape: tuple[int, ...], bias: list[float] | None = None) -> Layer:
        assert name not in self.layers, name
        layer = Layer(tuple(shape), [[] for _ in range(math.prod(shape))], bias)
        self.layers[name] = layer
        return layer

    # ---------------------------------------------------------------- learnable layers (weights)
    def dense(self, name: str, src: str, weight: Tensor, bias: Tensor | None) -> str:
        """``y_j = b_j + Σ_i W[j, i] x_i``: an edge (j, i) with value ``W[j, i]`` for every pair."""
        w = weight.tolist()
        n_out, n_in = len(w), len(w[0])
        assert math.prod(self.shape(src)) == n_in
        layer = self._new(name, (n_out,), None if bias is None else bias.tolist())
        for j in range(n_out):
            for i in range(n_in):
                layer.edges[j].append(Edge(src, i, 1.0, w[j][i]))
        return name

    def conv(
        self, name: str, src: str, conv: nn.Conv1d | nn.Conv2d, weight: Tensor, bias: Tensor | None
    ) -> str:
        """Unrolled ``conv`` (its geometry) with the given ``weight``/``bias`` (maybe BN-folded).

        Edge (out channel o, out position q) <- (in channel c, in position q·stride − pad + tap·dilation)
        for each in channel c of o's group and each kernel tap whose in position lies in the image.
        """
        in_ch, *in_sp = self.shape(src)
        dims = len(in_sp)
        ksize, stride, dil = (_tuple(v, dims) for v in (conv.kernel_size, conv.stride, conv.dilation))
        if conv.padding == "same":  # torch pads dilation·(k−1) in all, the smaller half on the left
            assert all(s == 1 for s in stride)
            pad = tuple(d * (k - 1) // 2 for d, k in zip(dil, ksize))
        elif conv.padding == "valid":
            pad = (0,) * dims
        else:
            pad = _tuple(conv.padding, dims)
        assert conv.padding_mode == "zeros"
        if conv.padding == "same":
            out_sp = tuple(in_sp)
        else:
            out_sp = tuple(
                (size + 2 * p - d * (k - 1) - 1) // s + 1
                for size, p, d, k, s in zip(in_sp, pad, dil, ksize, stride)
            )
        out_ch, groups = conv.out_channels, conv.groups
        cin_g, cout_g = in_ch // groups, out_ch // groups
        per_unit = None if bias is None else [b for b in bias.tolist() for _ in grid(out_sp)]  # b_o at (o, q)
        layer = self._new(name, (out_ch, *out_sp), per_unit)
        for o in range(out_ch):
            g = o // cout_g
            for q in grid(out_sp):
                j = flat(layer.shape, (o, *q))
                for ci in range(cin_g):
                    c = g * cin_g + ci
                    for tap in grid(ksize):
                        pos = tuple(q[d] * stride[d] - pad[d] + tap[d] * dil[d] for d in range(dims))
                        if all(0 <= pos[d] < in_sp[d] for d in range(dims)):
                            i = flat((in_ch, *in_sp), (c, *pos))
                            layer.edges[j].append(Edge(src, i, 1.0, weight[(o, ci, *tap)].item()))
        return name

    # ------------------------------------------------------------------------------- gates
    def gate(self, name: str, src: str, pre: Tensor, slope: float = 0.0) -> str:
        """(Leaky)ReLU on the pre-activation ``pre`` (n, *shape): unit j <- unit j with feature
        factor ``1{pre_j > 0}`` (or ``slope`` where ``pre_j <= 0``)."""
        assert tuple(pre.shape[1:]) == self.shape(src)
        q = pre.reshape(self.n, -1)
        g = torch.where(q > 0, torch.ones_like(q), torch.full_like(q, slope))
        layer = self._new(name, self.shape(src))
        for j in range(len(layer.edges)):
            layer.edges[j].append(Edge(src, j, g[:, j], 1.0))
        return name

    def maxpool(self, name: str, src: str, pool: nn.MaxPool1d | nn.MaxPool2d, inp: Tensor) -> str:
        """Each pooled unit is connected to the in-image units of its window; the edge (j, i) has
        feature factor s(j, i) = 1 if i is torch's own argmax of window j (return_indices), else 0."""
        ch, *in_sp = self.shape(src)
        dims = len(in_sp)
        fn = {1: nn.functional.max_pool1d, 2: nn.functional.max_pool2d}[dims]
        ksize, pad = _tuple(pool.kernel_size, dims), _tuple(pool.padding, dims)
        stride = _tuple(pool.stride if pool.stride is not None else pool.kernel_size, dims)
        assert _tuple(pool.dilation, dims) == (1,) * dims and not pool.ceil_mode
        _, argmax = fn(inp, ksize, stride, pad, return_indices=True)  # flat index within the image
        out_sp = tuple(argmax.shape[2:])
        layer = self._new(name, (ch, *out_sp))
        for c in range(ch):
            for q in grid(out_sp):
                j = flat(layer.shape, (c, *q))
                chosen = argmax[(slice(None), c, *q)]
                for tap in grid(ksize):
                    pos = tuple(q[d] * stride[d] - pad[d] + tap[d] for d in range(dims))
                    if all(0 <= pos[d] < in_sp[d] for d in range(dims)):
                        s = (chosen == flat(tuple(in_sp), pos)).to(torch.float64)
                        layer.edges[j].append(Edge(src, flat((ch, *in_sp), (c, *pos)), s, 1.0))
        return name

    # --------------------------------------------------------------------- fixed linear maps
    def average(
        self, name: str, src: str, out_sp: tuple[int, ...], windows: list[list[tuple[int, ...]]]
    ) -> str:
        """Per-channel averaging: output position q (row-major in ``out_sp``) is the mean of the
        in-image positions ``windows[q]``; each edge carries the coefficient 1/|window| in the feature."""
        ch, *in_sp = self.shape(src)
        layer = self._new(name, (ch, *out_sp))
        assert len(windows) == math.prod(out_sp)
        for c in range(ch):
            for q, win in enumerate(windows):
                j = c * len(windows) + q
                for pos in win:
                    layer.edges[j].append(Edge(src, flat((ch, *in_sp), (c, *pos)), 1 / len(win), 1.0))
        return name

    def rename(self, name: str, src: str, shape: tuple[int, ...]) -> str:
        """Flatten / view / reshape / Dropout in eval / Identity: unit j <- unit j."""
        assert math.prod(shape) == math.prod(self.shape(src))
        layer = self._new(name, shape)
        for j in range(len(layer.edges)):
            layer.edges[j].append(Edge(src, j, 1.0, 1.0))
        return name

    def cat(self, name: str, srcs: list[str]) -> str:
        """torch.cat along dim 1: the parts' units sit side by side (row-major flat indices)."""
        shapes = [self.shape(s) for s in srcs]
        assert all(s[1:] == shapes[0][1:] for s in shapes)
        layer = self._new(name, (sum(s[0] for s in shapes), *shapes[0][1:]))
        j = 0
        for src, shape in zip(srcs, shapes):
            for i in range(math.prod(shape)):
                layer.edges[j].append(Edge(src, i, 1.0, 1.0))
                j += 1
        return name

    def add(self, name: str, skip: str, branch: str, block: str) -> str:
        """Residual add ``skip + branch`` of ``block``: unit j <- skip unit j and branch unit j."""
        assert self.shape(skip) == self.shape(branch)
        col = self.blocks.index(block)
        layer = self._new(name, self.shape(skip))
        for j in range(len(layer.edges)):
            layer.edges[j].append(Edge(skip, j, 1.0, 1.0, (col, SKIP)))
            layer.edges[j].append(Edge(branch, j, 1.0, 1.0, (col, BRANCH)))
        return name

    # ---------------------------------------------------------------------------- enumeration
    def paths_into(self, name: str, j: int) -> tuple[Tensor, Tensor, Tensor]:
        """All paths ending at unit ``j`` of layer ``name``, one column / row each:
        features (n, P), values (P,), and residual codes (P, #blocks) (NONE / SKIP / BRANCH)."""
        key = (name, j)
        if key in self._memo:
            return self._memo[key]
        nb = len(self.blocks)
        if name == "input":
            out = (
                self.x[:, j : j + 1],
                torch.ones(1, dtype=torch.float64),
                torch.zeros(1, nb, dtype=torch.long),
            )
            self._memo[key] = out
            return out
        layer = self.layers[name]
        feats, vals, codes = [], [], []
        if layer.bias is not None:  # the bias path that starts at unit j
            feats.append(torch.ones(self.n, 1, dtype=torch.float64))
            vals.append(torch.tensor([layer.bias[j]], dtype=torch.float64))
            codes.append(torch.zeros(1, nb, dtype=torch.long))
        for e in layer.edges[j]:  # every path into the edge's source, extended by the edge
            f, v, t = self.paths_into(e.src, e.idx)
            feats.append(f * e.feat[:, None] if isinstance(e.feat, Tensor) else f * e.feat)
            vals.append(v * e.val)
            if e.tag is not None:
                t = t.clone()
                t[:, e.tag[0]] = e.tag[1]
            codes.append(t)
        out = (torch.cat(feats, 1), torch.cat(vals), torch.cat(codes))
        self._memo[key] = out
        return out

    def enumerate(self, out: str) -> tuple[Tensor, Tensor, Tensor]:
        """phi (n, P) and codes (P, #blocks) of the paths into output unit 0; v (P, k) with
        ``v[:, k]`` the value of the same path ending at output unit k (paths into every output unit
        are enumerated in the same order; their features must coincide)."""
        (k,) = self.shape(out)
        phi, v0, codes = self.paths_into(out, 0)
        vs = [v0]
        for unit in range(1, k):
            f, v, t = self.paths_into(out, unit)
            assert torch.equal(f, phi) and torch.equal(t, codes), "paths into outputs do not correspond"
            vs.append(v)
        return phi, torch.stack(vs, 1), codes
