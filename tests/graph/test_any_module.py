"""The path view of plain ``torch.nn`` modules, checked against the test-side oracle (``brute.py``,
explicit enumeration that never calls the library) and against torch.func.

- Identity 1: ``model(x) == npf(model, x) @ npv(model)`` (biases, strides, max-pool, ...);
- the NPK: ``npk(model, x1, x2) == φ1 φ2ᵀ`` with ``φ`` from the oracle (order-free);
- path norms and path counts equal the enumerated ones;
- residual nets: the sub-architecture kernels sum to the NPK and each equals the kernel of that
  sub-architecture enumerated explicitly (with the full net's gates);
- the NTK of all parameters equals the Jacobian Gram of torch.func, relative 1e-10.
"""

from __future__ import annotations

import pytest
import torch

from neuralpaths import DGN, count_paths, gates, npf, npk, npv, ntk, path_norm, sub_architecture_paths
from neuralpaths.graph import path_model
from neuralpaths.kernels import npk_parts, ntk_reference

from . import brute
from .zoo import BLOCKS, ZOO, build, inputs

NAMES = list(ZOO)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


@pytest.fixture(params=[0, 1], ids=lambda s: f"seed{s}")
def seed(request) -> int:
    return request.param


@pytest.mark.parametrize("name", NAMES)
def test_identity1_output_is_npf_dot_npv(name, seed):
    model, x = build(name, seed), inputs(name, 6)
    phi, v = npf(model, x), npv(model, in_shape=x.shape[1:])
    assert phi.shape[1] == v.shape[0] == count_paths(model, in_shape=x.shape[1:])
    assert rel(phi @ v, model(x)) < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_npk_equals_enumerated_features(name, seed):
    model, x1, x2 = build(name, seed), inputs(name, 5), inputs(name, 4, seed=2)
    phi1, _ = brute.enumerate_paths(name, model, x1)
    phi2, _ = brute.enumerate_paths(name, model, x2)
    assert rel(npk(model, x1, x2), phi1 @ phi2.T) < 1e-12
    assert rel(npk(model, x1), phi1 @ phi1.T) < 1e-12
    assert rel(npf(model, x1) @ npf(model, x2).T, phi1 @ phi2.T) < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_path_norm_and_count_equal_the_enumeration(name, seed):
    model, x = build(name, seed), inputs(name, 2)
    _, v = brute.enumerate_paths(name, model, x)
    assert count_paths(model, in_shape=x.shape[1:]) == v.shape[0]
    for p in (1.0, 2.0, 3.0):
        assert rel(path_norm(model, p, in_shape=x.shape[1:]), brute.path_norm(name, model, p)) < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_ignore_bias_keeps_the_input_paths_only(name):
    """Without bias paths, ``φ·v`` is the value network with its biases removed and the gates kept:
    a DGN whose gating net is the model and whose value net is the model without biases."""
    model, x = build(name, 0), inputs(name, 4)
    phi_in = npf(model, x, ignore_bias=True)
    v_in = npv(model, ignore_bias=True, in_shape=x.shape[1:])
    dgn = DGN.from_module(model, "frnpf-di")  # gating: a copy of model; value: a copy of model
    with torch.no_grad():
        for m in dgn.value.modules():  # every bias and BatchNorm shift zero
            if getattr(m, "bias", None) is not None:
                m.bias.zero_()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.zero_()
    assert rel(phi_in @ v_in, dgn(x)) < 1e-12
    assert rel(npk(model, x, ignore_bias=True), phi_in @ phi_in.T) < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_ntk_of_all_parameters_equals_torch_func(name, seed):
    model, x1, x2 = build(name, seed), inputs(name, 5), inputs(name, 3, seed=2)
    assert rel(ntk(model, x1, x2, method="structured"), ntk_reference(model, x1, x2)) < 1e-10
    assert rel(ntk(model, x1), ntk_reference(model, x1)) < 1e-10


@pytest.mark.parametrize("name", list(BLOCKS))
def test_residual_parts_sum_to_the_npk_and_match_explicit_sub_architectures(name, seed):
    model, x1, x2 = build(name, seed), inputs(name, 5), inputs(name, 4, seed=2)
    parts = npk_parts(model, x1, x2)
    assert len(parts) == 2 ** len(BLOCKS[name])
    total = npk(model, x1, x2)
    assert rel(sum(parts.values()), total) < 1e-12
    for label, kernel in parts.items():
        choices = dict(item.split("=") for item in label.split(", "))
        assert set(choices) == set(BLOCKS[name]) and set(choices.values()) <= {"skip", "branch"}
        phi1, _ = brute.enumerate_paths(name, model, x1, choices)
        phi2, _ = brute.enumerate_paths(name, model, x2, choices)
        assert (kernel - phi1 @ phi2.T).abs().max() <= 1e-12 * total.abs().max()


def test_parts_without_biases_are_the_bias_free_sub_architectures():
    """With ignore_bias every path starts at the input and meets every add: the parts are the
    bias-free kernels of the sub-architectures, and they sum to the bias-free NPK."""
    name = "resnet_projection"
    model, x = build(name, 0), inputs(name, 4)
    parts = npk_parts(model, x, ignore_bias=True)
    assert rel(sum(parts.values()), npk(model, x, ignore_bias=True)) < 1e-12


@pytest.mark.parametrize("name", ["maxpool", "conv1d"])
def test_max_pool_gates_are_one_hot_window_selections(name):
    """A max-pool's gate picks one element per window (PyTorch's argmax); the flattened list of
    ``gates`` has one entry per ReLU and per max-pool, in forward order."""
    model, x = build(name, 0), inputs(name, 3)
    pm = path_model(model)
    kinds = [s.kind for s in pm.graph.gate_steps]
    assert len(gates(model, x)) == len(kinds) and kinds.count("maxpool") >= 1
    for step in pm.graph.gate_steps:
        s = pm.gates(x)[step.name]
        if step.kind == "maxpool":
            assert torch.equal(s.sum(2), torch.ones_like(s.sum(2)))  # (n, C, K, L): one per window


def test_float32_modules_agree_with_float64():
    name = "resnet_projection"
    model, x = build(name, 0), inputs(name, 6)
    k64 = npk(model, x)
    k32 = npk(model.float(), x.float())
    assert k32.dtype == torch.float32 and rel(k32.double(), k64) < 1e-5


@pytest.mark.parametrize("name", list(BLOCKS))
def test_sub_architecture_path_counts_partition_the_paths(name):
    model, x = build(name, 0), inputs(name, 2)
    counts = sub_architecture_paths(model, in_shape=x.shape[1:])
    assert sum(counts.values()) == count_paths(model, in_shape=x.shape[1:])
    for label, n in counts.items():
        choices = dict(item.split("=") for item in label.split(", "))
        _, v = brute.enumerate_paths(name, model, x, choices)
        assert n == v.shape[0]


def test_describe_reads_any_model():
    from neuralpaths import MLP
    from neuralpaths.graph import describe

    assert describe(build("maxpool", 0)).startswith("conv(1→2, 3x3) → relu → maxpool")
    assert describe(MLP(3, [4], 2)) == "linear(3→4) → relu → linear(4→2)"
