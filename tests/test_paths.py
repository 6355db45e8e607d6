"""Paths: Identity 1 (output = NPF · NPV), path counts, path norms, and refusals."""

import itertools
import math

import pytest
import torch

from neuralpaths import DGN, MLP, Arch, ConvNet, count_paths, npf, npv, path_index, path_norm

from .conftest import MODEL_NAMES, inputs_for, small_models


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_identity1_output_is_npf_dot_npv(zoo, name):
    model = zoo[name]
    x = inputs_for(model, 6)
    phi, v = npf(model, x), npv(model)
    assert phi.shape == (6, count_paths(model)) and v.shape == (count_paths(model), model.arch.out_dim)
    assert torch.allclose(phi @ v, model(x), rtol=1e-10, atol=1e-12)


def test_fc_paths_match_brute_force_product_formula():
    """φ and v from the definitions, one path at a time (itertools over every index tuple)."""
    net = MLP(3, [2, 3], 2, seed=0).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    gates = net.gates(x)
    w = [m.weight for m in net.layers]
    rows_phi, rows_v = [], []
    for i0, i1, i2 in itertools.product(range(3), range(2), range(3)):
        rows_phi.append(x[:, i0] * gates[0][:, i1] * gates[1][:, i2])
        rows_v.append(w[0][i1, i0] * w[1][i2, i1] * w[2][:, i2])
    assert torch.allclose(npf(net, x), torch.stack(rows_phi, 1))
    assert torch.allclose(npv(net), torch.stack(rows_v, 0))


@pytest.mark.parametrize("name", ["mlp", "dgn-soft", "dgn-ones", "dlgn", "dlgn-sf"])
def test_fc_outer_product_matches_general_enumeration(zoo, name):
    from neuralpaths.paths import _npf_gather

    model = zoo[name]
    x = inputs_for(model, 4)
    assert torch.equal(npf(model, x), _npf_gather(model, x, *path_index(model)))


def test_fc_path_count():
    assert count_paths(MLP(7, [5, 4, 3], 2)) == 7 * 5 * 4 * 3


def test_conv_path_count_by_hand():
    """1 channel, 3x3 image, one 3x3 'same' conv layer, GAP, one output: Σ_out |window ∩ image|."""
    net = ConvNet.gconv(in_channels=1, image_size=3, num_classes=1, channels=(1,), dense=(), seed=0)
    per_position = [4, 6, 4, 6, 9, 6, 4, 6, 4]  # corner, edge, centre windows
    assert count_paths(net) == sum(per_position)
    _, fac = path_index(net)
    assert torch.allclose(fac, torch.full_like(fac, 1 / 9))  # the GAP factor sits in the NPF


def test_path_index_units_are_valid():
    net = ConvNet.vconv(in_channels=2, image_size=3, num_classes=2, channels=(2, 3), dense=(2,), seed=0)
    idx, _ = path_index(net)
    sizes = [net.arch.in_dim, *net.arch.widths]
    assert idx.shape[1] == len(sizes)
    assert all(int(idx[:, j].max()) < s for j, s in enumerate(sizes))
    assert len(torch.unique(idx, dim=0)) == len(idx)  # no path twice


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_path_norm_equals_enumerated_norm(name, p):
    model = small_models(1)[name]
    v = npv(model)
    assert torch.allclose(path_norm(model, p), v.abs().pow(p).sum() ** (1 / p), rtol=1e-10)
    assert torch.allclose(path_norm(model, p, per_output=True), v.abs().pow(p).sum(0) ** (1 / p), rtol=1e-10)


def test_path_norm_is_rescaling_invariant():
    """Scaling a hidden unit's incoming weights by c and outgoing by 1/c leaves every path value."""
    net = MLP(4, [5, 3], 2, seed=0).double()
    before = path_norm(net)
    with torch.no_grad():
        net.layers[0].weight[2] *= 7.0
        net.layers[1].weight[:, 2] /= 7.0
    assert torch.allclose(path_norm(net), before)


def test_npv_is_differentiable():
    net = MLP(3, [2], 1, seed=0).double()
    npv(net).sum().backward()
    assert net.layers[0].weight.grad is not None


# --- refusals ---------------------------------------------------------------------------------
def test_too_many_paths_names_p_and_limit():
    net = MLP(784, [128, 128], 10)
    with pytest.raises(ValueError, match=r"P = 12,845,056 paths.*max_paths = 2,000,000"):
        npf(net, torch.randn(2, 784))
    with pytest.raises(ValueError, match="max_paths = 100"):
        npv(MLP(5, [5, 5]), max_paths=100)


@pytest.mark.parametrize(
    "make",
    [
        lambda: MLP(3, [2, 4], 2, bias=True, seed=0),
        lambda: DGN(Arch.mlp(3, [2, 4], 2, bias=True), gate="soft", seed=0),
        lambda: DGN(Arch.mlp(3, [2, 4], 2, bias=True), value_input="ones", seed=0),
        lambda: ConvNet.gconv(
            in_channels=1, image_size=3, num_classes=2, channels=(2,), dense=(2,), bias=True
        ),
    ],
)
def test_value_biases_are_paths_of_library_models(make):
    """Biases are paths: Identity 1 holds with biases; each bias unit starts paths; ignore_bias
    recovers the input paths alone (the layered enumeration)."""
    model = make().double()
    x = torch.randn(4, *model.arch.in_shape, dtype=torch.float64)
    phi, v = npf(model, x), npv(model)
    assert torch.allclose(phi @ v, model(x), rtol=1e-10, atol=1e-12)
    assert count_paths(model) == phi.shape[1] > count_paths(model, ignore_bias=True)
    assert torch.allclose(path_norm(model, 2.0), v.pow(2).sum().sqrt())
    no_bias = npf(model, x, ignore_bias=True)
    assert no_bias.shape[1] == count_paths(model, ignore_bias=True)


def test_bias_path_count_of_a_small_mlp():
    """MLP 3 -> 2 -> 4 -> 1 with biases: 3·2·4 input paths + 2·4 + 4 + 1 bias paths."""
    assert count_paths(MLP(3, [2, 4], 1, bias=True)) == 24 + 8 + 4 + 1


@pytest.mark.parametrize("gating", ["relu", "linear", "shallow"])
def test_gating_biases_are_fine(gating):
    dgn = DGN(Arch.mlp(3, [4, 2], 1), gating=gating, gating_bias=True, seed=0).double()
    assert all(m.bias is not None for m in dgn.gating) and not dgn.has_value_bias
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.allclose(npf(dgn, x) @ npv(dgn), dgn(x))


def test_largest_practical_fc_enumeration_fits_the_default_limit():
    net = MLP(784, [50, 50], 10)
    assert count_paths(net) == 784 * 2500 <= 2_000_000
    assert math.prod([784, 50, 50]) == count_paths(net)
