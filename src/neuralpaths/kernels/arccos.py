"""The arc-cosine recursion of ReLU kernels, evaluated tile by tile in place.

Every infinite-width kernel of :mod:`neuralpaths.kernels.infinite` is an elementwise recursion over
the layers on an ``(n1, n2)`` matrix. Written naively (a new ``(n1, n2)`` tensor per operation,
``sin(arccos(·))``, masks by ``where``) it costs ~200–700 ns per entry at depth 6, most of it
allocating and streaming temporaries that miss the cache. Here the same formulas run on tiles of
:data:`TILE_ENTRIES` entries (a few hundred KiB, so the temporaries stay in cache), in place, in the
normalised form:

    ``cos θ = Σ / (s s')`` with ``s = √v`` (a row and a column vector: two broadcast products),
    ``π − θ = π − arccos(cos θ)``, ``κ₀ = (π − θ)/(2π)``,
    ``κ₁ = s s' (√(1 − cos² θ)/(2π) + κ₀ cos θ)``      (``sin θ = √(1 − cos² θ)``),

about 25 ns per entry and layer on one thread (``benchmarks/bench_krr_iterative.py``).
:func:`arccos_kernels` is the plain transcription, kept as the reference the tests compare with.

Shape:
    ``a: (n1, d_in), b: (n2, d_in)``; every yielded matrix ``(n1, n2)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from ..checks import optional_block_size
from ..progress import progress_bar
from .gram import mirror_lower_

BLOCK_SIZE = 128  # rows per block (progress and the public block_size unit)
TILE_ENTRIES = 1 << 17  # entries per tile of the elementwise recursion (1 MiB in float64)
TILE_ROWS = 64
SNAP = 8  # cos θ within SNAP·ε of 1 is taken as 1 (see relu_layers)
INV_2PI = 1.0 / (2.0 * math.pi)


def arccos_kernels(cov: Tensor, v1: Tensor, v2: Tensor) -> tuple[Tensor, Tensor]:
    """``(κ₁, κ₀)`` of centred Gaussian pairs with covariances ``cov`` and variances ``v1``, ``v2``
    (the plain formulas; :func:`relu_layers` computes the same in place).

    A zero-variance input (``u = 0``) gives ``κ₁ = κ₀ = 0`` (``relu'(0) = 0``).

    Shape:
        ``cov: (n1, n2), v1: (n1,), v2: (n2,) -> (n1, n2), (n1, n2)``.
    """
    norm = torch.sqrt(v1[:, None] * v2[None, :])
    pos = norm > 0
    cos = torch.where(pos, cov / torch.where(pos, norm, 1.0), 0.0).clamp(-1.0, 1.0)
    theta = torch.arccos(cos)
    k1 = norm * (torch.sin(theta) + (math.pi - theta) * cos) / (2 * math.pi)
    k0 = torch.where(pos, (math.pi - theta) / (2 * math.pi), 0.0)
    return k1, k0


def _inverse_sqrt(v: Tensor) -> tuple[Tensor, Tensor]:
    """``(√v, 1/√v)`` with ``1/√0 = 0``. Shape: ``(n,) -> (n,), (n,)``."""
    s = v.clamp_min(0).sqrt()
    return s, torch.where(s > 0, 1.0 / torch.where(s > 0, s, 1.0), 0.0)


def relu_layers(
    gram: Tensor,
    sq1: Tensor,
    sq2: Tensor,
    d_in: int,
    depth: int,
    sw2: float,
    sb2: float,
    gating: str = "relu",
) -> Iterator[tuple[Tensor, Tensor | None]]:
    """``(Σ_l, κ₀(Σ_l))`` for ``l = 1..d`` of the pre-activation covariances of a depth-``d`` net
    (``κ₀`` is ``None`` at ``l = d``) from the Gram tile ``gram = ⟨x, x'⟩`` and the squared norms,
    computed in place: ``gram`` is consumed, and a yielded pair is overwritten by the next step, so
    use it (and do not modify it) before asking for the next.

    ``cos θ`` within ``SNAP · ε`` of 1 is set to 1: ``arccos`` turns a rounding error ``δ`` of the
    cosine into ``√(2δ)`` (``1.5e-8`` for one unit in the last place), so the diagonal of a kernel
    (``θ = 0``) would otherwise carry ``~1e-9`` relative noise that depends on how the Gram product
    was blocked; the angles this moves are below ``6e-8`` (float64), where the cosine cannot
    resolve them anyway.

    ``gating``: how ``Σ`` evolves — ``"relu"`` (``Σ_{l+1} = σ_w² κ₁(Σ_l) + σ_b²``), ``"linear"``
    (``σ_w² Σ_l + σ_b²``) or ``"shallow"`` (``Σ_l = Σ_1``).

    Shape:
        ``gram: (n1, n2), sq1: (n1,), sq2: (n2,)`` -> pairs of ``(n1, n2)``.
    """
    cov = gram.mul_(sw2 / d_in).add_(sb2)
    v1, v2 = sq1 * (sw2 / d_in) + sb2, sq2 * (sw2 / d_in) + sb2
    for _ in range(depth - 1):
        (s1, i1), (s2, i2) = _inverse_sqrt(v1), _inverse_sqrt(v2)
        cos = (cov * i1[:, None]).mul_(i2[None, :]).clamp_(-1.0, 1.0)  # (n1, n2)
        cos.masked_fill_(cos > 1.0 - SNAP * torch.finfo(cos.dtype).eps, 1.0)  # θ = 0 exactly, not √ε
        k0 = torch.arccos(cos).neg_().add_(math.pi).mul_(INV_2PI)  # (π − θ)/(2π)
        if not (bool(s1.all()) and bool(s2.all())):  # relu'(0) = 0
            k0.mul_((s1 > 0).to(k0.dtype)[:, None]).mul_((s2 > 0).to(k0.dtype)[None, :])
        yield cov, k0
        if gating == "relu":
            sin = torch.mul(cos, cos).neg_().add_(1.0).clamp_(min=0.0).sqrt_().mul_(INV_2PI)
            k1 = cos.mul_(k0).add_(sin).mul_(s1[:, None]).mul_(s2[None, :])  # κ₁, in cos's memory
            cov, v1, v2 = k1.mul_(sw2).add_(sb2), sw2 * v1 / 2 + sb2, sw2 * v2 / 2 + sb2  # κ₁(v, v) = v/2
        elif gating == "linear":
            cov, v1, v2 = cov.mul_(sw2).add_(sb2), sw2 * v1 + sb2, sw2 * v2 + sb2
    yield cov, None


def tiled(
    fn: Callable[[Tensor, Tensor, Tensor], Tensor],
    x1: Tensor,
    x2: Tensor | None,
    block_size: int | None,
    desc: str,
    progress: bool | None = None,
) -> Tensor:
    """``fn(gram, sq1, sq2)`` of an elementwise closed form over all pairs of rows of ``x1`` and
    ``x2``: by blocks of ``block_size`` rows of ``x1`` (``None``: :data:`BLOCK_SIZE`; the progress
    unit), one Gram product per block, then ``fn`` on tiles of about :data:`TILE_ENTRIES` entries
    (``gram`` the tile's inner products, which ``fn`` may overwrite; ``sq`` the squared norms).
    ``x2=None``: only the lower triangle is computed, and mirrored; the diagonal's inner products
    are the squared norms themselves, so that its angles are exactly 0 (a point repeated in ``x1``
    and ``x2`` of a cross kernel gets the float64 rounding of the Gram product, amplified by
    ``arccos`` to ~1e-8 relative).

    Shape:
        ``x1: (n1, d), x2: (n2, d) -> (n1, n2)``; ``fn: (r, c), (r,), (c,) -> (r, c)``.
    """
    block_size = optional_block_size("block_size", block_size) or BLOCK_SIZE
    other = x1 if x2 is None else x2
    n1, n2 = len(x1), len(other)
    sq2 = (other * other).sum(1)
    sq1 = sq2 if x2 is None else (x1 * x1).sum(1)
    out = x1.new_empty(n1, n2)
    starts = range(0, n1, block_size)
    delay = 2.0 if progress is None else 0
    bar = progress_bar(starts, desc=desc, unit="block", enabled=progress, delay=delay)
    for s in bar:
        e = min(s + block_size, n1)
        stop = e if x2 is None else n2  # the lower triangle only, when symmetric
        gram = x1[s:e] @ other[:stop].T  # (e − s, stop)
        if x2 is None:  # ⟨x, x⟩ exactly the squared norm: the cosine of a point with itself is 1
            gram[:, s:e].diagonal().copy_(sq1[s:e])
        rows = min(e - s, TILE_ROWS)
        cols = max(TILE_ROWS, TILE_ENTRIES // rows)
        for r in range(0, e - s, rows):
            re = min(r + rows, e - s)
            q1 = sq1[s + r : s + re]
            for c in range(0, stop, cols):
                ce = min(c + cols, stop)
                tile = gram[r:re, c:ce].contiguous()
                out[s + r : s + re, c:ce] = fn(tile, q1, sq2[c:ce])
    return mirror_lower_(out) if x2 is None else out
