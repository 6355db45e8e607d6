"""Your own network in the NPF experiments: a builder ``build(in_shape, num_classes) -> nn.Module``.

Run the NPF paper's five regimes (ReLU, FRNPF-II, FRNPF-DI, FLNPF, DLNPF) on it::

    neuralpaths run npf-regimes --preset smoke --set model=examples/my_model.py:build

Any plain PyTorch module works as long as every layer has a path reading: Linear / Conv layers,
ReLU or LeakyReLU (as modules or ``F.relu``), max- and average-pooling, BatchNorm, flatten/view,
residual adds and ``torch.cat``. The experiment re-draws the weights with its ``init`` scheme and
seeds, so the builder only has to lay the network out.

Shape:
    ``x: (n, C, H, W) -> (n, num_classes)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SmallConvNet(nn.Module):
    """conv 3x3 → relu → max-pool 2x2 → conv 3x3 → relu → max-pool 2x2 → flatten → linear → relu → linear."""

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, channels: int = 8, hidden: int = 32):
        super().__init__()
        c, h, w = in_shape
        self.conv1 = nn.Conv2d(c, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(2 * channels * (h // 4) * (w // 4), hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))  # (n, C, H, W) -> (n, channels, H/2, W/2)
        x = self.pool(F.relu(self.conv2(x)))  # -> (n, 2 channels, H/4, W/4)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def build(in_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """The builder ``npf-regimes`` calls: ``build(in_shape, num_classes)``."""
    return SmallConvNet(in_shape, num_classes)
