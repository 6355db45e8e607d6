"""Models: shapes, dtypes, devices, and the special-case equalities between them."""

import copy

import pytest
import torch

from neuralpaths import DGN, DLGN, MLP, Arch, ConvNet
from neuralpaths.models import REGIMES, ReLUNet

from ..conftest import DEVICES, MODEL_NAMES, inputs_for, small_models


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gates_one_flat_tensor_per_hidden_layer(name):
    model = small_models()[name]
    x = inputs_for(model, 5)
    gates = model.gates(x)
    assert [tuple(g.shape) for g in gates] == [(5, u) for u in model.arch.widths]
    assert model(x).shape == (5, model.arch.out_dim)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["mlp", "dgn-soft", "dlgn", "dlgn-sf", "gconv", "dgn-gconv"])
def test_devices_and_dtypes(name, dtype, device):
    model = small_models()[name].to(device=device, dtype=dtype)
    x = inputs_for(model, 3).to(device=device, dtype=dtype)
    y = model(x)
    assert y.dtype == dtype and y.device.type == device
    assert all(g.dtype == dtype and g.device.type == device for g in model.gates(x))


def test_seed_reproducible_and_same_across_dtypes():
    a, b = MLP(5, [4, 4], 2, seed=7), MLP(5, [4, 4], 2, seed=7).double()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p.double(), q) or torch.allclose(p.double(), q, atol=1e-7)
    assert not torch.equal(MLP(5, [4], seed=1).layers[0].weight, MLP(5, [4], seed=2).layers[0].weight)


@pytest.mark.parametrize(
    "make",
    [
        lambda: MLP(6, [5, 4, 3], 2, seed=0),
        lambda: ConvNet.gconv(
            in_channels=2, image_size=5, num_classes=3, channels=(3, 4), dense=(5,), seed=0
        ),
        lambda: ConvNet.vconv(
            in_channels=2, image_size=4, num_classes=3, channels=(3,), dense=(4, 2), seed=0
        ),
    ],
)
def test_relu_net_equals_tied_dgn(make):
    """A ReLU net is the DGN with tied weights and hard gates: same outputs, gates and gradients."""
    net = make().double()
    dgn = DGN.from_relu(net, "relu")
    assert dgn.tied
    x = inputs_for(net, 8)
    assert torch.allclose(dgn(x), net(x), atol=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(dgn.gates(x), net.gates(x)))
    g_net = torch.autograd.grad(net(x).square().sum(), list(net.parameters()))
    g_dgn = torch.autograd.grad(dgn(x).square().sum(), list(dgn.parameters()))
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(g_net, g_dgn))
    assert len(list(dgn.parameters())) == len(list(net.parameters()))  # shared, not duplicated


def test_dlgn_is_dgn_with_linear_gating():
    arch = Arch.mlp(5, [4, 3], 2)
    dlgn = DLGN(arch, beta=3.0, seed=4).double()
    dgn = DGN(arch, gating="linear", gate="soft", beta=3.0, eps=0.0, value_input="ones", seed=4).double()
    x = torch.randn(7, 5, dtype=torch.float64)
    assert torch.equal(dlgn(x), dgn(x))


def test_dlgn_preactivations_are_products_of_gating_weights():
    """Deep linear gating: q_l = (W_l ... W_1) x, so every gate is a half-space of the input."""
    dlgn = DLGN.mlp(5, [4, 3, 6], 1, seed=0).double()
    x = torch.randn(9, 5, dtype=torch.float64)
    v = torch.eye(5, dtype=torch.float64)
    for q, layer in zip(dlgn.preactivations(x), dlgn.gating):
        v = layer.weight @ v
        assert torch.allclose(q, x @ v.T, atol=1e-12)


def test_dlgn_sf_gates_are_one_linear_map_each():
    sf = DLGN.mlp(5, [4, 3], 1, shallow=True, seed=0).double()
    x = torch.randn(9, 5, dtype=torch.float64)
    for q, layer in zip(sf.preactivations(x), sf.gating):
        assert torch.allclose(q, x @ layer.weight.T)


def test_dlgn_value_net_sees_ones():
    dlgn = DLGN.mlp(5, [4], 1, gate="hard", seed=0).double()
    x = torch.randn(6, 5, dtype=torch.float64)
    g = dlgn.gates(x)[0]
    w1, w2 = dlgn.value[0].weight, dlgn.value[1].weight
    assert torch.allclose(dlgn(x), (g * w1.sum(1)) @ w2.T)


