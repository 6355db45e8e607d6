"""The empirical NTK of a shallow univariate ReLU net, in the kernels' calling convention.

For ``f(x) = M Σ_i c_i relu(a_i x + b_i) (+ alpha x + beta)`` (:class:`~neuralpaths.models.Univariate`)
the gradient with respect to each parameter is a feature map:

    ``∂f/∂c_i = M relu(z_i)``, ``∂f/∂a_i = M c_i 1{z_i > 0} x``, ``∂f/∂b_i = M c_i 1{z_i > 0}``,
    ``∂f/∂alpha = x``, ``∂f/∂beta = 1``  (``z_i = a_i x + b_i``),

so the NTK ``Σ_θ ∂f(x1)/∂θ ∂f(x2)/∂θ`` is the Gram matrix of the selected features. ``wrt="output"``
(``c`` and the linear term) is the kernel of the kernel regime (knots frozen), whose min-norm
interpolant is :func:`neuralpaths.univariate.min_norm_interpolant`.

Shape:
    ``x1: (n1,) or (n1, 1)``, ``x2: (n2,) or (n2, 1)`` -> ``(n1, n2)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from ..checks import check_finite as finite
from ..models.univariate import Univariate, univariate_preactivations
from ..progress import progress_bar

PARAMS = ("a", "b", "c", "alpha", "beta")
_BLOCK_NUMBERS = 2**22  # rows x features per block


def _names(model: Univariate, wrt: str | Iterable[str]) -> list[str]:
    """The parameter names ``wrt`` selects, in :data:`PARAMS` order (only those the model has)."""
    have = [p for p in PARAMS if getattr(model, p, None) is not None]
    if wrt == "all":
        return have
    if wrt == "trainable":
        return [p for p in have if getattr(model, p).requires_grad]
    if wrt == "output":
        return [p for p in have if p in ("c", "alpha", "beta")]
    if isinstance(wrt, str):
        raise ValueError(f"wrt must be 'all', 'trainable', 'output' or parameter names, got {wrt!r}")
    names = list(wrt)
    unknown = sorted(set(names) - set(have))
    if unknown or not names:
        raise ValueError(f"wrt names {unknown or names} are not parameters of this model; it has {have}")
    return [p for p in have if p in names]


def univariate_features(model: Univariate, x: Tensor, wrt: str | Iterable[str] = "all") -> Tensor:
    """``∂f(x)/∂θ`` for the selected parameters, side by side (the NTK is their Gram matrix).

    Shape:
        ``x: (n,) or (n, 1) -> (n, F)`` with ``F = width`` per selected ``a``/``b``/``c`` and 1 per
        ``alpha``/``beta``.
    """
    x = model.flat_input(x)
    names = _names(model, wrt)
    m = model.multiplier
    z = univariate_preactivations(x, model.a.detach(), model.b.detach())  # (n, width)
    gate_c = m * (z > 0).to(z.dtype) * model.c.detach()  # (n, width): M c_i 1{z_i > 0}
    parts = {
        "a": lambda: gate_c * x[:, None],
        "b": lambda: gate_c,
        "c": lambda: m * torch.relu(z),
        "alpha": lambda: x[:, None],
        "beta": lambda: torch.ones_like(x)[:, None],
    }
    return torch.cat([parts[p]() for p in names], dim=1)


@torch.no_grad()
def univariate_ntk(
    model: Univariate,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    block_size: int | None = None,
    progress: bool | None = None,
    wrt: str | Iterable[str] = "all",
    check_finite: bool = True,
) -> Tensor:
    """Empirical NTK of a :class:`~neuralpaths.models.Univariate` net in closed form.

    Args:
        model: the shallow univariate net.
        x1: inputs, ``(n1,)`` or ``(n1, 1)``.
        x2: second inputs (``None``: ``x1``; the result is then exactly symmetric).
        block_size: rows of ``x1`` per block (``None``: automatic).
        progress: show a progress bar (``None``: only for jobs longer than 2 s).
        wrt: ``"all"``, ``"trainable"``, ``"output"`` (``c`` and the linear term: the kernel regime)
            or names among ``a``, ``b``, ``c``, ``alpha``, ``beta``.
        check_finite: refuse inputs with NaN or infinity (``False`` skips the check).

    Returns:
        The kernel in the inputs' dtype.

    Shape:
        ``x1: (n1,) | (n1, 1)``, ``x2: (n2,) | (n2, 1) | None`` -> ``(n1, n2)``.
    """
    if not isinstance(model, Univariate):
        raise TypeError(f"univariate_ntk takes a Univariate model, got {type(model).__name__}")
    for name, x in (("x1", x1), ("x2", x2)):
        if x is not None and check_finite:
            finite(name, x, skippable=True)
    f2 = univariate_features(model, x1 if x2 is None else x2, wrt)  # (n2, F)
    n1 = len(model.flat_input(x1))
    b = block_size or max(1, _BLOCK_NUMBERS // max(1, f2.shape[1]))
    if b < 1:
        raise ValueError(f"block_size must be a positive number of rows, got {block_size}")
    out = f2.new_empty(n1, f2.shape[0])
    starts = range(0, n1, b)
    bar = progress_bar(
        total=len(starts),
        desc="univariate NTK",
        unit="block",
        enabled=progress,
        delay=2.0 if progress is None else 0,
    )
    with bar:
        for s in starts:
            out[s : s + b] = univariate_features(model, x1[s : s + b], wrt) @ f2.T  # (b, F) @ (F, n2)
            bar.update(1)
    if x2 is None:
        out = (out + out.T) / 2  # exactly symmetric (the two triangles differ by rounding only)
    return out
