"""NPK in blocks: every block size gives the same kernel; float32 stays close to float64."""

import pytest
import torch

from neuralpaths import DGN, DLGN, Arch, ConvNet, npk

from ..conftest import inputs_for, small_models


@pytest.mark.parametrize("name", ["mlp", "dgn-soft", "dgn-ones", "dlgn-sf", "gconv", "vconv"])
@pytest.mark.parametrize("block_size", [1, 2, 4])
def test_blocked_npk_equals_unblocked(name, block_size):
    model = small_models(1)[name]
    x1, x2 = inputs_for(model, 7, seed=3), inputs_for(model, 4, seed=4)
    for a, b in ((x1, None), (x1, x2)):
        whole = npk(model, a, b)
        assert torch.allclose(npk(model, a, b, block_size=block_size, progress=False), whole, rtol=1e-12)
        assert torch.allclose(npk(model, a, b, method="unit", block_size=block_size), whole, rtol=1e-10)


def test_fc_npk_large_enough_for_several_tiles_is_the_gram_formula():
    dgn = DGN(Arch.mlp(6, [16, 8, 8], 1), gate="soft", seed=0).double()
    x = torch.randn(50, 6, dtype=torch.float64)
    want = x @ x.T
    for g in dgn.gates(x):
        want = want * (g @ g.T)
    got = npk(dgn, x, block_size=16)
    assert torch.allclose(got, want, rtol=1e-12)
    assert torch.equal(got, got.T)


def test_float32_npk_close_to_float64():
    dlgn = DLGN(Arch.mlp(10, [32, 32], 1), seed=0).double()
    x = torch.randn(40, 10, dtype=torch.float64)
    k64 = npk(dlgn, x)
    k32 = npk(dlgn.float(), x.float(), block_size=16)
    assert k32.dtype == torch.float32
    assert ((k32.double() - k64).norm() / k64.norm()) < 1e-5


def test_block_size_must_be_positive():
    net = ConvNet.gconv(in_channels=1, image_size=3, num_classes=1, channels=(2,), dense=(2,)).double()
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        npk(net, torch.randn(2, 1, 3, 3, dtype=torch.float64), block_size=0)
