"""A small residual network in plain PyTorch, named like torchvision's ResNets.

``resnet(in_shape, num_classes)`` builds::

    conv1 (3x3, channels[0]) → [bn1] → relu → [maxpool 2x2]
    → layer1 → layer2 → ...            each an nn.Sequential of BasicBlocks
    → avgpool (global) → flatten → fc (Linear → num_classes)

A :class:`BasicBlock` computes ``relu(branch(x) + shortcut(x))`` with ``branch = conv2 ∘ relu ∘ conv1``
(3x3 convs, BatchNorm after each when asked) and ``shortcut`` the identity, or a 1x1 conv (stride 2 at
a stage change) when the shape changes. The add happens inside the block's ``forward``, so the path
view labels its two operands ``layer2.0=skip`` / ``layer2.0=branch``; with ``b`` blocks the network is
an ensemble of ``2^b`` sub-architectures (:func:`neuralpaths.kernels.npk_parts`).

Weights come from PyTorch's default initialisation (the global RNG); re-initialise them with
:func:`neuralpaths.models.init_layers_` for another scheme.

Shape:
    ``x: (n, *in_shape) = (n, C, H, W) -> (n, num_classes)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def _bn(channels: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


class BasicBlock(nn.Module):
    """``relu(branch(x) + shortcut(x))``: two 3x3 convs with a ReLU between them on the branch.

    ``shortcut`` is the identity when ``stride == 1`` and the channels match, else a 1x1 conv with
    ``stride`` (followed by BatchNorm when ``batchnorm``).

    Shape:
        ``(n, in_channels, H, W) -> (n, out_channels, ⌈H/stride⌉, ⌈W/stride⌉)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        bias: bool = True,
        batchnorm: bool = False,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)
        self.bn1 = _bn(out_channels, batchnorm)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias)
        self.bn2 = _bn(out_channels, batchnorm)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=bias),
                _bn(out_channels, batchnorm),
            )
        else:
            self.shortcut = nn.Identity()

    def branch(self, x: Tensor) -> Tensor:
        """The residual function ``conv2 ∘ relu ∘ conv1`` (BatchNorm after each conv if present)."""
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.branch(x) + self.shortcut(x))


class ResNet(nn.Module):
    """The network :func:`resnet` builds (see the module docstring); attributes ``conv1``, ``bn1``,
    ``relu``, ``maxpool``, ``layer1`` ... ``layer<k>``, ``avgpool``, ``fc``."""

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        num_classes: int,
        *,
        channels: Sequence[int] = (8, 16),
        blocks: Sequence[int] = (1, 1),
        bias: bool = True,
        batchnorm: bool = False,
        stem_stride: int = 1,
        maxpool: bool = False,
    ):
        super().__init__()
        in_shape, channels, blocks = tuple(int(s) for s in in_shape), tuple(channels), tuple(blocks)
        if len(in_shape) != 3 or min(in_shape) < 1:
            raise ValueError(f"in_shape must be one image's (C, H, W), got {in_shape}")
        if not channels or len(channels) != len(blocks):
            raise ValueError(
                f"channels and blocks need one entry per stage, got channels={channels}, blocks={blocks}"
            )
        if min(channels) < 1 or min(blocks) < 1 or num_classes < 1 or stem_stride < 1:
            raise ValueError(
                f"channels, blocks, num_classes and stem_stride must be positive, got {channels}, "
                f"{blocks}, {num_classes}, {stem_stride}"
            )
        self.in_shape, self.channels, self.blocks = in_shape, channels, blocks
        self.conv1 = nn.Conv2d(in_shape[0], channels[0], 3, stride=stem_stride, padding=1, bias=bias)
        self.bn1 = _bn(channels[0], batchnorm)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(2) if maxpool else nn.Identity()
        prev = channels[0]
        for i, (c, b) in enumerate(zip(channels, blocks)):
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(prev, c, stride, bias=bias, batchnorm=batchnorm)]
            stage += [BasicBlock(c, c, 1, bias=bias, batchnorm=batchnorm) for _ in range(b - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
            prev = c
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(prev, num_classes, bias=bias)

    @property
    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i + 1}") for i in range(len(self.channels))]

    def forward(self, x: Tensor) -> Tensor:
        h = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages:
            h = stage(h)
        return self.fc(torch.flatten(self.avgpool(h), 1))  # (n, C, 1, 1) -> (n, C) -> (n, classes)


def resnet(in_shape: tuple[int, int, int], num_classes: int, **settings) -> ResNet:
    """A small residual network (torchvision-like names; see the module docstring).

    Args:
        in_shape: one image's ``(C, H, W)``.
        num_classes: outputs of the final ``fc`` layer.
        settings: keywords of :class:`ResNet`:

            - ``channels`` (8, 16): channels of each stage (``layer1``, ``layer2``, ...); the stem
              has ``channels[0]``;
            - ``blocks`` (1, 1): :class:`BasicBlock` s per stage. Stage 1 keeps the resolution,
              every later stage halves it (stride 2 in its first block, whose shortcut is then a
              1x1 conv);
            - ``bias`` (True): biases in every conv and in ``fc``;
            - ``batchnorm`` (False): BatchNorm after every conv (read by the path view in eval mode);
            - ``stem_stride`` (1): stride of the stem conv;
            - ``maxpool`` (False): a 2x2 max-pool after the stem's ReLU.

    Shape:
        ``x: (n, C, H, W) -> (n, num_classes)``.

    Example:
        >>> net = resnet((1, 28, 28), 10, channels=(8, 16), blocks=(1, 1))
        >>> net(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """
    return ResNet(in_shape, num_classes, **settings)
