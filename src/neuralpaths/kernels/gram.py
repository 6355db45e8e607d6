"""Sums of elementwise products of Gram matrices, one tile at a time: the engine of the NPK and NTK.

Both kernels have the form ``K = Σ_t (Π_f G_{t,f}) ⊙ S_t`` where every ``G`` is the Gram matrix
``A(x1) A(x2)ᵀ + c`` of per-sample features (a :class:`Factor`) and ``S_t`` is either the Gram
matrix of per-sample-per-output signals ``D(x) ∈ R^{k×q}`` (``(n1 k, n2 k)``) or the identity over
outputs. :func:`tiled_kernel` forms ``block × block`` tiles of ``K`` only, from features computed
for one block of samples at a time, so no ``n × n`` intermediate other than the result exists.

Speed: in the symmetric case (``x2 = None``) only tiles on or above the diagonal are computed, and
within a diagonal tile only the lower triangle of each Gram (recursive halving: one matrix product
for the off-diagonal block, recursion on the two diagonal blocks, ``n² p (1 + 256/n)`` FLOPs
instead of ``2 n² p``; like BLAS ``syrk``, but in torch's own thread pool — alternating with
scipy's OpenBLAS pool was measured slower). The elementwise products run in place on buffers
reused across tiles, and a one-factor term is added by the matrix product itself (``beta = 1``),
so a term costs one pass over the tile at most.

Shape:
    features: ``(b, p)`` per factor, ``(b, k, q)`` per signal; result ``(n1 * k, n2 * k)`` with
    row index ``i * k + output``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..progress import progress_bar

DEFAULT_BLOCK = 1024  # rows * outputs per tile (benchmarks/bench_npk.py: 1024 fastest of 1024, 2048, 4096)
_CACHE_BYTES = 1 << 30  # keep the features of every block when they fit in this many bytes


@dataclass(frozen=True)
class Factor:
    """One per-sample Gram factor ``A(x) A(x')ᵀ + const``; ``feats=None`` is the constant alone.

    Shape:
        ``feats: (b, p)``.
    """

    feats: Tensor | None
    const: float = 0.0


@dataclass(frozen=True)
class Term:
    """``(Π_f Gram(factor_f)) ⊙ Gram(signal)``; ``signal=None`` is the identity over outputs.

    Shape:
        ``signal: (b, k, q)``.
    """

    factors: Sequence[Factor]
    signal: Tensor | None = None


SYMMETRIC_MODES = ("blocks", "full")  # a symmetric Gram: lower triangle by recursive halving, or A @ Aᵀ
_LEAF = 256  # rows of the diagonal blocks of the recursive symmetric product


def _lower_gram(a: Tensor, out: Tensor, accumulate: bool) -> None:
    """Lower triangle of ``a aᵀ`` by recursive halving: the off-diagonal block is one matrix product,
    the two diagonal blocks recurse; ``n² p (1 + leaf/n)`` FLOPs instead of ``2 n² p``."""
    n = len(a)
    if n <= _LEAF:
        if accumulate:
            out.addmm_(a, a.T)
        else:
            torch.mm(a, a.T, out=out)
        return
    h = n // 2
    _lower_gram(a[:h], out[:h, :h], accumulate)
    if accumulate:
        out[h:, :h].addmm_(a[h:], a[:h].T)
    else:
        torch.mm(a[h:], a[:h].T, out=out[h:, :h])
    _lower_gram(a[h:], out[h:, h:], accumulate)


def gram_into(
    a: Tensor, b: Tensor | None, out: Tensor, accumulate: bool = False, symmetric: str = "blocks"
) -> Tensor:
    """``out = a bᵀ`` (``+ out`` if ``accumulate``); ``b=None`` means ``b = a`` and then only the
    lower triangle (diagonal included) of ``out`` is guaranteed (``symmetric="blocks"``: formed by
    recursive halving; ``"full"``: one product).

    Shape:
        ``a: (m, p), b: (n, p), out: (m, n)``.
    """
    if b is None and symmetric == "blocks":
        _lower_gram(a, out, accumulate)
        return out
    b = a if b is None else b
    if accumulate:
        return out.addmm_(a, b.T)
    return torch.mm(a, b.T, out=out)


def mirror_lower_(t: Tensor, buf: Tensor | None = None) -> Tensor:
    """Make a square matrix symmetric from its lower triangle, in place (``buf``: scratch space)."""
    low = torch.tril(t, -1, out=buf) if buf is not None else t.tril(-1)
    return t.tril_().add_(low.T)


class _Workspace:
    """Reusable tile buffers (fresh large allocations cost page faults on every tile)."""

    def __init__(self, like: Tensor, symmetric: str = "blocks"):
        self.like, self.bufs, self.symmetric = like, {}, symmetric

    def get(self, key: str, rows: int, cols: int) -> Tensor:
        buf = self.bufs.get(key)
        if buf is None or buf.numel() < rows * cols:
            buf = self.bufs[key] = self.like.new_empty(rows * cols)
        return buf[: rows * cols].view(rows, cols)


def _factor_product(f1: Sequence[Factor], f2: Sequence[Factor], sym: bool, ws: _Workspace, shape):
    """``Π_f Gram_f`` as a tile buffer, or a float when every factor is constant."""
    prod, const = None, 1.0
    for a, b in zip(f1, f2):
        if a.feats is None:
            const *= a.const
            continue
        key = "p" if prod is None else "q"
        g = gram_into(a.feats, None if sym else b.feats, ws.get(key, *shape), symmetric=ws.symmetric)
        if a.const:
            g.add_(a.const)
        prod = g if prod is None else prod.mul_(g)
    if prod is None:
        return const
    return prod.mul_(const) if const != 1.0 else prod


def _add_term(acc: Tensor, t1: Term, t2: Term, k: int, sym: bool, first: bool, ws: _Workspace) -> None:
    """``acc (+)= term`` for one tile. Shape: ``acc: (b1 k, b2 k)``."""
    b1, b2 = acc.shape[0] // k, acc.shape[1] // k
    f1, f2 = list(t1.factors), list(t2.factors)
    if t1.signal is None and k == 1 and f1 and f1[-1].feats is not None:
        # the last factor goes into acc by the matrix product itself (beta = 1): no extra pass
        last1, last2 = f1.pop(), f2.pop()
        if not f1 and not last1.const:
            gram_into(last1.feats, None if sym else last2.feats, acc, not first, ws.symmetric)
            return
        prod = _factor_product(f1, f2, sym, ws, (b1, b2))
        g = gram_into(last1.feats, None if sym else last2.feats, ws.get("g", b1, b2), symmetric=ws.symmetric)
        if last1.const:
            g.add_(last1.const)
        if isinstance(prod, float):
            acc.copy_(g).mul_(prod) if first else acc.add_(g, alpha=prod)
        elif first:
            torch.mul(prod, g, out=acc)
        else:
            acc.addcmul_(prod, g)
        return
    prod = _factor_product(f1, f2, sym, ws, (b1, b2))
    acc4 = acc.view(b1, k, b2, k)
    if t1.signal is None:  # identity over outputs
        if first:
            acc.zero_()
        diag = acc4.diagonal(0, 1, 3)  # (b1, b2, k)
        diag.add_(prod if isinstance(prod, float) else prod[..., None])
        return
    s1 = t1.signal.reshape(b1 * k, -1)  # (b1, k, q) -> (b1 k, q)
    s2 = None if sym else t2.signal.reshape(b2 * k, -1)
    if isinstance(prod, float) and prod == 1.0:
        gram_into(s1, s2, acc, not first, ws.symmetric)
        return
    g = gram_into(s1, s2, ws.get("s", b1 * k, b2 * k), symmetric=ws.symmetric).view(b1, k, b2, k)
    p = prod if isinstance(prod, float) else prod[:, None, :, None]
    if first:
        torch.mul(g, p, out=acc4)
    else:
        acc4.addcmul_(g, p) if not isinstance(p, float) else acc4.add_(g, alpha=p)


def kernel_tile(
    terms1: Sequence[Term], terms2: Sequence[Term] | None, k: int, acc: Tensor, ws=None
) -> Tensor:
    """One tile ``Σ_t term_t`` into ``acc``; ``terms2=None`` is a diagonal tile of a symmetric kernel
    (then ``acc`` comes back symmetric). Shape: ``acc: (b1 k, b2 k)``."""
    ws = ws or _Workspace(acc)
    sym = terms2 is None
    if not terms1:
        return acc.zero_()
    for i, t1 in enumerate(terms1):
        _add_term(acc, t1, t1 if sym else terms2[i], k, sym, i == 0, ws)
    return mirror_lower_(acc, ws.get("m", *acc.shape)) if sym else acc


def _feature_bytes(terms: Sequence[Term]) -> int:
    ts = [f.feats for t in terms for f in t.factors] + [t.signal for t in terms]
    return sum(t.numel() * t.element_size() for t in ts if t is not None)


def tiled_kernel(
    make_terms: Callable[[Tensor], list[Term]],
    x1: Tensor,
    x2: Tensor | None,
    k: int,
    *,
    block_size: int | None = None,
    progress: bool | None = None,
    desc: str = "kernel",
    symmetric: str = "blocks",
) -> Tensor:
    """``Σ_t term_t`` over all pairs, tile by tile; ``make_terms(x_block)`` gives a block's features.
    ``symmetric``: how symmetric Grams are formed (:func:`gram_into`).

    Peak memory: the result (``n1 n2 k²`` numbers), at most six tile buffers (``6 (block·k)²``) and the
    features of every block if they fit in 1 GiB, else of two blocks at a time (recomputed as
    needed). ``block_size=None`` uses ``DEFAULT_BLOCK // k`` rows. ``progress=None`` shows a bar
    only for jobs that run longer than 2 s; ``True``/``False`` force it on/off.

    Shape:
        ``x1: (n1, ...), x2: (n2, ...) | None -> (n1 k, n2 k)``.
    """
    if symmetric not in SYMMETRIC_MODES:
        raise ValueError(f"unknown symmetric mode {symmetric!r}: use one of {SYMMETRIC_MODES}")
    sym = x2 is None
    xs = (x1, x1 if sym else x2)
    n1, n2 = len(xs[0]), len(xs[1])
    b = block_size or max(1, DEFAULT_BLOCK // k)
    if b < 1:
        raise ValueError(f"block_size must be a positive number of rows, got {block_size}")
    starts = [list(range(0, n, b)) for n in (n1, n2)]
    pairs = [(i, j) for i in starts[0] for j in starts[1] if not sym or j >= i]
    cache: dict[tuple[int, int], list[Term]] = {}
    row: dict[str, object] = {}  # the current row block, when not every block is kept
    keep_all: list[bool] = []

    def feats(role: int, s: int) -> list[Term]:
        key = (0 if sym else role, s)
        if key in cache:
            return cache[key]
        if role == 0 and row.get("start") == s:
            return row["terms"]
        terms = make_terms(xs[role][s : s + b])
        if not keep_all:
            per_sample = _feature_bytes(terms) / max(1, min(b, len(xs[role]) - s))
            keep_all.append(per_sample * (n1 if sym else n1 + n2) <= _CACHE_BYTES)
        if keep_all[0]:
            cache[key] = terms
        elif role == 0:
            row.update(start=s, terms=terms)
        return terms

    if len(pairs) == 1:
        out = x1.new_empty(n1 * k, n2 * k)
        return kernel_tile(feats(0, 0), None if sym else feats(1, 0), k, out, _Workspace(out, symmetric))
    out = x1.new_empty(n1 * k, n2 * k)
    ws = _Workspace(out, symmetric)
    bar = progress_bar(
        total=len(pairs), desc=desc, unit="tile", enabled=progress, delay=2.0 if progress is None else 0
    )
    with bar:
        for i, j in pairs:
            ti, tj = feats(0, i), None if sym and i == j else feats(1, j)
            r, c = min(b, n1 - i) * k, min(b, n2 - j) * k
            tile = kernel_tile(ti, tj, k, ws.get("acc", r, c), ws)
            out[i * k : i * k + r, j * k : j * k + c] = tile
            if sym and i != j:
                out[j * k : j * k + c, i * k : i * k + r] = tile.T
            bar.update()
    return out
