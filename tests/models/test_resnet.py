"""The small ResNet builder: shapes, the path view (tied DGN = the net), and the ensemble of 2^b
sub-architectures whose NPKs sum to the network's NPK."""

import pytest
import torch
from torch import nn

from neuralpaths import DGN, count_paths, npk
from neuralpaths.graph import trace
from neuralpaths.kernels import npk_parts
from neuralpaths.models import resnet
from neuralpaths.models.resnet import BasicBlock


def _net(seed: int = 0, **kw) -> nn.Module:
    torch.manual_seed(seed)
    return resnet(**{"in_shape": (1, 8, 8), "num_classes": 3, "channels": (2, 3), "blocks": (1, 1), **kw})


@pytest.mark.parametrize(
    ("in_shape", "kw", "out_hw"),
    [
        ((1, 28, 28), {}, (14, 14)),
        ((3, 32, 32), {"channels": (4, 8, 8), "blocks": (2, 1, 1)}, (8, 8)),
        ((1, 28, 28), {"stem_stride": 2, "maxpool": True}, (4, 4)),
        ((1, 8, 8), {"batchnorm": True, "bias": False}, (4, 4)),
    ],
)
def test_shapes(in_shape, kw, out_hw):
    net = resnet(in_shape, 10, **kw).eval()
    x = torch.rand(5, *in_shape)
    assert net(x).shape == (5, 10)
    h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    for stage in net.stages:
        h = stage(h)
    assert h.shape[2:] == out_hw and h.shape[1] == net.channels[-1]


def test_layout_and_shortcuts():
    net = resnet((1, 8, 8), 10, channels=(4, 8), blocks=(2, 1), bias=False)
    assert [type(b) for b in net.layer1] == [BasicBlock, BasicBlock] and len(net.layer2) == 1
    assert isinstance(net.layer1[0].shortcut, nn.Identity)  # same shape: identity
    proj = net.layer2[0].shortcut[0]  # stage change: 1x1 conv, stride 2
    assert isinstance(proj, nn.Conv2d) and proj.kernel_size == (1, 1) and proj.stride == (2, 2)
    assert all(m.bias is None for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert trace(net).describe(net).startswith("conv(1→4, 3x3) → relu → conv(4→4, 3x3)")


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="one entry per stage"):
        resnet((1, 8, 8), 10, channels=(4, 8), blocks=(1,))
    with pytest.raises(ValueError, match="in_shape"):
        resnet((784,), 10)


@pytest.mark.parametrize("kw", [{}, {"maxpool": True}, {"batchnorm": True}])
def test_tied_dgn_is_the_network(kw):
    net = _net(**kw).eval()
    x = torch.randn(6, 1, 8, 8)
    torch.testing.assert_close(DGN.from_module(net, "relu")(x), net(x), rtol=0, atol=0)


@pytest.mark.parametrize("blocks", [(1,), (1, 1), (2, 1), (1, 1, 1)])
def test_two_to_the_blocks_sub_architectures(blocks):
    net = _net(channels=(2,) * len(blocks), blocks=blocks).double()
    parts = npk_parts(net, torch.rand(2, 1, 8, 8, dtype=torch.float64))
    b = sum(blocks)
    assert len(parts) == 2**b
    assert all(label.count("=") == b for label in parts)
    assert {"layer1.0=skip", "layer1.0=branch"} <= {s for label in parts for s in label.split(", ")}


@pytest.mark.parametrize("kw", [{}, {"maxpool": True, "stem_stride": 2, "blocks": (2, 1)}])
def test_parts_sum_to_the_npk(kw):
    net = _net(seed=1, **kw).double().eval()
    g = torch.Generator().manual_seed(0)
    x1 = torch.rand(4, 1, 8, 8, generator=g, dtype=torch.float64)
    x2 = torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64)
    for a, b in ((x1, None), (x1, x2)):
        parts = npk_parts(net, a, b)
        total = npk(net, a, b)
        torch.testing.assert_close(sum(parts.values()), total, rtol=1e-12, atol=0)
        assert all(bool((p >= 0).all()) for p in parts.values())  # inputs and unit weights are >= 0
    assert count_paths(net, in_shape=(1, 8, 8)) > 0
