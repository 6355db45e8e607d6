"""kernel-regimes: the kernels compared, each as a function ``(model, x1, x2) -> (n1, n2)``, and the
kernel regression that scores them.

The empirical NTK of a ``k``-output net is the mean over outputs of its diagonal blocks,
``Θ̄(x, x') = (1/k) Σ_c ⟨∂f_c(x)/∂θ, ∂f_c(x')/∂θ⟩`` (the trace over outputs, as neural-tangents'
``trace_axes``): one ``(n1, n2)`` kernel used for all classes, computed by the structured form
without the ``(n1, n2, k, k)`` tensor — per layer ``⟨a, a'⟩ · ⟨D, D'⟩`` with the signals ``D`` of
all outputs flattened to ``(n, k·width)``.

The closed forms (infinite-width NTK, limit of the NPK) are the library's, evaluated in row blocks
(:mod:`neuralpaths.kernels.infinite`).

:func:`regress` scores a kernel: ridge regression on one-hot targets with ``λ = ridge · tr K / n``
(so the same relative ridge for kernels of very different scales), test accuracy of ``argmax``.

Shape:
    ``x1: (n1, d_in)``, ``x2: (n2, d_in) | None`` -> ``(n1, n2)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor

from ..kernels import KernelRegressor, accuracy, npk, npk_limit, ntk, one_hot, relu_ntk, target_alignment
from ..models import ReLUNet

KERNELS = {
    "npk-random": "NPK, random gates (net at init)",
    "npk-trained": "NPK, trained gates",
    "npk-limit": "NPK, random gates, width → ∞",
    "ntk-inf": "NTK ∞ (standard param., same widths)",
    "ntk-inf-ntkparam": "NTK ∞ (NTK param.)",
    "ntk-init": "empirical NTK at init",
    "ntk-trained": "empirical NTK after training",
}
TRAINED = ("npk-trained", "ntk-trained")  # kernels of the trained net; the others use the net at init

KernelFn = Callable[[ReLUNet, Tensor, "Tensor | None"], Tensor]


def kernel_fn(name: str, widths: tuple[int, ...]) -> KernelFn:
    """``f(model, x1, x2)`` computing kernel ``name`` (``model`` unused by the closed forms).

    ``widths`` are the hidden widths of the bias-free net (depth ``len(widths) + 1`` weight layers).
    """
    depth = len(widths) + 1
    if name in ("npk-random", "npk-trained"):
        return lambda m, a, b: npk(m, a, b)
    if name in ("ntk-init", "ntk-trained"):
        return lambda m, a, b: ntk(m, a, b, outputs="mean")  # (1/k) Σ_k Θ_kk, all parameters
    if name == "npk-limit":
        return lambda m, a, b: npk_limit(a, b, depth=depth)
    if name == "ntk-inf":
        return lambda m, a, b: relu_ntk(a, b, depth=depth, parameterization="standard", widths=list(widths))
    if name == "ntk-inf-ntkparam":
        return lambda m, a, b: relu_ntk(a, b, depth=depth, parameterization="ntk")
    raise ValueError(f"unknown kernel {name!r}: use one of {list(KERNELS)}")


def regress(
    K: Tensor, K_test: Tensor, y: Tensor, y_test: Tensor, ridge: float, num_classes: int = 10
) -> dict:
    """Test accuracy (%) of kernel ridge regression on one-hot targets with ``λ = ridge · tr K / n``,
    and the centred kernel–target alignment of ``K``.

    Shape:
        ``K: (n, n)``, ``K_test: (m, n)``, labels ``y: (n,)``, ``y_test: (m,)``.
    """
    K, K_test = K.double(), K_test.double()
    targets = one_hot(y, num_classes, dtype=torch.float64)
    lam = ridge * float(K.trace()) / len(K)
    start = time.perf_counter()
    reg = KernelRegressor(ridge=lam, jitter="auto").fit(K, targets)
    pred = reg.predict(K_test)
    return {
        "test_acc": 100 * accuracy(pred, y_test),
        "alignment": target_alignment(K, targets, centered=True),
        "lambda": lam,
        "jitter": reg.jitter_,
        "seconds_solve": time.perf_counter() - start,
    }
