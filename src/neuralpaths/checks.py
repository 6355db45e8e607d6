"""Checks of the library's public inputs, shared by every public function.

Each check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, bad
value) with a one-line message that names the argument and says what to do; valid values come back
normalised (``positive_int`` returns an ``int``, ``real`` a ``float``). Tensor checks cost at most
one reduction per tensor (``torch.isfinite(x).all()``) and belong at the public boundary, never in
an inner loop.

Shape:
    ``check_symmetric``: ``(n, n)``; other tensor checks: any shape.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence

import torch
from torch import Tensor

_TILE = 128  # tile size of the symmetry check: a tile and its mirror both stay in cache


# --- numbers -------------------------------------------------------------------------------------
def positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    """``value`` as an ``int >= minimum``; floats (even ``8.0``), bools and strings are refused."""
    want = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if isinstance(value, bool) or isinstance(value, (float, str, bytes)):
        raise TypeError(f"{name} must be {want}, got {value!r} ({type(value).__name__})")
    try:
        v = operator.index(value)  # ints, numpy / torch integer scalars
    except TypeError:
        raise TypeError(f"{name} must be {want}, got {type(value).__name__}") from None
    if v < minimum:
        raise ValueError(f"{name} must be {want}, got {v}")
    return v


def optional_block_size(name: str, value: object) -> int | None:
    """``None`` (choose automatically) or a positive ``int`` of rows per block."""
    return None if value is None else positive_int(name, value)


def int_tuple(name: str, values: object, *, minimum: int = 1) -> tuple[int, ...]:
    """A sequence of ``int >= minimum`` (e.g. layer widths) as a tuple; a string is refused."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | torch.Size):
        raise TypeError(f"{name} must be a sequence of ints (e.g. (64, 64)), got {values!r}")
    return tuple(positive_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(values))


def real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    strict: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a ``float``: never NaN, finite unless ``allow_inf``, ``>= low`` (``> low`` when
    ``strict``). Bools, strings and tensors with more than one element are refused."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real | Tensor)
        or (isinstance(value, Tensor) and value.numel() != 1)
    ):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {v}")
    if low is not None and (v <= low if strict else v < low):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low}, got {v}")
    return v


def one_of(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}: use one of {', '.join(map(repr, choices))}")
    return value


