"""Kernel ridge regression without the ``(n, n)`` float64 matrix: preconditioned conjugate gradients
on ``(K + μ I) α = Y`` with a randomly pivoted Cholesky (Nyström) preconditioner, the kernel applied
by blocks of rows.

**What and why.** Each CG iteration is one product ``K V`` with all right-hand sides at once (one-hot
targets: 10 columns per pass). Three choices make it cheap:

- *The kernel once, stored by halves.* :class:`KernelOperator` computes the lower triangle of ``K``
  by row blocks, ``k(X[s:e], X[:e])``, and keeps it in a memory budget (float64 when the half fits,
  else float32: ``2 n²`` bytes, 7.2 GB at n = 60 000), so the kernel, whose closed forms cost far
  more per entry than a multiply-add, is evaluated once (half of ``n²`` entries) and every CG
  iteration is a memory-bound read of the stored half (``y[s:e] += B v[:e]``,
  ``y[:s] += B[:, :s]ᵀ v[s:e]``, by column chunks that are converted to float64 in cache). Blocks
  beyond the budget are recomputed at every product.
- *Randomly pivoted Cholesky* (Chen, Epperly, Tropp & Webber 2023, block version) picks ``rank``
  pivots with probability proportional to the diagonal of the current residual kernel: a Nyström
  approximation ``K ≈ F Fᵀ`` as accurate as the best-known column samplers, from ``rank`` kernel
  columns and ``O(n · rank²)`` work, without ever forming ``K``. (Uniform Nyström as in FALKON needs
  more columns for the same accuracy; a greedy pivoted Cholesky, GPyTorch's default, is led astray
  by outliers; EigenPro preconditions gradient descent, which needs more passes than CG.)
- *The Nyström preconditioner* of Frangella, Tropp & Udell (2023):
  ``P⁻¹ = (λ̂_r + μ) U (Λ̂ + μ I)⁻¹ Uᵀ + (I − U Uᵀ)`` with ``U Λ̂ Uᵀ = F Fᵀ`` (Woodbury form,
  applied through ``F`` itself, ``O(n · rank)`` per application); the preconditioned spectrum is
  ``≈ (λ_{r+1} + μ) / μ`` wide, so the iteration count falls as the rank grows.

Iterations stop when every column's relative residual ``‖(K + μI) α − y‖ / ‖y‖`` (by the CG
recurrence) is at most ``tol``; the residual reported is then recomputed by one more product. With
a float32 store the operator is the kernel rounded to float32 (relative ``6e-8`` per entry).

Shape:
    ``X: (n, d)``, ``Y: (n, k)`` -> ``α: (n, k)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

KernelFn = Callable[[Tensor, Tensor], Tensor]
BLOCK_ENTRIES = 1 << 24  # kernel entries per row block of the operator (128 MiB in float64)
CHUNK_ENTRIES = 1 << 18  # stored entries per product chunk (2 MiB in float64: stays in cache)
MEMORY_FRACTION = 0.5  # of the available memory: Cholesky's two (n, n) matrices, or the kernel store
FALLBACK_MEMORY = 8 << 30  # bytes assumed available when the system does not say


def default_rank(n: int) -> int:
    """Preconditioner rank when none is given: 1000, 2000 above 30 000 points (at most ``n``).

    Measured on MNIST, trained-gate NPK at n = 60 000 (λ = 1e-6·tr K/n): rank 1000 → 277 CG
    iterations, 2000 → 203 for 20 s more set-up; at n = 20 000, 1000 and 2000 cost the same time.
    """
    return min(n, 2000 if n > 30_000 else 1000)


def available_memory() -> int:
    """Bytes of memory available now: psutil if installed, else ``/proc/meminfo``, else 8 GiB."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return FALLBACK_MEMORY


def memory_budget(budget: int | None) -> int:
    """The budget in bytes: ``budget``, or :data:`MEMORY_FRACTION` of :func:`available_memory`."""
    return int(budget) if budget is not None else int(MEMORY_FRACTION * available_memory())


def choose_solver(n: int, budget: int | None = None, precomputed: bool = False) -> str:
    """``"cholesky"`` when its float64 matrices fit in the budget (the ``(n, n)`` kernel and the copy
    that is factorised; a precomputed kernel is already in memory, only the copy), else ``"iterative"``."""
    need = 8 * n * n * (1 if precomputed else 2)
    return "cholesky" if need <= memory_budget(budget) else "iterative"