# --- the NPF paper's regimes ------------------------------------------------------------------
def _train_step(model, x):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    opt.zero_grad()
    model(x).square().mean().backward()
    opt.step()


def test_frnpf_di_gating_equals_value_init():
    arch = Arch.mlp(6, [5, 4], 3)
    dgn = DGN.regime("frnpf-di", arch, seed=3)
    for g, v in zip(dgn.gating, dgn.value):
        assert torch.equal(g.weight, v.weight) and g.weight is not v.weight
    assert dgn.gating_frozen and not dgn.tied


def test_frnpf_ii_gating_is_independent():
    dgn = DGN.regime("frnpf-ii", Arch.mlp(6, [5, 4], 3), seed=3)
    assert not torch.equal(dgn.gating[0].weight, dgn.value[0].weight)
    assert dgn.gating_frozen


def test_flnpf_copies_trained_relu_gates_and_draws_fresh_values():
    net = MLP(6, [5, 4], 3, seed=0).double()
    x = torch.randn(10, 6, dtype=torch.float64)
    for _ in range(3):
        _train_step(net, x)
    dgn = DGN.from_relu(net, "flnpf", seed=11)
    for g, w in zip(dgn.gating, net.layers):
        assert torch.equal(g.weight, w.weight)
    assert all(torch.equal(a, b) for a, b in zip(dgn.gates(x), net.gates(x)))
    assert not torch.equal(dgn.value[0].weight, net.layers[0].weight)
    assert dgn.value[0].weight.dtype == torch.float64
    before = copy.deepcopy(net.state_dict())
    _train_step(dgn, x)  # training the FLNPF leaves the ReLU net untouched
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("regime", ["frnpf-ii", "frnpf-di", "flnpf"])
def test_frozen_gating_gets_no_gradient_and_is_not_optimised(regime):
    arch = Arch.mlp(6, [5, 4], 3)
    dgn = DGN.regime(regime, arch, seed=0, relu_net=MLP(6, [5, 4], 3, seed=9)).double()
    x = torch.randn(10, 6, dtype=torch.float64)
    gating_before = [p.clone() for p in dgn.gating.parameters()]
    value_before = [p.clone() for p in dgn.value.parameters()]
    trainable = {id(p) for p in dgn.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in dgn.value.parameters()}
    _train_step(dgn, x)
    assert all(p.grad is None for p in dgn.gating.parameters())
    assert all(torch.equal(a, b) for a, b in zip(gating_before, dgn.gating.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(value_before, dgn.value.parameters()))


def test_dlnpf_gating_learns_through_soft_gates():
    dgn = DGN.regime("dlnpf", Arch.mlp(6, [5, 4], 3), seed=0).double()
    assert not dgn.gate.hard and dgn.gate.beta == 4.0 and dgn.gate.eps == 0.1
    _train_step(dgn, torch.randn(10, 6, dtype=torch.float64))
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in dgn.gating.parameters())


@pytest.mark.parametrize("regime", REGIMES)
def test_every_regime_builds_for_conv_nets(regime):
    net = ConvNet.gconv(in_channels=1, image_size=4, num_classes=2, channels=(2,), dense=(3,), seed=0)
    dgn = DGN.from_relu(net, regime, seed=1)
    x = torch.randn(3, 1, 4, 4)
    assert dgn(x).shape == (3, 2)


def test_regime_names_are_forgiving_about_case_and_underscores():
    assert DGN.regime("FRNPF_II", Arch.mlp(3, [2]), seed=0).gating_frozen


def test_from_relu_rejects_non_relu_nets():
    with pytest.raises(TypeError, match="ReLU network"):
        DGN.from_relu(DLGN.mlp(3, [2]), "flnpf")


def test_relunet_base_accepts_any_arch():
    net = ReLUNet(Arch.c4gap(in_channels=1, image_size=4, num_classes=2, width=3), seed=0)
    assert net(torch.randn(2, 1, 4, 4)).shape == (2, 2)


def test_gating_kind_is_the_string_and_gating_the_network():
    dgn = DGN(Arch.mlp(3, [4], 1), gating="linear")
    assert dgn.gating_kind == "linear" and isinstance(dgn.gating, torch.nn.ModuleList)
    with pytest.deprecated_call(match="use DGN.gating_kind"):
        assert dgn.gating_mode == "linear"
