import math

import pytest
import torch

from neuralpaths import DGN, Arch, Gate, hard_gate, soft_gate


def test_hard_gate_is_indicator():
    q = torch.tensor([-2.0, -0.0, 0.0, 1e-9, 3.0])
    assert hard_gate(q).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_soft_gate_formula():
    q = torch.linspace(-3, 3, 13, dtype=torch.float64)
    assert torch.allclose(soft_gate(q, beta=4.0, eps=0.1), 1.1 / (1 + torch.exp(-4 * q)))


@pytest.mark.parametrize("delta", [0.1, 0.01])
def test_hard_gate_is_beta_to_infinity_limit(delta):
    kw = dict(dtype=torch.float64)
    q = torch.cat([torch.linspace(-5, -delta, 50, **kw), torch.linspace(delta, 5, 50, **kw)])
    betas = (1e0, 1e1, 1e2, 1e3)
    errs = [(soft_gate(q, beta) - hard_gate(q)).abs().max().item() for beta in betas]
    assert all(a > b for a, b in zip(errs, errs[1:]))  # strictly decreasing
    for beta, err in zip(betas, errs):
        assert err <= math.exp(-beta * delta) * (1 + 1e-12)  # sigmoid tail: σ(-βδ) < e^{-βδ}


def test_gate_setting_covers_both():
    q = torch.randn(100, dtype=torch.float64)
    assert Gate().hard and torch.equal(Gate()(q), hard_gate(q))
    assert torch.equal(Gate(beta=4, eps=0.1)(q), soft_gate(q, 4, 0.1))


def test_dgn_soft_gates_converge_to_hard_dgn():
    arch = Arch.mlp(4, [6, 5], 2)
    x = torch.randn(20, 4, dtype=torch.float64)
    hard = DGN(arch, seed=0).double()
    soft = DGN(arch, gate=Gate(beta=1e7), seed=0).double()
    assert torch.allclose(soft(x), hard(x), atol=1e-6)


@pytest.mark.parametrize("bad", [dict(beta=0.0), dict(beta=-1.0), dict(eps=-0.1)])
def test_bad_gate_settings(bad):
    with pytest.raises(ValueError, match="beta|eps"):
        Gate(**bad)


def test_unknown_gate_name():
    with pytest.raises(ValueError, match="unknown gate 'sigmoid'"):
        Gate.parse("sigmoid")
