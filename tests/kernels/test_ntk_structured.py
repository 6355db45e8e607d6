"""Structured NTK (Gram matrices of layer inputs and signals) equals the torch.func reference."""

import pytest
import torch
from torch import nn

from neuralpaths import DGN, DLGN, MLP, Arch, ConvNet
from neuralpaths.kernels import ntk, ntk_reference

from ..conftest import MODEL_NAMES, inputs_for, small_models

PARAMS = ("all", "value", "gating")


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / max(b.norm(), 1e-300))


def assert_matches_reference(model, x1, x2=None, params="all", **kw):
    want = ntk_reference(model, x1, x2, wrt=params)
    got = ntk(model, x1, x2, wrt=params, method="structured", **kw)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    assert rel(got, want) < 1e-10, rel(got, want)
    return got


UNTIED_DGNS = [n for n, m in small_models().items() if isinstance(m, DGN) and not m.tied]
CASES = [(n, "all") for n in MODEL_NAMES] + [(n, p) for n in UNTIED_DGNS for p in ("value", "gating")]


@pytest.mark.parametrize(("name", "params"), CASES)
def test_structured_equals_reference_on_the_zoo(zoo, name, params):
    """MLP, conv (GAP and flatten), DGN hard/soft/ones, DLGN (linear, shallow, conv): value, gating, all."""
    model = zoo[name]
    x1, x2 = inputs_for(model, 5, seed=1), inputs_for(model, 3, seed=2)
    full = ntk_reference(model, torch.cat([x1, x2]), None, wrt=params)  # one reference for both checks
    sym = ntk(model, x1, None, wrt=params, method="structured")
    cross = ntk(model, x1, x2, wrt=params, method="structured")
    k = model.arch.out_dim
    assert sym.shape == ((5, 5) if k == 1 else (5, 5, k, k))
    assert cross.shape == ((5, 3) if k == 1 else (5, 3, k, k))
    assert rel(sym, full[:5, :5]) < 1e-10
    assert rel(cross, full[:5, 5:]) < 1e-10


@pytest.mark.parametrize("gating", ["relu", "linear", "shallow"])
@pytest.mark.parametrize("gate", ["soft", "hard"])
@pytest.mark.parametrize("k", [1, 3])
def test_dgn_with_biases_and_both_value_inputs(gating, gate, k):
    arch = Arch.mlp(4, [5, 3, 4], k, bias=True)
    for value_input in ("x", "ones"):
        dgn = DGN(
            arch, gating=gating, gate=gate, eps=0.1, value_input=value_input, init="he", seed=3
        ).double()
        with torch.no_grad():  # non-zero biases everywhere
            for p in dgn.parameters():
                if p.ndim == 1:
                    p.normal_(0, 0.5, generator=torch.Generator().manual_seed(p.numel()))
        x = torch.randn(6, 4, dtype=torch.float64)
        for params in PARAMS:
            assert_matches_reference(dgn, x, None, params)
        assert_matches_reference(dgn, x, x[:2] + 0.1, "all")


@pytest.mark.parametrize("pool", ["gap", "flatten"])
def test_conv_net_with_biases_multi_output(pool):
    net = ConvNet(
        in_channels=2, image_size=4, num_classes=3, channels=(3, 2), dense=(3,), pool=pool, bias=True
    )
    net = net.double()
    x = torch.randn(4, 2, 4, 4, dtype=torch.float64)
    got = assert_matches_reference(net, x, None, "all")
    assert got.shape == (4, 4, 3, 3)
    assert_matches_reference(net, x, x[:3] * 2, "all")


def test_conv_dgn_and_dlgn_with_flatten_and_biases():
    """(The zoo covers GAP conv DGN/DLGN without biases.)"""
    conv = Arch((2, 3, 3), (2, 2), (2,), 2, "flatten", bias=True)
    x = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    assert_matches_reference(DGN(conv, gate="soft", seed=0).double(), x, None, "all")
    assert_matches_reference(DLGN(conv, seed=0).double(), x, None, "gating")


@pytest.mark.parametrize("block_size", [1, 2, 3, 7])
def test_blocked_equals_unblocked(block_size):
    model = small_models(1)["dgn-soft"]
    x1, x2 = inputs_for(model, 7, seed=1), inputs_for(model, 5, seed=2)
    for a, b in ((x1, None), (x1, x2)):
        whole = ntk(model, a, b)
        blocked = ntk(model, a, b, block_size=block_size, progress=False)
        assert torch.allclose(blocked, whole, rtol=1e-12, atol=1e-14)


def test_blocked_without_feature_cache(monkeypatch):
    """Features that do not fit the cache are recomputed per tile: same numbers."""
    from neuralpaths.kernels import gram

    model = small_models(2)["dgn-gconv"]
    x1, x2 = inputs_for(model, 6), inputs_for(model, 4, seed=5)
    want_sym, want_cross = ntk(model, x1), ntk(model, x1, x2)
    monkeypatch.setattr(gram, "_CACHE_BYTES", 0)
    assert torch.allclose(ntk(model, x1, block_size=2), want_sym, rtol=1e-12)
    assert torch.allclose(ntk(model, x1, x2, block_size=4), want_cross, rtol=1e-12)