# --- tensors -------------------------------------------------------------------------------------
def check_tensor(
    name: str, x: object, *, ndim: int | None = None, floating: bool = False, hint: str = ""
) -> Tensor:
    """``x`` if it is a tensor (of ``ndim`` dimensions, floating point if ``floating``)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}{hint and ': ' + hint}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D tensor, got shape {tuple(x.shape)}{hint and ': ' + hint}"
        )
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must be floating point, got {x.dtype}: use {name}.double() or {name}.float()"
        )
    return x


def check_finite(name: str, x: object, *, skippable: bool = False) -> Tensor:
    """``x`` if it is a tensor without NaN or infinity. One reduction: a finite sum proves every
    entry finite; only a non-finite sum (a bad entry, or overflow) triggers the elementwise test.
    ``skippable``: the caller takes ``check_finite=False``, and the message says so."""
    x = check_tensor(name, x)
    if (x.is_floating_point() or x.is_complex()) and x.numel() and not bool(torch.isfinite(x.sum())):
        bad = int(x.numel() - torch.isfinite(x).sum())
        if bad:
            skip = ", or pass check_finite=False to skip this check" if skippable else ""
            raise ValueError(
                f"{name} contains NaN or infinity ({bad} of {x.numel()} entries): clean or impute the "
                f"data first{skip}"
            )
    return x


def check_like(name: str, x: Tensor, like: Tensor, owner: str = "the model") -> None:
    """``x`` must be floating point with the dtype and device of ``like`` (e.g. a model's weights)."""
    if not x.is_floating_point():
        raise TypeError(
            f"{name} dtype {x.dtype} does not match {owner}'s {like.dtype}: inputs must be floating "
            f"point, use {name}.to({like.dtype})"
        )
    if x.dtype != like.dtype:
        fix = {torch.float64: ".double()", torch.float32: ".float()", torch.float16: ".half()"}
        raise TypeError(
            f"{name} dtype {x.dtype} does not match {owner}'s {like.dtype}: use "
            f"model{fix.get(x.dtype, f'.to({x.dtype})')} (or {name}.to({like.dtype}))"
        )
    if x.device != like.device:
        raise ValueError(
            f"{name} is on {x.device} but {owner} is on {like.device}: use model.to('{x.device}') "
            f"(or {name}.to('{like.device}'))"
        )


def check_same_dtype_device(name1: str, x1: Tensor, name2: str, x2: Tensor) -> None:
    """Two inputs that are combined must share dtype and device."""
    if x1.dtype != x2.dtype:
        raise TypeError(
            f"{name1} has dtype {x1.dtype} but {name2} has {x2.dtype}: convert one of them, "
            f"e.g. {name2}.to({x1.dtype})"
        )
    if x1.device != x2.device:
        raise ValueError(
            f"{name1} is on {x1.device} but {name2} is on {x2.device}: move one of them, "
            f"e.g. {name2}.to('{x1.device}')"
        )


def check_pair(x1: object, x2: object, check_finite_: bool = True) -> None:
    """The two inputs of a kernel ``K(x1, x2)``: tensors, finite unless ``check_finite_`` is False,
    ``x2`` (if given) of ``x1``'s dtype, device and per-sample shape."""
    for name, x in (("x1", x1), ("x2", x2)):
        if x is not None:
            check_finite(name, x, skippable=True) if check_finite_ else check_tensor(name, x)
    if x2 is not None:
        check_same_dtype_device("x1", x1, "x2", x2)
        if x1.shape[1:] != x2.shape[1:]:
            raise ValueError(
                f"x1 and x2 must have the same shape per sample: x1 {tuple(x1.shape)}, x2 {tuple(x2.shape)}"
            )


def asymmetry(k: Tensor) -> tuple[float, float, bool]:
    """``(max |K − Kᵀ|, scale, symmetric)`` of a square ``K``, symmetric meaning
    ``max |K − Kᵀ| <= √eps · scale`` with ``scale = max |diag K|`` (``max |K|`` if that is 0).

    Compares ``_TILE``-square tiles above the diagonal with the transposed ones below it (both stay
    in cache; several times faster than whole rows against strided columns), in one buffer."""
    n, b = len(k), _TILE
    buf = k.new_empty(min(n, b) ** 2)
    worst = k.new_zeros(())
    for i in range(0, n, b):
        for j in range(i, n, b):
            upper, lower = k[i : i + b, j : j + b], k[j : j + b, i : i + b]
            diff = buf[: upper.numel()].view(upper.shape)
            torch.sub(upper, lower.mT, out=diff)
            worst = torch.maximum(worst, torch.linalg.vector_norm(diff, float("inf")))
    scale = float(k.diagonal().abs().max()) if n else 0.0
    if scale == 0.0 and n:
        scale = max(float(torch.linalg.vector_norm(k[s : s + b], float("inf"))) for s in range(0, n, b))
    w = float(worst)
    return w, scale, w <= math.sqrt(torch.finfo(k.dtype).eps) * scale


def check_symmetric(name: str, k: Tensor) -> None:
    """A square floating-point ``k`` must be symmetric up to ``√eps`` of its scale (solvers that
    assume symmetry read one triangle only)."""
    worst, scale, symmetric = asymmetry(k)
    if not symmetric:
        raise ValueError(
            f"{name} is not symmetric (max |K - K^T| = {worst:.3g}, max |diag K| = {scale:.3g}): pass the "
            "symmetric Gram matrix K(X, X), e.g. (K + K.T) / 2 if it is symmetric up to round-off"
        )
