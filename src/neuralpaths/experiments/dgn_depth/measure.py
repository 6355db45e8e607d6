"""dgn-depth: what is measured on the kernels at initialisation — NPK spectrum summaries, the distance
of the finite-width NPK from its infinite-width limit, the value NTK's deviation from Identity 3's
expectation, and the loss curve of gradient descent with a fixed kernel (the linearised network).

All functions take float64 tensors and return plain Python numbers (JSON-able records).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from neuralpaths.kernels import effective_rank, spectrum


def _finite(value: float) -> float | None:
    """``value``, or ``None`` where it is not finite (JSON has no infinity)."""
    return value if math.isfinite(value) else None


def npk_summary(h: Tensor, smallest: int) -> dict:
    """Spectrum summary of the trace-normalised kernel ``H / tr H``.

    ``npk_condition`` is ``λ_max / λ_min`` (``None`` if ``λ_min ≤ 0`` to round-off: singular),
    ``npk_effective_rank`` the entropy effective rank, ``npk_smallest`` the ``smallest`` least
    eigenvalues (ascending) and ``npk_offdiag_ratio`` the mean over pairs ``i ≠ j`` of
    ``H_ij / √(H_ii H_jj)`` (the mean cosine of the inputs' path features).

    Shape:
        ``h: (n, n)`` symmetric positive semi-definite.
    """
    hn = h / h.trace()
    lam = spectrum(hn)  # descending
    lam_min = float(lam[-1])
    tiny = len(hn) * torch.finfo(hn.dtype).eps * float(lam[0])
    diag = hn.diagonal().clamp(min=0).sqrt()
    cos = hn / torch.where(diag[:, None] * diag[None] > 0, diag[:, None] * diag[None], 1.0)
    off = ~torch.eye(len(hn), dtype=torch.bool, device=hn.device)
    return {
        "npk_condition": float(lam[0]) / lam_min if lam_min > tiny else None,
        "npk_effective_rank": effective_rank(hn),
        "npk_smallest": [float(v) for v in lam.flip(0)[:smallest]],
        "npk_offdiag_ratio": float(cos[off].mean()) if len(hn) > 1 else 0.0,
    }


def limit_errors(h: Tensor, h_limit: Tensor, top: int) -> dict:
    """How far ``H / tr H`` is from the infinite-width ``H∞ / tr H∞``: the relative Frobenius error
    and the largest relative error of the ``top`` leading eigenvalues.

    Both are normalised by their own trace, so any constant factor (the ``Π_l w_l`` of
    ``npk(..., normalize=True)``, which ``npk_limit`` is the limit of) drops out.

    Shape:
        ``h, h_limit: (n, n)``.
    """
    a, b = h / h.trace(), h_limit / h_limit.trace()
    la, lb = spectrum(a)[:top], spectrum(b)[:top]
    return {
        "limit_rel_frobenius": float((a - b).norm() / b.norm()),
        "limit_top_rel_error": float(((la - lb).abs() / lb.abs()).max()),
    }


def value_sigmas(in_dim: int, width: int, hidden: int) -> list[float]:
    """Standard deviation of each value layer's weights, ``√(2 / fan_in)`` (He normal, or ``±`` that)."""
    return [math.sqrt(2.0 / in_dim)] + [math.sqrt(2.0 / width)] * hidden


def ntk_deviation(k: Tensor, h: Tensor, constant: float) -> float:
    """``‖K − c·H‖_F / ‖c·H‖_F``: the finite-width value NTK against Identity 3's expectation.

    Shape:
        ``k, h: (n, n)``.
    """
    expected = constant * h
    return float((k - expected).norm() / expected.norm())


def condition(k: Tensor) -> float | None:
    """``λ_max / λ_min`` of a symmetric kernel (``None`` if singular to round-off)."""
    lam = torch.linalg.eigvalsh(k)
    tiny = len(k) * torch.finfo(k.dtype).eps * float(lam[-1])
    return _finite(float(lam[-1] / lam[0])) if float(lam[0]) > tiny else None


def kernel_gd_losses(k: Tensor, r0: Tensor, lr: float, steps: int) -> Tensor:
    """Loss ``½‖r_t‖²`` of gradient descent on ``½‖f − y‖²`` with the fixed kernel ``K`` for
    ``t = 0..steps``: ``r_{t+1} = (I − lr·K) r_t``, so with ``K = V Λ Vᵀ``,
    ``½‖r_t‖² = ½ Σ_i (1 − lr·λ_i)^{2t} (v_iᵀ r_0)²`` (the convention of
    :func:`neuralpaths.kernels.gd_predict`, as a loss curve).

    Shape:
        ``k: (n, n), r0: (n,) -> (steps + 1,)``.
    """
    lam, vec = torch.linalg.eigh(k)
    coef = (vec.T @ r0) ** 2  # (n,)
    t = torch.arange(steps + 1, dtype=k.dtype, device=k.device)
    factor = (1 - lr * lam).abs().clamp(min=1e-300).log()  # (n,); |.| since (.)^(2t) is even
    return 0.5 * (torch.exp(2 * t[:, None] * factor[None]) * coef[None]).sum(1)


def first_below(losses: Tensor, threshold: float) -> int | None:
    """The first index with ``losses[t] ≤ threshold · losses[0]``, or ``None``.

    Shape:
        ``losses: (T,)``.
    """
    hit = torch.nonzero(losses <= threshold * losses[0])
    return int(hit[0]) if len(hit) else None


def lr_rule(k: Tensor, fraction: float) -> tuple[float, float]:
    """``(lr, λ_max)`` with ``lr = fraction · 2 / λ_max(K)``: the learning rate as a fraction of the
    largest stable one of gradient descent on ``½‖f − y‖²`` with the fixed kernel ``K``.

    Shape:
        ``k: (n, n)``.
    """
    lam_max = float(torch.linalg.eigvalsh(k)[-1])
    return fraction * 2.0 / lam_max, lam_max
