"""The interface every model shares, so paths and kernels treat them all alike.

A gated model has an :class:`~neuralpaths.models.arch.Arch`, a value network (``value_layers``,
fed ``x`` or the all-ones input, ``value_input``) and gates (``gate_maps(x)``, one tensor per hidden
layer in the layer's natural shape). ``gates(x)`` flattens them to ``(n, units)``.
"""

from __future__ import annotations

from torch import Tensor, nn

from .arch import Arch, check_input

VALUE_INPUTS = ("x", "ones")


class GatedModel(nn.Module):
    """Base class: subclasses set ``arch``, ``value_input`` and implement ``value_layers`` and
    ``gate_maps``."""

    arch: Arch
    value_input: str = "x"

    @property
    def value_layers(self) -> nn.ModuleList:
        raise NotImplementedError

    def gate_maps(self, x: Tensor) -> list[Tensor]:
        """Gates per hidden layer, shaped ``(n, *arch.hidden_shapes[l])``."""
        raise NotImplementedError

    def gates(self, x: Tensor) -> list[Tensor]:
        """Gates per hidden layer, flattened.

        Shape:
            ``x: (n, *in_shape) -> [(n, units_l) for each hidden layer l]`` (conv: units =
            channels x positions, in ``(C, H, W)`` order).
        """
        return [g.flatten(1) for g in self.gate_maps(x)]  # (n, *shape) -> (n, units)

    def value_input_for(self, x: Tensor) -> Tensor:
        """What the value network is fed: ``x`` itself, or ones of ``x``'s shape."""
        return x if self.value_input == "x" else x.new_ones(x.shape)

    def check_input(self, x: Tensor, name: str = "input") -> None:
        """A clear error when ``x`` (called ``name`` in it) does not fit the architecture or differs
        in dtype/device from the weights."""
        check_input(self.arch, x, self.value_layers[0].weight, name)

    @property
    def has_value_bias(self) -> bool:
        return any(m.bias is not None for m in self.value_layers)
