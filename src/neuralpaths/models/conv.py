"""The NPF paper's conv nets as ReLU networks.

- VCONV: conv 64-64-128-128 (3x3, same padding, no pooling) -> flatten -> dense 256, 256 -> classes
- GCONV: the same convs -> global average pooling -> dense 256, 256 -> classes

Shape:
    ``x: (n, in_channels, image_size, image_size) -> (n, num_classes)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .arch import Arch
from .mlp import ReLUNet


class ConvNet(ReLUNet):
    """A ReLU conv net; ``pool="gap"`` is GCONV, ``pool="flatten"`` is VCONV."""

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 32,
        num_classes: int = 10,
        *,
        channels: Sequence[int] = (64, 64, 128, 128),
        dense: Sequence[int] = (256, 256),
        pool: str = "gap",
        bias: bool = False,
        init: str = "torch",
        seed: int | torch.Generator | None = None,
    ):
        arch = Arch(
            (in_channels, image_size, image_size), tuple(channels), tuple(dense), num_classes, pool, 3, bias
        )
        super().__init__(arch, init=init, seed=seed)

    @classmethod
    def vconv(cls, **kwargs) -> ConvNet:
        """VCONV (no pooling); keyword arguments as for :class:`ConvNet`."""
        return cls(pool="flatten", **kwargs)

    @classmethod
    def gconv(cls, **kwargs) -> ConvNet:
        """GCONV (global average pooling); keyword arguments as for :class:`ConvNet`."""
        return cls(pool="gap", **kwargs)
