"""``DGN.from_module``: the NPF paper's regimes built from any plain module.

- ``relu`` is the module itself: identical outputs, gates and gradients (the DGN machinery —
  recorded gates, value network with those gates — reproduces ReLU, LeakyReLU and max-pooling);
- each regime freezes what the paper freezes and copies what it copies;
- soft gates (``dlnpf``): ``(1+ε)σ(βq)`` at a ReLU and the window softmax at a max-pool; both tend to
  the hard gates as ``β → ∞``; gradients reach the gating network through both;
- Identity 1 and the NPK hold for every regime; the NTK of the value / gating networks equals
  torch.func's.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuralpaths import DGN, Gate, ModuleDGN, gates, npf, npk, npv, ntk
from neuralpaths.kernels import ntk_reference

from ..graph.zoo import ZOO, build, inputs

REGIMES = ("relu", "frnpf-ii", "frnpf-di", "flnpf", "dlnpf")


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("name", list(ZOO))
def test_relu_regime_is_the_module(name):
    model, x = build(name, 0), inputs(name, 5)
    dgn = DGN.from_module(model, "relu")
    assert dgn.tied and dgn.value is model
    out_m, out_d = model(x), dgn(x)
    assert torch.equal(out_m, out_d)
    assert all(torch.equal(a, b) for a, b in zip(gates(model, x), dgn.gates(x)))
    grads = []
    for f in (model, dgn):
        model.zero_grad()
        (f(x) ** 2).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    assert all(torch.allclose(a, b, rtol=1e-13, atol=1e-15) for a, b in zip(*grads))


def test_regimes_copy_and_freeze_what_the_paper_says():
    model = build("maxpool", 0)
    d = {r: DGN.from_module(model, r, seed=1) for r in REGIMES}
    assert same_weights(d["frnpf-ii"].value, model) and not same_weights(d["frnpf-ii"].gating, model)
    assert same_weights(d["frnpf-di"].value, model) and same_weights(d["frnpf-di"].gating, model)
    assert same_weights(d["flnpf"].gating, model) and not same_weights(d["flnpf"].value, model)
    assert same_weights(d["dlnpf"].value, model) and not same_weights(d["dlnpf"].gating, model)
    for r in ("frnpf-ii", "frnpf-di", "flnpf"):
        assert d[r].gating_frozen and d[r].gate.hard
        assert all(p.requires_grad for p in d[r].value.parameters())
        assert d[r].value is not model and d[r].gating is not model
    assert not d["dlnpf"].gating_frozen and d["dlnpf"].gate == Gate(beta=4.0, eps=0.1)
    with pytest.raises(ValueError, match="unknown regime 'frnpf'"):
        DGN.from_module(model, "frnpf")


def test_frozen_gating_network_stays_frozen_and_in_eval_mode_while_training():
    model = build("batchnorm", 0)
    dgn = DGN.from_module(model, "flnpf", seed=0).train()
    assert not dgn.gating.training and dgn.value.training
    before = {k: v.clone() for k, v in dgn.gating.state_dict().items()}
    opt = torch.optim.SGD([p for p in dgn.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        dgn(inputs("batchnorm", 8)).pow(2).mean().backward()
        opt.step()
    assert all(torch.equal(before[k], v) for k, v in dgn.gating.state_dict().items())  # BN stats too
    assert not same_weights(dgn.value, DGN.from_module(model, "flnpf", seed=0).value)


@pytest.mark.parametrize("name", ["maxpool", "resnet_projection", "leaky", "batchnorm"])
@pytest.mark.parametrize("regime", REGIMES)
def test_identity1_and_npk_hold_in_every_regime(name, regime):
    model, x = build(name, 0), inputs(name, 4)
    dgn = DGN.from_module(model, regime, seed=2, in_shape=x.shape[1:]).eval()
    phi = npf(dgn, x)
    assert rel(phi @ npv(dgn), dgn(x)) < 1e-12
    assert rel(npk(dgn, x), phi @ phi.T) < 1e-12


def test_soft_max_pool_is_the_window_softmax_and_tends_to_the_argmax():
    """DLNPF at a max-pool: the selection is softmax(β q) over the window of the gating net's
    values (it sums to 1 over every window); as β → ∞ (ε = 0) the soft DGN becomes the hard one."""
    model, x = build("maxpool", 0), inputs("maxpool", 4)
    soft = ModuleDGN(model, model, gate=Gate(beta=3.0, eps=0.0))
    sel = [s for step, s in soft.gate_dict(x).items() if soft.graph[step].kind == "maxpool"]
    assert sel and all(torch.allclose(s.sum(2), torch.ones_like(s.sum(2))) for s in sel)
    assert all(((s > 0) & (s < 1)).any() for s in sel)  # genuinely soft
    hard = ModuleDGN(model, model, gate=Gate())
    errors = [rel(ModuleDGN(model, model, gate=Gate(beta=b, eps=0.0))(x), hard(x)) for b in (1e1, 1e3, 1e9)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-6


def test_soft_gates_pass_gradients_to_the_gating_network_through_the_max_pool():
    """Gating layers before a gate get gradients through the soft gates; the gating net's own
    output layer decides no gate and gets none. With a max-pool as the only gate, the gradient
    comes through the window softmax alone."""
    model, x = build("maxpool", 0), inputs("maxpool", 4)
    dgn = DGN.from_module(model, "dlnpf", seed=0)
    dgn(x).sum().backward()
    last = [n for n, m in dgn.gating.named_modules() if isinstance(m, nn.Linear)][-1]
    grads = {n: p.grad for n, p in dgn.gating.named_parameters()}
    assert all(g is not None and g.abs().sum() > 0 for n, g in grads.items() if not n.startswith(last + "."))
    assert grads[last + ".weight"] is None  # the gating copy's final Linear
    pool_only = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 1)).double()
    dgn = DGN.from_module(pool_only, "dlnpf", seed=0)
    dgn(torch.randn(3, 1, 6, 6, dtype=torch.float64)).sum().backward()
    assert dgn.gating[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["maxpool", "resnet_projection", "batchnorm"])
@pytest.mark.parametrize("params", ["value", "gating", "all"])
def test_ntk_of_each_network_equals_torch_func(name, params):
    model, x1, x2 = build(name, 0), inputs(name, 4), inputs(name, 3, seed=2)
    for regime in ("dlnpf", "frnpf-ii"):
        dgn = DGN.from_module(model, regime, seed=3).eval()
        ref = ntk_reference(dgn, x1, x2, wrt=params)
        got = ntk(dgn, x1, x2, wrt=params, method="structured")
        if params == "gating" and regime == "frnpf-ii":  # hard gates: no gradient reaches the gating net
            assert got.abs().max() == 0 and ref.abs().max() == 0
        else:
            assert rel(got, ref) < 1e-10


def test_value_and_gating_selections_need_untied_networks():
    dgn = DGN.from_module(build("mlp_bias", 0), "relu")
    with pytest.raises(ValueError, match="share their weights"):
        ntk(dgn, inputs("mlp_bias", 3), wrt="value")
