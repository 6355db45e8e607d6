"""Kernels of gated networks: the neural path kernel (NPK), the neural tangent kernel (NTK, empirical
and infinite-width), kernel regression and kernel metrics."""

from .infinite import npk_limit, relu_nngp, relu_ntk
from .metrics import effective_rank, kernel_alignment, nu, spectrum, target_alignment
from .npk import npk, npk_parts
from .ntk import ntk, ntk_reference, select_params, value_ntk_constant
from .regression import KernelRegressor, accuracy, gd_predict, one_hot

__all__ = [
    "KernelRegressor",
    "accuracy",
    "effective_rank",
    "gd_predict",
    "kernel_alignment",
    "npk",
    "npk_limit",
    "npk_parts",
    "ntk",
    "ntk_reference",
    "nu",
    "one_hot",
    "relu_nngp",
    "relu_ntk",
    "select_params",
    "spectrum",
    "target_alignment",
    "value_ntk_constant",
]
