"""The closed form of gradient-descent training with a fixed kernel, and helpers of kernel regression.

Kernel ridge regression itself, ``α = (K + λ I)⁻¹ y``, ``f(x) = K(x, X) α`` by Cholesky, is the
scikit-learn estimator :class:`~neuralpaths.kernels.estimator.KernelRegressor` (re-exported here);
:func:`gd_predict` at ``t = ∞`` equals ``KernelRegressor(ridge=0, kernel="precomputed")`` on a
positive definite kernel.

:func:`gd_predict` is the linearised-network (kernel) dynamics of training on the squared loss
``L = ½ Σ_i (f(x_i) − y_i)²`` with the fixed kernel ``K``: gradient flow ``df/dt = −K (f − y)``
(``lr = None``: ``t`` is the flow time, equivalently ``lr·steps`` in the small-step limit) gives

    ``f_t(X*) = f_0(X*) + K_*ᵀ K⁻¹ (I − e^{−K t}) (y − f_0(X))``,

and ``t`` steps of gradient descent with learning rate ``lr`` (``lr`` given) give
``(I − (I − lr·K)^t)`` in place of ``(I − e^{−K t})``. Computed by one eigendecomposition
``K = V Λ Vᵀ``: ``K⁻¹ (I − e^{−Kt}) = V diag((1 − e^{−λt})/λ) Vᵀ`` (``→ t`` as ``λ → 0``).
``t = 0`` returns ``f_0``; ``t = ∞`` (with ``lr``: if ``lr·λ_max < 2``, else an error) returns
the ridge-less (minimum-norm) interpolant
``f_0 + K_*ᵀ K⁺ (y − f_0)``, eigenvalues below ``n·eps·λ_max`` counting as zero.

Shape:
    ``K_train: (n, n)``, ``K_test_train: (m, n)``, ``y: (n,)`` or ``(n, k)`` -> ``(m,)`` / ``(m, k)``;
    a sequence of ``T`` times -> ``(T, m[, k])``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ..checks import check_finite, check_symmetric, positive_int, real
from .estimator import KernelClassifier, KernelRegressor, cho_solve

__all__ = [
    "KernelClassifier",
    "KernelRegressor",
    "accuracy",
    "cho_solve",
    "gd_predict",
    "one_hot",
]


def _as_tensor(a, name: str, like: Tensor | None = None) -> Tensor:
    if isinstance(a, np.ndarray) or isinstance(a, (list, tuple)):
        a = torch.as_tensor(np.asarray(a))
    if not isinstance(a, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(a).__name__}")
    if like is not None:
        a = a.to(
            device=like.device,
            dtype=like.dtype if a.is_floating_point() or like.is_floating_point() else None,
        )
    return a


def _check_square(k: Tensor, name: str = "K_train", *, symmetric: bool = False) -> None:
    """A finite floating-point ``(n, n)`` kernel (symmetric if ``symmetric``: solvers that assume it
    read one triangle only)."""
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) Gram matrix, got shape {tuple(k.shape)}")
    if not k.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {k.dtype}: use {name}.double()")
    check_finite(name, k)
    if symmetric:
        check_symmetric(name, k)


def _check_targets(y: Tensor, n: int, name: str = "y") -> None:
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) or ({n}, k) to match K_train, got {tuple(y.shape)}")


def one_hot(
    labels, num_classes: int | None = None, *, on: float = 1.0, off: float = 0.0, dtype=None
) -> Tensor:
    """Integer class labels ``(n,)`` -> targets ``(n, C)`` with ``on`` at the label, ``off`` elsewhere
    (e.g. ``off=-0.1`` or ``off=-1``). ``dtype`` defaults to ``torch.get_default_dtype()``."""
    labels = _as_tensor(labels, "labels")
    if labels.ndim != 1 or (labels.is_floating_point() and not torch.equal(labels, labels.round())):
        raise ValueError(
            f"labels must be a 1-D tensor of integer class indices, got shape {tuple(labels.shape)}"
        )
    labels = labels.long()
    c = int(labels.max()) + 1 if num_classes is None else positive_int("num_classes", num_classes)
    if len(labels) and (labels.min() < 0 or labels.max() >= c):
        raise ValueError(f"labels must lie in [0, {c}), got [{int(labels.min())}, {int(labels.max())}]")
    out = torch.full((len(labels), c), off, dtype=dtype or torch.get_default_dtype(), device=labels.device)
    out[torch.arange(len(labels), device=labels.device), labels] = on
    return out


def accuracy(pred, labels) -> float:
    """Fraction correct. ``pred (n, C)``: argmax vs integer labels ``(n,)`` or one-hot ``(n, C)``;
    ``pred (n,)``: sign vs labels in ``{−1, +1}``."""
    pred, labels = _as_tensor(pred, "pred"), _as_tensor(labels, "labels")
    if pred.ndim == 2:
        want = labels.argmax(1) if labels.ndim == 2 else labels.long()
        got = pred.argmax(1)
    elif pred.ndim == 1:
        if not bool(((labels == 1) | (labels == -1)).all()):
            raise ValueError("accuracy of a 1-D prediction needs labels in {-1, +1} (sign classification)")
        got, want = torch.where(pred > 0, 1, -1), labels.long()
    else:
        raise ValueError(f"pred must be (n,) or (n, C), got shape {tuple(pred.shape)}")
    if got.shape != want.shape:
        raise ValueError(f"pred and labels disagree: {tuple(pred.shape)} vs {tuple(labels.shape)}")
    return float((got == want.to(got.device)).double().mean())


def gd_predict(
    K_train,
    K_test_train,
    y,
    t: float | Sequence[float],
    *,
    lr: float | None = None,
    f0=None,
    f0_test=None,
) -> Tensor:
    """Prediction of kernel gradient descent on the squared loss after time (or steps) ``t``.

    See the module docstring for the convention. ``f0`` / ``f0_test``: initial outputs on the
    training / test inputs (both or neither; default zero). ``t`` may be ``math.inf``.

    Shape:
        ``(n, n), (m, n), (n,[k])`` -> ``(m,[k])``; a sequence of ``T`` times -> ``(T, m,[k])``.
    """
    k = _as_tensor(K_train, "K_train")
    _check_square(k, symmetric=True)
    n = len(k)
    kt = _as_tensor(K_test_train, "K_test_train", like=k)
    if kt.ndim != 2 or kt.shape[1] != n:
        raise ValueError(f"K_test_train must have shape (m, {n}), got {tuple(kt.shape)}")
    check_finite("K_test_train", kt)
    y = check_finite("y", _as_tensor(y, "y", like=k))
    _check_targets(y, n)
    if (f0 is None) != (f0_test is None):
        raise ValueError("pass both f0 (initial outputs on the training inputs) and f0_test, or neither")
    out_shape = (len(kt), *y.shape[1:])
    r = y.reshape(n, -1)
    base = kt.new_zeros(len(kt), r.shape[1])
    if f0 is not None:
        r = r - check_finite("f0", _as_tensor(f0, "f0", like=k)).reshape(n, -1)
        base = check_finite("f0_test", _as_tensor(f0_test, "f0_test", like=k)).reshape(len(kt), -1)
    if lr is not None:
        lr = real("lr", lr, low=0.0, strict=True)
    scalar = isinstance(t, (int, float)) or (isinstance(t, Tensor) and t.ndim == 0)
    times = [float(t)] if scalar else [float(s) for s in t]
    if any(not s >= 0 for s in times):
        raise ValueError(f"times must be >= 0 (or math.inf), got {times}")
    if lr is not None and any(not math.isinf(s) and s != round(s) for s in times):
        raise ValueError(
            f"with lr given, t counts gradient-descent steps and must be whole numbers, got {times}"
        )
    lam, v = torch.linalg.eigh(k)
    if lr is not None and math.inf in times and lr * float(lam.max()) >= 2:
        raise ValueError(
            f"gradient descent with lr={lr} diverges on this kernel (lr·λ_max = {lr * float(lam.max()):.3g} "
            ">= 2), so t=inf has no limit: use lr < 2/λ_max"
        )
    zero = lam <= n * torch.finfo(k.dtype).eps * lam.abs().max()
    proj_r = v.T @ r  # (n, k): residual in the eigenbasis
    proj_t = kt @ v  # (m, n)
    outs = []
    for s in times:
        if math.isinf(s):
            g = torch.where(zero, 0.0, 1.0 / torch.where(zero, 1.0, lam))
        elif lr is None:  # (1 - exp(-λ t)) / λ, stable for small λ t
            g = torch.where(zero, s, -torch.expm1(-lam * s) / torch.where(zero, 1.0, lam))
        else:  # (1 - (1 - lr λ)^s) / λ
            g = torch.where(zero, lr * s, (1 - (1 - lr * lam) ** s) / torch.where(zero, 1.0, lam))
        outs.append((base + proj_t @ (g[:, None] * proj_r)).reshape(out_shape))
    return outs[0] if scalar else torch.stack(outs)
