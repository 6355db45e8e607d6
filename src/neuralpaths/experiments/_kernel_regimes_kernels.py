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

from ..kernels import KernelRegressor, accuracy, npk, npk_limit, one_hot, relu_ntk
from ..kernels.gram import Factor, Term, tiled_kernel
from ..kernels.ntk import select_params
from ..kernels.ntk_structured import plan_for, structured_terms
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


@torch.no_grad()
def trace_ntk(model: ReLUNet, x1: Tensor, x2: Tensor | None = None, progress: bool | None = None) -> Tensor:
    """Mean over outputs of the diagonal NTK blocks, ``(1/k) tr_outputs Θ(x, x')``, all parameters.

    Shape:
        ``(n1, *in_shape), (n2, *in_shape) | None -> (n1, n2)``.
    """
    plan = plan_for(model)
    if plan is None:
        raise TypeError(f"trace_ntk needs a neuralpaths ReLU net / DGN, got {type(model).__name__}")
    k = plan.arch.out_dim
    chosen = set(select_params(model, "all"))

    def terms(xb: Tensor) -> list[Term]:
        out = []
        for t in structured_terms(plan, xb, chosen, k):
            if t.signal is None:  # the output layer (identity over outputs, trace k), or k = 1
                out.append(Term([Factor(None, float(k)), *t.factors]))
            else:
                out.append(Term([*t.factors, Factor(t.signal.reshape(len(xb), -1))]))  # (b, k, q) -> (b, k q)
        return out

    return tiled_kernel(terms, x1, x2, 1, progress=progress, desc="trace NTK") / k


def kernel_fn(name: str, widths: tuple[int, ...]) -> KernelFn:
    """``f(model, x1, x2)`` computing kernel ``name`` (``model`` unused by the closed forms).

    ``widths`` are the hidden widths of the bias-free net (depth ``len(widths) + 1`` weight layers).
    """
    depth = len(widths) + 1
    if name in ("npk-random", "npk-trained"):
        return lambda m, a, b: npk(m, a, b)
    if name in ("ntk-init", "ntk-trained"):
        return lambda m, a, b: trace_ntk(m, a, b)
    if name == "npk-limit":
        return lambda m, a, b: npk_limit(a, b, depth=depth)
    if name == "ntk-inf":
        return lambda m, a, b: relu_ntk(a, b, depth=depth, parameterization="standard", widths=list(widths))
    if name == "ntk-inf-ntkparam":
        return lambda m, a, b: relu_ntk(a, b, depth=depth, parameterization="ntk")
    raise ValueError(f"unknown kernel {name!r}: use one of {list(KERNELS)}")


def centred_target_alignment(K: Tensor, Y: Tensor) -> float:
    """``⟨HKH, H Y Yᵀ H⟩_F / (‖HKH‖_F ‖H Y Yᵀ H‖_F)``, ``H = I − 11ᵀ/n``, without ``n × n``
    temporaries: ``‖HKH‖²_F = ‖K‖²_F − 2‖K1‖²/n + (1ᵀK1)²/n²`` and ``tr(Yᵀ HKH Y) = tr(Y_cᵀ K Y_c)``.

    Shape:
        ``K: (n, n)``, ``Y: (n, k)``.
    """
    n = len(K)
    yc = Y - Y.mean(0)
    ones = K.sum(1)  # K 1
    hkh = torch.linalg.matrix_norm(K) ** 2 - 2 * (ones @ ones) / n + ones.sum() ** 2 / n**2
    return float((yc * (K @ yc)).sum() / (hkh.clamp(min=0).sqrt() * torch.linalg.matrix_norm(yc.T @ yc)))


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
        "alignment": centred_target_alignment(K, targets),
        "lambda": lam,
        "jitter": reg.jitter_,
        "seconds_solve": time.perf_counter() - start,
    }
