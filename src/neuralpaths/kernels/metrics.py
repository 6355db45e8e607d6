"""Kernel metrics: the NPF paper's ν, kernel–target alignment, eigen-spectrum and effective rank.

- ``ν = yᵀ (K / tr K)⁻¹ y = tr(K) · yᵀ K⁻¹ y`` (``code/binary-mnist_vt.ipynb`` of the NPF paper:
  lower ν means the labels lie along the kernel's large eigen-directions). Solved by Cholesky.
- alignment (Cristianini et al. 2002): ``A(K1, K2) = ⟨K1, K2⟩_F / (‖K1‖_F ‖K2‖_F)``; with a target
  ``y``, ``K2 = y yᵀ`` (``Y Yᵀ`` for several columns). Centred alignment (Cortes et al. 2012):
  the same of ``H K1 H`` and ``H K2 H``, ``H = I − 11ᵀ/n``.
- effective rank: ``"entropy"`` (Roy & Vetterli 2007): ``exp(−Σ p_i log p_i)``, ``p = λ / Σλ``
  (negative round-off eigenvalues set to 0); ``"participation"``: ``(tr K)² / ‖K‖_F² = (Σλ)² / Σλ²``
  (no eigendecomposition). Both lie in ``[1, rank K]`` and equal ``r`` for ``r`` equal eigenvalues.

Shape:
    ``K: (n, n)``; ``y: (n,)`` or ``(n, k)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_finite, real
from .regression import _as_tensor, _check_square, _check_targets, cho_solve

RANKS = ("entropy", "participation")


def _kernel(K, name: str = "K", *, symmetric: bool = True) -> Tensor:
    k = _as_tensor(K, name)
    _check_square(k, name, symmetric=symmetric)
    return k


def _targets(y, k: Tensor) -> Tensor:
    y = check_finite("y", _as_tensor(y, "y", like=k))
    _check_targets(y, len(k))
    return y.reshape(len(k), -1)  # (n,) | (n, k) -> (n, k)


def nu(K, y, *, normalize: bool = True, reduction: str = "sum", ridge: float = 0.0) -> float | Tensor:
    """``ν = yᵀ (K / tr K + ridge·I)⁻¹ y`` (``normalize=False``: ``K`` itself instead of ``K / tr K``).

    Several target columns: ``reduction="sum"`` gives ``Σ_j y_jᵀ K⁻¹ y_j = tr(Yᵀ K⁻¹ Y)`` (a float),
    ``"none"`` one value per column (a ``(k,)`` tensor).
    """
    k = _kernel(K)
    y = _targets(y, k)
    if reduction not in ("sum", "none"):
        raise ValueError(f"unknown reduction {reduction!r}: use 'sum' or 'none'")
    ridge = real("ridge", ridge, low=0.0)
    a = k / k.trace() if normalize else k.clone()
    a.diagonal().add_(ridge)
    chol, info = torch.linalg.cholesky_ex(a)
    if int(info) != 0:
        raise ValueError(
            "nu: the kernel is not positive definite (Cholesky failed), so yᵀK⁻¹y is undefined; "
            "pass ridge > 0 (added to K / tr K) or use fewer / distinct points"
        )
    per_col = (y * cho_solve(chol, y)).sum(0)
    return float(per_col.sum()) if reduction == "sum" else per_col


def _center(k: Tensor) -> Tensor:
    """``H K H`` with ``H = I − 11ᵀ/n``."""
    return k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()


def kernel_alignment(K1, K2, *, centered: bool = False) -> float:
    """``⟨K1, K2⟩_F / (‖K1‖_F ‖K2‖_F)`` (of ``H K H`` if ``centered``); in ``[-1, 1]``, scale-invariant."""
    k1, k2 = _kernel(K1, "K1", symmetric=False), _kernel(K2, "K2", symmetric=False)
    if k1.shape != k2.shape:
        raise ValueError(f"kernels of different sizes: {tuple(k1.shape)} vs {tuple(k2.shape)}")
    k2 = k2.to(k1)
    if centered:
        k1, k2 = _center(k1), _center(k2)
    return float((k1 * k2).sum() / (k1.norm() * k2.norm()))


def target_alignment(K, y, *, centered: bool = False) -> float:
    """Alignment of ``K`` with the target kernel ``Y Yᵀ``, without forming it:
    ``tr(Yᵀ K Y) / (‖K‖_F ‖YᵀY‖_F)`` (centred: ``H K H`` and ``H Y``, ``H = I − 11ᵀ/n``).

    No ``n × n`` temporary besides ``K`` itself: ``‖HKH‖²_F = ‖K‖²_F − 2‖K1‖²/n + (1ᵀK1)²/n²`` and
    ``tr(Yᵀ HKH Y) = tr(Y_cᵀ K Y_c)`` with ``Y_c = H Y``.
    """
    k = _kernel(K, symmetric=False)
    y = _targets(y, k)
    if not centered:
        return float((y * (k @ y)).sum() / (k.norm() * (y.T @ y).norm()))
    n, yc = len(k), y - y.mean(0, keepdim=True)
    row = k.sum(1)  # K 1
    hkh = torch.linalg.matrix_norm(k) ** 2 - 2 * (row @ row) / n + row.sum() ** 2 / n**2
    return float((yc * (k @ yc)).sum() / (hkh.clamp(min=0).sqrt() * (yc.T @ yc).norm()))


def spectrum(K, *, normalize: bool = False) -> Tensor:
    """Eigenvalues of the symmetric ``K`` in descending order (``normalize``: divided by ``tr K``).

    Shape:
        ``(n, n) -> (n,)``.
    """
    k = _kernel(K)
    lam = torch.linalg.eigvalsh(k).flip(0)
    return lam / lam.sum() if normalize else lam


def effective_rank(K, kind: str = "entropy") -> float:
    """Effective rank of a PSD kernel: ``"entropy"`` or ``"participation"`` (see module docstring)."""
    if kind not in RANKS:
        raise ValueError(f"unknown effective rank {kind!r}: use one of {RANKS}")
    k = _kernel(K)
    if kind == "participation":
        return float(k.trace() ** 2 / (k * k).sum())
    lam = torch.linalg.eigvalsh(k).clamp(min=0)
    p = lam / lam.sum()
    return float(torch.exp(-torch.special.xlogy(p, p).sum()))
