"""The numerical core of kernel ridge regression: a Cholesky factorisation of ``K + λ I`` with
optional automatic jitter, the two triangular solves, and the blockwise finiteness and symmetry
checks of a training kernel (no further ``(n, n)`` memory).

Shape:
    ``K: (n, n)``, right-hand sides ``(n, k)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import asymmetry as _asymmetry

_BLOCK_ENTRIES = 1 << 22  # entries per block of rows in the finiteness check


def cho_solve(chol: Tensor, b: Tensor) -> Tensor:
    """``(L Lᵀ)⁻¹ b`` by two triangular solves (unlike ``torch.cholesky_solve``, no copy of ``L``).

    Shape:
        ``chol: (n, n)`` lower, ``b: (n, k) -> (n, k)``.
    """
    z = torch.linalg.solve_triangular(chol, b, upper=False)
    return torch.linalg.solve_triangular(chol.mT, z, upper=True)


def cholesky_ridge(k: Tensor, ridge: float, jitter: str | float | None) -> tuple[Tensor, float]:
    """Lower Cholesky factor of ``k + (ridge + jitter) I`` and the jitter used.

    ``jitter="auto"`` tries ``0`` and then ``10^j · eps · mean|diag k|`` for ``j = 0..12``. One
    ``(n, n)`` copy of ``k`` at a time, factorised in place.
    """
    if jitter == "auto":
        scale = torch.finfo(k.dtype).eps * max(float(k.diagonal().abs().mean()), 1e-300)
        tries = [0.0] + [scale * 10**j for j in range(13)]
    else:
        tries = [float(jitter or 0.0)]
    info = torch.empty((), dtype=torch.int32, device=k.device)
    for jit in tries:
        a = k.clone(memory_format=torch.contiguous_format)  # the only n x n copy: factorised in place
        a.diagonal().add_(ridge + jit)
        at = a.mT  # column-major view of the symmetric matrix: LAPACK needs no further copy
        chol, _ = torch.linalg.cholesky_ex(at, out=(at, info))
        if int(info) == 0:
            return chol, jit
        del a, at, chol  # free the failed copy before the next one
    what = f"even with jitter up to {tries[-1]:.3g}" if len(tries) > 1 else "and jitter is off"
    raise ValueError(
        f"the training kernel + {ridge:g}·I is not positive definite (Cholesky failed {what}): check "
        "that the kernel is a positive semi-definite Gram matrix (a shifted, rounded or otherwise "
        "indefinite similarity is not), and for a singular one pass ridge > 0 or jitter='auto'"
    )


def _blocks(n_rows: int, n_cols: int):
    step = max(1, _BLOCK_ENTRIES // max(n_cols, 1))
    return range(0, n_rows, step), step


def check_finite_blocks(t: Tensor, name: str) -> None:
    """Raise if ``t`` has a NaN or infinity (one reduction; the elementwise test only on failure)."""
    if t.numel() and not bool(torch.isfinite(t.sum())):
        starts, step = _blocks(len(t), t[0].numel() if t.ndim > 1 else 1)
        if any(not bool(torch.isfinite(t[s : s + step]).all()) for s in starts):
            raise ValueError(f"Input {name} contains NaN or infinity.")


def check_symmetric(k: Tensor, what: str) -> None:
    """Raise unless ``K`` is symmetric (the Cholesky factorisation would read only one triangle)."""
    worst, scale, symmetric = _asymmetry(k)
    if not symmetric:
        raise ValueError(
            f"{what} is not symmetric (max |K - K^T| = {worst:.3g}, max |diag K| = {scale:.3g}); the "
            "training kernel must be the symmetric Gram matrix K(X_train, X_train)"
            + (
                " (the kernel between test and training points, K(X_test, X_train), goes to predict)"
                if what.startswith("the precomputed")
                else ""
            )
        )
