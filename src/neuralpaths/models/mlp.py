"""ReLU networks: the DGN with tied weights and hard gates, computed in one pass.

Shape:
    ``x: (n, *arch.in_shape) -> (n, arch.out_dim)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..gate import hard_gate
from .arch import Arch, chain_preactivations, check_arch, layer_params, make_layers, relu_forward
from .base import GatedModel
from .init import init_layers_, make_generator


class ReLUNet(GatedModel):
    """A bias-optional ReLU network of any :class:`Arch` (fully connected or conv)."""

    def __init__(self, arch: Arch, *, init: str = "torch", seed: int | torch.Generator | None = None):
        super().__init__()
        self.arch = check_arch(arch)
        self.layers = make_layers(arch)
        init_layers_(self.layers, init, generator=make_generator(seed))

    @property
    def value_layers(self) -> nn.ModuleList:
        return self.layers

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        w, b = layer_params(self.layers)
        return relu_forward(self.arch, w, x, b)

    def preactivations(self, x: Tensor) -> list[Tensor]:
        """Hidden pre-activations ``q_l``, each ``(n, *arch.hidden_shapes[l])``."""
        self.check_input(x)
        w, b = layer_params(self.layers)
        return chain_preactivations(self.arch, w, x, torch.relu, b)

    def gate_maps(self, x: Tensor) -> list[Tensor]:
        return [hard_gate(q) for q in self.preactivations(x)]


class MLP(ReLUNet):
    """Fully connected ReLU network ``in_dim -> widths -> out_dim`` (no biases by default)."""

    def __init__(
        self,
        in_dim: int,
        widths: Sequence[int],
        out_dim: int = 1,
        *,
        bias: bool = False,
        init: str = "torch",
        seed: int | torch.Generator | None = None,
    ):
        super().__init__(Arch.mlp(in_dim, widths, out_dim, bias), init=init, seed=seed)
