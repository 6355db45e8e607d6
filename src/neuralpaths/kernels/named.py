"""Named infinite-width kernels for the kernel ridge estimators: ``kernel="relu_ntk"`` etc. with an
architecture (or ``depth`` / ``widths`` / ``bias``) in ``kernel_params``.

Shape:
    ``A: (n, d)``, ``B: (m, d) | None`` -> ``(n, m)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS
from torch import Tensor

from ..models.arch import Arch
from .infinite import npk_limit, relu_nngp, relu_ntk

TORCH_KERNELS: dict[str, Callable[..., Tensor]] = {
    "relu_ntk": relu_ntk,
    "relu_nngp": relu_nngp,
    "npk_limit": npk_limit,
}
DEFAULT_DEPTH = 2  # depth (number of weight layers) of the named ReLU kernels unless kernel_params has one
_ARCH_FIRST = next(iter(inspect.signature(relu_ntk).parameters)) == "arch"  # kernel(arch, x1, x2)
KERNELS = ("precomputed", *TORCH_KERNELS, *sorted(PAIRWISE_KERNEL_FUNCTIONS))


def relu_kernel(name: str, A: Tensor, B: Tensor | None, params: dict) -> Tensor:
    """A named infinite-width kernel: ``params`` holds ``arch`` (an ``Arch`` or library model) or
    ``depth`` (default :data:`DEFAULT_DEPTH`), ``widths`` and ``bias`` of a fully connected net on
    ``A``'s features, and the kernel's own keywords (``sigma_w``, ``sigma_b``, ...)."""
    fn, params = TORCH_KERNELS[name], dict(params)
    net = {key: params.pop(key) for key in ("depth", "widths", "bias") if key in params}
    arch = params.pop("arch", None)
    if arch is not None and net:
        raise ValueError(f"kernel_params of {name!r}: give arch, or depth / widths / bias, not both")
    if arch is None and "widths" not in net and params.get("parameterization") == "standard":
        raise ValueError(
            f"kernel_params of {name!r}: parameterization='standard' needs the hidden widths "
            "(widths=int or a list) or an arch"
        )
    depth = net.pop("depth", DEFAULT_DEPTH)
    if not _ARCH_FIRST:  # the older kernel(x1, x2, depth=...) convention
        if arch is not None:
            depth = getattr(arch, "arch", arch).depth
        return fn(A, B, depth=depth, **net, **params)
    if arch is None:
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 2:
            raise ValueError(
                f"kernel_params of {name!r}: depth (weight layers) must be an int >= 2, got {depth!r}"
            )
        hidden = net.get("widths", 1)  # the "ntk" parameterisation does not use the widths
        hidden = [hidden] * (depth - 1) if isinstance(hidden, int) else list(hidden)
        if len(hidden) != depth - 1:
            raise ValueError(f"kernel_params of {name!r}: widths must give {depth - 1} hidden widths")
        bias = net.get("bias", params.get("sigma_b", 0.0) > 0)  # biases when they have a variance
        arch = Arch.mlp(A.shape[1], hidden, bias=bool(bias))
    return fn(arch, A, B, **params)