def test_symmetric_kernel_is_exactly_symmetric_and_psd():
    model = small_models(0)["dlgn"]
    k = ntk(model, inputs_for(model, 9), block_size=4)
    assert torch.equal(k, k.transpose(0, 1).transpose(2, 3) if k.ndim == 4 else k.T)
    flat = k if k.ndim == 2 else k.permute(0, 2, 1, 3).reshape(9 * k.shape[2], -1)
    assert torch.linalg.eigvalsh(flat).min() > -1e-10 * flat.diagonal().max()


def test_relu_net_equals_tied_dgn_and_trainable_set():
    net = MLP(3, [6, 5], 2, bias=True, seed=0).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    tied = DGN.from_relu(net, "relu")
    assert torch.allclose(ntk(net, x), ntk(tied, x), rtol=1e-12)
    frozen = DGN.regime("frnpf-ii", Arch.mlp(3, [4, 4], 1), seed=0).double()
    assert torch.allclose(ntk(frozen, x, wrt="trainable"), ntk_reference(frozen, x, wrt="value"))


def test_hard_gates_with_eps_and_tied_hard_eps():
    net = MLP(3, [4, 4], 1, seed=1).double()
    tied = DGN.from_relu(net, "relu")
    tied.gate = type(tied.gate)(eps=0.25)  # hard gate (1 + eps) 1{q > 0}: value chain != gating chain
    x = torch.randn(5, 3, dtype=torch.float64)
    assert_matches_reference(tied, x, None, "all")


def test_float32_close_to_float64():
    net64 = MLP(20, [64, 64], 1, seed=0).double()
    x64 = torch.randn(50, 20, dtype=torch.float64)
    k64 = ntk(net64, x64)
    k32 = ntk(net64.float(), x64.float())
    assert k32.dtype == torch.float32
    assert rel(k32.double(), k64) < 1e-5


def test_any_activation_between_linear_layers_is_structured():
    """The layer-wise form needs only that parameters sit in Linear/Conv/BatchNorm layers: the
    nonlinearity between them (here tanh) is autograd's business."""

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2).double()

        def forward(self, x):
            return torch.tanh(self.lin(x)).sum(1, keepdim=True)

    model, x = Custom(), torch.randn(4, 3, dtype=torch.float64)
    assert rel(ntk(model, x, method="structured"), ntk_reference(model, x)) < 1e-12


def test_auto_falls_back_to_reference_for_unknown_parameters():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3, 1, dtype=torch.float64))

        def forward(self, x):
            return torch.tanh(x @ self.w)

    model, x = Custom(), torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(ntk(model, x), ntk_reference(model, x))
    with pytest.raises(ValueError, match="no structured form for Custom"):
        ntk(model, x, method="structured")


def test_shared_layer_called_twice_falls_back_to_reference():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3).double()
            self.out = nn.Linear(3, 1).double()

        def forward(self, x):
            return self.out(torch.relu(self.lin(torch.relu(self.lin(x)))))

    model, x = Twice(), torch.randn(5, 3, dtype=torch.float64)
    assert rel(ntk(model, x), ntk_reference(model, x)) < 1e-12
    with pytest.raises(ValueError, match="no structured form for Twice"):
        ntk(model, x, method="structured")


def test_subclass_with_own_forward_is_not_taken_for_a_relu_net():
    class Scaled(MLP):
        def forward(self, x):
            return 2 * super().forward(x)

    model, x = Scaled(3, [4], 1, seed=0).double(), torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(ntk(model, x), 4 * ntk(MLP(3, [4], 1, seed=0).double(), x))


def test_tied_soft_dgn_uses_the_reference():
    net = MLP(3, [4, 4], 1, seed=0).double()
    tied = DGN.from_relu(net, "relu")
    tied.gate = type(tied.gate)(beta=4.0, eps=0.1)
    x = torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(ntk(tied, x), ntk_reference(tied, x))
    with pytest.raises(ValueError, match="method='reference'"):
        ntk(tied, x, method="structured")


def test_argument_errors():
    net, x = MLP(3, [4]).double(), torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown ntk method 'fast'"):
        ntk(net, x, method="fast")
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        ntk(net, x, block_size=0)
    with pytest.raises(TypeError, match="dtype"):
        ntk(net, x.float())


def test_progress_bar_only_when_asked(capsys):
    net, x = MLP(3, [4]).double(), torch.randn(6, 3, dtype=torch.float64)
    ntk(net, x, block_size=2)
    assert "tile" not in capsys.readouterr().err
    ntk(net, x, block_size=2, progress=True)
    assert "ntk" in capsys.readouterr().err
