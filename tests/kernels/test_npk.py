"""NPK: Identity 2 and the closed form equal ⟨φ_x, φ_x'⟩ from enumeration."""

import pytest
import torch

from neuralpaths import DGN, MLP, Arch, ConvNet, npf, npk

from ..conftest import MODEL_NAMES, inputs_for, small_models


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("method", ["closed", "unit"])
def test_npk_equals_npf_gram(zoo, name, method):
    model = zoo[name]
    x1, x2 = inputs_for(model, 5, seed=1), inputs_for(model, 3, seed=2)
    phi1, phi2 = npf(model, x1), npf(model, x2)
    assert torch.allclose(npk(model, x1, x2, method=method), phi1 @ phi2.T, rtol=1e-10, atol=1e-10)
    assert torch.allclose(npk(model, x1, method=method), phi1 @ phi1.T, rtol=1e-10, atol=1e-10)


def test_fc_npk_is_input_gram_times_gate_overlaps():
    net = MLP(4, [6, 5], 1, seed=0).double()
    x = torch.randn(7, 4, dtype=torch.float64)
    g1, g2 = net.gates(x)
    assert torch.allclose(npk(net, x), (x @ x.T) * (g1 @ g1.T) * (g2 @ g2.T))


def test_normalized_npk_counts_fraction_of_shared_paths():
    """Hard gates: H / (⟨x,x'⟩ Π w_l) is the fraction of (i_1..i_{d-1}) on for both inputs; H(x,x)
    normalised is Π_l (fraction of layer l on)."""
    net = MLP(4, [6, 5], 1, seed=0).double()
    x = torch.randn(7, 4, dtype=torch.float64)
    g1, g2 = net.gates(x)
    frac = (g1.mean(1) * g2.mean(1)) * (x * x).sum(1)
    assert torch.allclose(npk(net, x, normalize=True).diagonal(), frac)


def test_ones_input_convention_is_d_in():
    dgn = DGN(Arch.mlp(4, [3], 1), value_input="ones", seed=0).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    g = dgn.gates(x)[0]
    assert torch.allclose(npk(dgn, x), 4 * (g @ g.T))


@pytest.mark.parametrize("pool", ["gap", "flatten"])
def test_conv_closed_form_matches_unit_weight_network_on_a_larger_net(pool):
    """Both implementations of Identity 2 agree where enumeration would be too big (P ~ 1e9)."""
    net = ConvNet(
        in_channels=3, image_size=6, num_classes=2, channels=(8, 8, 6), dense=(7,), pool=pool, seed=0
    ).double()
    x1, x2 = torch.randn(4, 3, 6, 6, dtype=torch.float64), torch.randn(3, 3, 6, 6, dtype=torch.float64)
    assert torch.allclose(npk(net, x1, x2), npk(net, x1, x2, method="unit"), rtol=1e-10)


def test_npk_is_symmetric_psd():
    model = small_models()["dgn-gconv"]
    k = npk(model, inputs_for(model, 12))
    assert torch.allclose(k, k.T)
    assert torch.linalg.eigvalsh(k).min() > -1e-8 * k.diagonal().max()


def test_value_bias_paths_are_in_the_kernel_unless_ignored():
    """Biases are paths: H = ((X Xᵀ + 1) ⊙ G Gᵀ) + 1 for one hidden layer with biases (closed form:
    each bias adds a path of feature 1 at its layer), and ignore_bias drops them."""
    net = MLP(3, [4], 1, bias=True).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    g = net.gates(x)[0]
    assert torch.allclose(npk(net, x), (x @ x.T + 1) * (g @ g.T) + 1)
    assert torch.allclose(npk(net, x, ignore_bias=True), (x @ x.T) * (g @ g.T))


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown npk method"):
        npk(MLP(3, [2]), torch.randn(2, 3), method="fast")
