"""A zoo of tiny plain ``torch.nn`` ReLU networks, independent of the library under test.

Each entry of :data:`ZOO` builds one network; :func:`build` turns it into a float64 module in eval
mode whose parameters (and BatchNorm running statistics) are drawn from a ``torch.Generator``
seeded with ``seed``: every weight ~ N(0, 1/fan_in), every bias ~ N(0, 1/4) (all biases on), BN
weight = ±(0.5..1.5), BN bias ~ N(0, 1/4), running_mean ~ N(0, 1/4), running_var in (0.5, 1.5).
:func:`inputs` draws a standard normal batch of shape ``(n, *IN_SHAPE[name])``.

Residual blocks are submodules named ``block1``, ``block2`` whose own ``forward`` performs the add
(and the ReLU after it); :data:`BLOCKS` lists them per network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FunctionalReLU(nn.Module):
    """Linear layers with the three functional spellings of ReLU between them."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3, self.fc4 = (
            nn.Linear(3, 4),
            nn.Linear(4, 4),
            nn.Linear(4, 3),
            nn.Linear(3, 2),
        )

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.fc1(x))
        h = torch.relu(self.fc2(h))
        h = self.fc3(h).relu()
        return self.fc4(h)


class ConvSameDilationGroups(nn.Module):
    """'same' dilated grouped conv, 1x1 conv, global mean over the image in ``forward``, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding="same", dilation=2, groups=2)
        self.conv2 = nn.Conv2d(4, 2, 1)
        self.fc = nn.Linear(2, 2)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        return self.fc(h.mean(dim=(2, 3)))


class CatView(nn.Module):
    """Two ReLU'd Linear branches of the input, concatenated, viewed flat, then Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.head = nn.Linear(3, 2), nn.Linear(3, 3), nn.Linear(5, 2)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.cat([F.relu(self.a(x)), F.relu(self.b(x))], dim=1)
        h = h.view(h.size(0), -1)
        return self.head(h)


class DenseBlock(nn.Module):
    """``relu(x + lin2(relu(lin1(x))))``."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.lin1, self.lin2 = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.lin2(F.relu(self.lin1(x))))


class ConvBlock(nn.Module):
    """``relu(s(x) + conv2(relu(conv1(x))))`` with ``s`` the identity, or a 1x1 conv ``shortcut``."""

    def __init__(self, c_in: int, c_out: int, k: int, projection: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, k, padding=k // 2)
        self.conv2 = nn.Conv2d(c_out, c_out, k, padding=k // 2)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if projection else None

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(skip + self.conv2(F.relu(self.conv1(x))))


class ResNetIdentity(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.block1 = DenseBlock(4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.block1(self.stem(x)))


class ResNetProjection(nn.Module):
    """1x5x5 -> stem conv (2x2, stride 2) -> 2x2x2 -> block1 (3x3 convs, identity skip) -> block2
    (1x1 convs 2->3->3, 1x1-conv projection shortcut 2->3) -> global average pool -> Linear(3, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 2, 2, stride=2), nn.ReLU())
        self.block1 = ConvBlock(2, 2, 3, projection=False)
        self.block2 = ConvBlock(2, 3, 1, projection=True)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.block2(self.block1(self.stem(x))))


ZOO: dict[str, Callable[[], nn.Module]] = {
    "mlp_bias": lambda: nn.Sequential(
        nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)
    ),
    "functional_relu": FunctionalReLU,
    "leaky": lambda: nn.Sequential(
        nn.Linear(3, 4), nn.LeakyReLU(0.1), nn.Linear(4, 3), nn.LeakyReLU(0.1), nn.Linear(3, 2)
    ),
    "conv_valid_stride": lambda: nn.Sequential(
        nn.Conv2d(1, 2, 3, stride=2, padding=0),
        nn.ReLU(),
        nn.Conv2d(2, 2, 2, padding="valid"),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8, 2),
    ),
    "conv_same_dilation_groups": ConvSameDilationGroups,
    "conv1d": lambda: nn.Sequential(
        nn.Conv1d(2, 3, 3, stride=1, padding=1), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(12, 2)
    ),
    "maxpool": lambda: nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2, 2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),  # overlapping windows, padded
        nn.Flatten(),
        nn.Linear(8, 2),
    ),
    "avgpool": lambda: nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),  # 5x5 -> 2x2: the last row and column are dropped
        nn.Conv2d(2, 2, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.5),  # the identity in eval mode
        nn.Linear(2, 2),
    ),
    "resnet_identity": ResNetIdentity,
    "resnet_projection": ResNetProjection,
    "batchnorm": lambda: nn.Sequential(
        nn.Conv2d(1, 2, 3, bias=False),  # the folded BatchNorm creates its bias
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8, 4),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.Linear(4, 2),
    ),
    "cat_view": CatView,
}

IN_SHAPE: dict[str, tuple[int, ...]] = {
    "mlp_bias": (3,),
    "functional_relu": (3,),
    "leaky": (3,),
    "conv_valid_stride": (1, 7, 7),
    "conv_same_dilation_groups": (2, 5, 5),
    "conv1d": (2, 8),
    "maxpool": (1, 6, 6),
    "avgpool": (1, 5, 5),
    "resnet_identity": (3,),
    "resnet_projection": (1, 5, 5),
    "batchnorm": (1, 4, 4),
    "cat_view": (3,),
}

BLOCKS: dict[str, tuple[str, ...]] = {
    "resnet_identity": ("block1",),
    "resnet_projection": ("block1", "block2"),
}


@torch.no_grad()
def _randomize(model: nn.Module, g: torch.Generator) -> None:
    def normal(t: Tensor, std: float) -> None:
        t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float64) * std)

    for m in model.modules():
        if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d):
            normal(m.weight, m.weight[0].numel() ** -0.5)
            if m.bias is not None:
                normal(m.bias, 0.5)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            sign = torch.where(torch.rand(m.num_features, generator=g, dtype=torch.float64) < 0.2, -1.0, 1.0)
            m.weight.copy_(sign * (0.5 + torch.rand(m.num_features, generator=g, dtype=torch.float64)))
            normal(m.bias, 0.5)
            normal(m.running_mean, 0.5)
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g, dtype=torch.float64))


def build(name: str, seed: int = 0) -> nn.Module:
    """The zoo network ``name``: float64, eval mode, parameters drawn from ``seed`` (the global
    RNG state is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        model = ZOO[name]().double()
    _randomize(model, torch.Generator().manual_seed(seed))
    return model.eval()


def inputs(name: str, n: int, seed: int = 1) -> Tensor:
    """A standard normal float64 batch of ``n`` inputs for the network ``name``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *IN_SHAPE[name]), generator=g, dtype=torch.float64)
