"""Deep linearly gated networks (DLGN): the gates come from a deep *linear* network.

``q_l = W_l ⋯ W_1 x = V_l x``: every gate is a half-space of the input, so every path's feature is
the indicator of an intersection of half-spaces. The value network is fed the all-ones input by
default and gated by ``sigmoid(beta * q)`` while training (``gate="hard"`` for the limit).
DLGN-SF (``shallow=True``) parameterises each layer's hyperplanes ``V_l`` directly.

A DLGN *is* a :class:`DGN` with ``gating="linear"`` (or ``"shallow"``); this class only sets the
defaults of the DLGN papers.

Shape:
    ``x: (n, *arch.in_shape) -> (n, arch.out_dim)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..gate import Gate
from .arch import Arch
from .dgn import DGN


class DLGN(DGN):
    """DGN with a deep linear (or, with ``shallow=True``, one-layer) gating network."""

    def __init__(
        self,
        arch: Arch,
        *,
        shallow: bool = False,
        gate: Gate | str = "soft",
        beta: float = 4.0,
        eps: float = 0.0,
        value_input: str = "ones",
        init: str = "torch",
        seed: int | torch.Generator | None = None,
        gating_bias: bool | None = None,
    ):
        super().__init__(
            arch,
            gating="shallow" if shallow else "linear",
            gate=gate,
            beta=beta,
            eps=eps,
            value_input=value_input,
            init=init,
            seed=seed,
            gating_bias=gating_bias,
        )

    @classmethod
    def mlp(cls, in_dim: int, widths: Sequence[int], out_dim: int = 1, **kwargs) -> DLGN:
        """Fully connected DLGN ``in_dim -> widths -> out_dim``; keyword arguments as for :class:`DLGN`."""
        return cls(Arch.mlp(in_dim, widths, out_dim), **kwargs)

    @classmethod
    def c4gap(
        cls, in_channels: int = 3, image_size: int = 32, num_classes: int = 10, width: int = 128, **kwargs
    ) -> DLGN:
        """C4GAP DLGN: four 3x3 linear gating convs; gated value convs -> GAP -> linear."""
        return cls(Arch.c4gap(in_channels, image_size, num_classes, width), **kwargs)
