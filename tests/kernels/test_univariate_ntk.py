"""The univariate NTK: closed-form features vs autograd, vs the model's closed form, and the
kernel regime's min-norm interpolant."""

from __future__ import annotations

import pytest
import torch

from neuralpaths import kernels
from neuralpaths.models import Univariate
from neuralpaths.models.univariate import univariate_ntk as closed_form
from neuralpaths.univariate import min_norm_interpolant


def _net(linear: bool = True, init: str = "scale") -> Univariate:
    net = Univariate(8, init=init, linear=linear, symmetric=False, seed=3).double()
    if linear:  # move the linear term off zero so its gradients matter
        with torch.no_grad():
            net.alpha.fill_(0.3)
            net.beta.fill_(-0.2)
    return net


def _autograd_ntk(net: Univariate, x1, x2, names) -> torch.Tensor:
    params = {n: p for n, p in net.named_parameters() if n in names}

    def jac(x):
        rows = []
        for xi in x:
            grads = torch.autograd.grad(net(xi[None])[0], list(params.values()))
            rows.append(torch.cat([g.reshape(-1) for g in grads]))
        return torch.stack(rows)

    return jac(x1) @ jac(x2).T


X1 = torch.linspace(-1.2, 1.1, 7, dtype=torch.float64)
X2 = torch.linspace(-0.9, 1.3, 5, dtype=torch.float64)


@pytest.mark.parametrize(
    "wrt,names",
    [
        ("all", ["a", "b", "c", "alpha", "beta"]),
        ("output", ["c", "alpha", "beta"]),
        (["a", "c"], ["a", "c"]),
    ],
)
@pytest.mark.parametrize("init", ["scale", "ntk", "mean-field"])
def test_equals_the_autograd_ntk(wrt, names, init):
    net = _net(init=init)
    got = kernels.univariate_ntk(net, X1, X2, wrt=wrt)
    assert torch.allclose(got, _autograd_ntk(net, X1, X2, names), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize("wrt,train", [("all", "all"), ("output", "output")])
def test_equals_the_models_closed_form(linear, wrt, train):
    net = _net(linear=linear)
    want = closed_form(X1, X2, net.a, net.b, net.c, net.multiplier, train=train, linear=linear)
    assert torch.allclose(kernels.univariate_ntk(net, X1, X2, wrt=wrt), want.detach(), atol=1e-14)


def test_symmetric_blocks_and_column_inputs_agree():
    net = _net()
    full = kernels.univariate_ntk(net, X1)
    assert torch.equal(full, full.T)
    blocked = kernels.univariate_ntk(net, X1[:, None], X1[:, None], block_size=2)
    assert torch.allclose(full, blocked, atol=1e-15)


def test_trainable_follows_requires_grad():
    net = _net()
    net.a.requires_grad_(False)
    net.b.requires_grad_(False)
    assert torch.allclose(
        kernels.univariate_ntk(net, X1, wrt="trainable"), kernels.univariate_ntk(net, X1, wrt="output")
    )


def test_output_kernel_regression_is_the_min_norm_interpolant():
    """Kernel regression with the frozen-knot kernel (no linear term) interpolates like the
    least-‖c‖ solution: both are f = K(x, X) K(X, X)⁻¹ y."""
    net = Univariate(64, linear=False, symmetric=False, seed=1).double()
    xs = torch.linspace(-0.8, 0.8, 6, dtype=torch.float64)
    ys = torch.sin(3 * xs)
    grid = torch.linspace(-1, 1, 11, dtype=torch.float64)
    k = kernels.univariate_ntk(net, xs, wrt="output")
    pred = kernels.univariate_ntk(net, grid, xs, wrt="output") @ torch.linalg.solve(k, ys)
    with torch.no_grad():
        want = min_norm_interpolant(net, xs, ys)(grid)
    assert torch.allclose(pred, want, atol=1e-8)


@pytest.mark.parametrize("wrt", ["value", ["w"], []])
def test_bad_wrt_is_named(wrt):
    with pytest.raises(ValueError, match="wrt"):
        kernels.univariate_ntk(_net(), X1, wrt=wrt)


def test_other_models_are_refused():
    with pytest.raises(TypeError, match="Univariate"):
        kernels.univariate_ntk(torch.nn.Linear(1, 1), X1)