class KernelOperator:
    """``K V`` by row blocks of a symmetric kernel, the lower triangle stored within a budget.

    Either ``K`` (a given ``(n, n)`` matrix, used as is) or ``kernel(A, B) -> (len(A), len(B))`` and
    the data ``X``. Blocks of rows ``[s, e)`` hold ``k(X[s:e], X[:e])`` (diagonal block symmetrised);
    the first blocks are stored (in ``store_dtype``: ``None`` chooses float64 if the whole lower
    triangle fits in ``budget`` bytes, else float32) until the budget is spent, the others recomputed
    at every product. Products are computed in ``X``'s dtype.

    Shape:
        ``X: (n, d)``, ``K: (n, n)``; ``matvec``: ``(n, k) -> (n, k)``; ``columns``: ``(s,) -> (n, s)``.
    """

    def __init__(
        self,
        kernel: KernelFn | None = None,
        X: Tensor | None = None,
        *,
        K: Tensor | None = None,
        budget: int | None = None,
        store_dtype: torch.dtype | None = None,
        block_rows: int | None = None,
    ):
        if (K is None) == (kernel is None or X is None):
            raise ValueError("KernelOperator needs either K or both kernel and X")
        self.kernel, self.X, self.K = kernel, X, K
        ref = K if K is not None else X
        self.n, self.dtype, self.device = len(ref), ref.dtype, ref.device
        self.passes = 0  # products computed (kernel passes over all blocks)
        if K is not None:
            self._diag = K.diagonal().clone()
            return
        n = self.n
        rows = block_rows or max(16, min(4096, BLOCK_ENTRIES // max(n, 1)))
        self.starts = list(range(0, n, rows))
        self.rows = rows
        budget = memory_budget(budget)
        half = n * (n + rows) // 2
        if store_dtype is None:
            store_dtype = self.dtype if half * _itemsize(self.dtype) <= budget else torch.float32
        self.store_dtype = store_dtype
        self.blocks: list[Tensor | None] = []
        diag, spent = [], 0
        for s in self.starts:
            e = min(s + rows, n)
            size = (e - s) * e * _itemsize(store_dtype)
            if spent + size <= budget:
                b = self._block(s, e)
                self.blocks.append(b.to(store_dtype))
                spent += size
                diag.append(b[:, s:e].diagonal().clone())  # a copy: a view would keep b alive
            else:
                self.blocks.append(None)
                diag.append(kernel(X[s:e], X[s:e]).to(self.dtype).diagonal().clone())
        self.stored_bytes = spent
        self._diag = torch.cat(diag)

    def _block(self, s: int, e: int) -> Tensor:
        b = torch.as_tensor(self.kernel(self.X[s:e], self.X[:e])).to(device=self.device, dtype=self.dtype)
        d = b[:, s:e]
        d.copy_((d + d.T) / 2)
        return b

    @property
    def stored_fraction(self) -> float:
        """Fraction of the lower triangle's blocks that are stored (1.0 for a given ``K``)."""
        if self.K is not None:
            return 1.0
        return sum(b is not None for b in self.blocks) / len(self.blocks)

    def diagonal(self) -> Tensor:
        return self._diag

    def matvec(self, V: Tensor) -> Tensor:
        """``K V``. Shape: ``(n, k) -> (n, k)``."""
        self.passes += 1
        if self.K is not None:
            return self.K @ V
        VT = V.T.contiguous()  # (k, n): right-hand sides as rows, 1.8x faster products than (n, k)
        out = torch.zeros_like(VT)  # (k, n)
        buf = V.new_empty(CHUNK_ENTRIES)  # a stored chunk in the product's dtype, reused
        for s, b in zip(self.starts, self.blocks):
            e = min(s + self.rows, self.n)
            b = self._block(s, e) if b is None else b  # (e − s, e)
            width = max(1, CHUNK_ENTRIES // (e - s))
            for c in range(0, e, width):  # column chunks: converted in cache, each read once
                ce = min(c + width, e)
                chunk = b[:, c:ce]
                if chunk.dtype != V.dtype:
                    chunk = buf[: chunk.numel()].view(chunk.shape).copy_(chunk)
                out[:, s:e] += VT[:, c:ce] @ chunk.T
                left = min(ce, s) - c  # columns of the chunk left of the diagonal block: mirrored
                if left > 0:
                    out[:, c : c + left] += VT[:, s:e] @ chunk[:, :left]
        return out.T.contiguous()

    def columns(self, idx: Tensor) -> Tensor:
        """``K[:, idx]``. Shape: ``(s,) -> (n, s)``."""
        if self.K is not None:
            return self.K[:, idx]
        out = torch.as_tensor(self.kernel(self.X, self.X[idx])).to(device=self.device, dtype=self.dtype)
        return out


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def rp_cholesky(op: KernelOperator, rank: int, *, block: int = 100, seed: int = 0) -> Tensor:
    """Block randomly pivoted Cholesky: ``F`` with ``K ≈ F Fᵀ`` of rank ``≤ rank``.

    Each round samples ``block`` pivots with probability proportional to the residual diagonal
    ``diag(K − F Fᵀ)``, takes their residual columns ``G`` and appends ``G H^{-1/2}`` (``H = G[S]``,
    by its eigendecomposition, dropping directions below ``1e-10`` of its largest eigenvalue, so
    repeated or dependent pivots do no harm). Stops early when the residual diagonal vanishes.

    Shape:
        ``-> (n, r)``, ``r ≤ rank``.
    """
    n = op.n
    rank = min(rank, n)
    gen = torch.Generator().manual_seed(seed)
    d = op.diagonal().clone().clamp_min(0)
    total = float(d.sum())
    F = torch.zeros(n, rank, dtype=op.dtype, device=op.device)
    k = 0
    while k < rank and float(d.sum()) > 1e-14 * total:
        m = min(block, rank - k)
        idx = torch.multinomial(d.cpu().double(), m, replacement=True, generator=gen).unique().to(op.device)
        G = op.columns(idx) - F[:, :k] @ F[idx, :k].T
        w, Q = torch.linalg.eigh((G[idx] + G[idx].T) / 2)
        keep = w > 1e-10 * max(float(w[-1]), 0.0)
        if not bool(keep.any()):
            break
        new = G @ (Q[:, keep] / w[keep].sqrt())
        take = min(new.shape[1], rank - k)
        F[:, k : k + take] = new[:, :take]
        k += take
        d = (d - (new[:, :take] ** 2).sum(1)).clamp_min(0)
        d[idx] = 0
    return F[:, :k]


@dataclass
class Nystrom:
    """``P⁻¹ = (λ̂_r + μ) U (Λ̂ + μ I)⁻¹ Uᵀ + (I − U Uᵀ)`` of the Nyström approximation ``U Λ̂ Uᵀ = F Fᵀ``.

    ``U = F V Λ̂^{-1/2}`` (``Fᵀ F = V Λ̂ Vᵀ``) is never formed: ``P⁻¹ R = R + F (M (Fᵀ R))`` with the
    ``(r, r)`` matrix ``M = V diag(s / λ̂) Vᵀ``, ``s = (λ̂_r + μ) / (λ̂ + μ) − 1`` (one ``(n, r)``
    matrix in memory, no ``O(n r²)`` product to make ``U``). Products run with the right-hand sides
    as rows (``(k, n) @ (n, r)``): thin products in that layout are several times faster.

    Shape:
        ``F: (n, r)``, ``M: (r, r)``, ``lam: (r',)``; ``__call__``: ``(n, k) -> (n, k)``.
    """

    F: Tensor
    M: Tensor
    lam: Tensor
    mu: float

    @classmethod
    def from_factor(cls, F: Tensor, mu: float) -> Nystrom:
        """From ``K ≈ F Fᵀ`` (eigendecomposition of ``Fᵀ F``, ``O(n r²)``); ``lam`` ascending."""
        w, V = torch.linalg.eigh(F.T @ F)
        keep = w > 1e-12 * max(float(w[-1]), 0.0) if len(w) else w > 0
        w, V = w[keep], V[:, keep]
        s = (w[0] + mu) / (w + mu) - 1 if len(w) else w
        return cls(F, (V * (s / w)) @ V.T, w, mu)

    def __call__(self, R: Tensor) -> Tensor:
        if not len(self.lam):
            return R
        RT = R.T.contiguous()  # (n, k) -> (k, n)
        return R + ((RT @ self.F) @ self.M @ self.F.T).T  # (k, n) @ (n, r) @ (r, r) @ (r, n)


@dataclass
class CGResult:
    """Solution ``(n, k)``, iterations, final relative residual (max over columns), kernel passes."""

    solution: Tensor
    n_iter: int
    residual: float
    passes: int


def pcg(
    matvec: Callable[[Tensor], Tensor],
    B: Tensor,
    precond: Callable[[Tensor], Tensor] | None,
    *,
    tol: float,
    max_iter: int,
) -> tuple[Tensor, int]:
    """Preconditioned conjugate gradients on all columns of ``B`` at once (one ``matvec`` per
    iteration for every column; converged columns stop moving). Returns the solution and the
    iterations run.

    Shape:
        ``B: (n, k) -> (n, k)``.
    """
    precond = precond or (lambda r: r)
    X = torch.zeros_like(B)
    R = B.clone()
    Z = precond(R)
    P = Z.clone()
    rz = (R * Z).sum(0)
    bnorm = B.norm(dim=0).clamp_min(torch.finfo(B.dtype).tiny)
    it = 0
    while it < max_iter:
        active = R.norm(dim=0) / bnorm > tol
        if not bool(active.any()):
            break
        Q = matvec(P)
        alpha = torch.where(active, rz / (P * Q).sum(0), 0.0)
        X += alpha * P
        R -= alpha * Q
        Z = precond(R)
        rz_new = (R * Z).sum(0)
        beta = torch.where(active, rz_new / torch.where(rz == 0, 1.0, rz), 0.0)
        P = Z + beta * P
        rz = rz_new
        it += 1
    return X, it


def solve(
    op: KernelOperator,
    Y: Tensor,
    shift: float,
    *,
    tol: float = 1e-6,
    max_iter: int = 1000,
    rank: int = 1000,
    seed: int = 0,
) -> CGResult:
    """``α = (K + shift I)⁻¹ Y`` by PCG with a rank-``rank`` RPCholesky–Nyström preconditioner
    (``rank=0``: plain CG).

    Shape:
        ``Y: (n, k) -> (n, k)``.
    """
    passes = op.passes
    if shift <= 0:
        mu = float(op.diagonal().abs().mean()) * op.n * torch.finfo(op.dtype).eps
    else:
        mu = shift
    precond = Nystrom.from_factor(rp_cholesky(op, rank, seed=seed), mu) if rank > 0 else None

    def matvec(V: Tensor) -> Tensor:
        return op.matvec(V) + shift * V

    alpha, it = pcg(matvec, Y, precond, tol=tol, max_iter=max_iter)
    bnorm = Y.norm(dim=0).clamp_min(torch.finfo(Y.dtype).tiny)
    residual = float(((matvec(alpha) - Y).norm(dim=0) / bnorm).max()) if Y.numel() else 0.0
    return CGResult(alpha, it, residual if math.isfinite(residual) else float("inf"), op.passes - passes)


def blocked_product(
    kernel: KernelFn, A: Tensor, X: Tensor, dual: Tensor, entries: int = BLOCK_ENTRIES
) -> Tensor:
    """``k(A, X) dual`` by blocks of rows of ``A`` (never the whole ``(m, n)`` kernel).

    Shape:
        ``A: (m, d)``, ``X: (n, d)``, ``dual: (n, k) -> (m, k)``.
    """
    rows = max(1, entries // max(len(X), 1))
    out = [kernel(A[s : s + rows], X) @ dual for s in range(0, len(A), rows)]
    return torch.cat(out)


SOLVERS = ("auto", "cholesky", "iterative")


def check_solver_params(est) -> None:
    """Validate an estimator's ``solver``, ``tol``, ``max_iter``, ``rank`` and ``memory_budget``
    (one-line errors naming the parameter)."""
    name = type(est).__name__

    def is_int(v) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    if not (isinstance(est.solver, str) and est.solver in SOLVERS):
        raise ValueError(f"{name}: solver must be one of {SOLVERS}, got {est.solver!r}")
    t = est.tol
    if isinstance(t, bool) or not isinstance(t, numbers.Real) or not (0 < t < 1):
        raise ValueError(
            f"{name}: tol (relative residual of the iterative solver) must be in (0, 1), got {t!r}"
        )
    if not is_int(est.max_iter) or est.max_iter < 1:
        raise ValueError(f"{name}: max_iter must be an int >= 1, got {est.max_iter!r}")
    if est.rank is not None and (not is_int(est.rank) or est.rank < 0):
        raise ValueError(
            f"{name}: rank (of the preconditioner; 0: none) must be an int >= 0 or None, got {est.rank!r}"
        )
    b = est.memory_budget
    if b is not None and (not is_int(b) or b < 0):
        raise ValueError(
            f"{name}: memory_budget must be a number of bytes >= 0 or None (automatic), got {b!r}"
        )
