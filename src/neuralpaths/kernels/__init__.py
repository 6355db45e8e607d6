"""Kernels of gated networks: the neural path kernel (NPK) and the neural tangent kernel (NTK)."""

from .npk import npk
from .ntk import ntk, ntk_reference, select_params, value_ntk_constant

__all__ = ["npk", "ntk", "ntk_reference", "select_params", "value_ntk_constant"]
