"""Kernel regression: ridge in dual form equals primal ridge; gd_predict limits and explicit GD, and its
t → ∞ limit equal to ridge-less KernelRegressor."""

import math

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge

from neuralpaths.kernels import KernelRegressor, accuracy, gd_predict, one_hot


def _problem(n=12, m=5, d=4, k=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    xt = torch.randn(m, d, generator=g, dtype=torch.float64)
    y = (
        torch.randn(n, generator=g, dtype=torch.float64)
        if k is None
        else torch.randn(n, k, generator=g, dtype=torch.float64)
    )
    return x, xt, y


def _rbf(a, b):
    return torch.exp(-(torch.cdist(a, b) ** 2) / 4)


@pytest.mark.parametrize("k", [None, 3])
def test_linear_kernel_ridge_equals_primal_ridge(k):
    x, xt, y = _problem(k=k)
    lam = 0.7
    pred = KernelRegressor(ridge=lam, kernel="precomputed").fit(x @ x.T, y).predict(xt @ x.T)
    w = torch.linalg.solve(x.T @ x + lam * torch.eye(4, dtype=torch.float64), x.T @ y)  # primal closed form
    assert torch.allclose(pred, xt @ w, rtol=1e-10)
    sk = (
        Ridge(alpha=lam, fit_intercept=False, solver="cholesky").fit(x.numpy(), y.numpy()).predict(xt.numpy())
    )
    assert np.allclose(pred.numpy(), sk, rtol=1e-10)


def test_fitted_state_and_numpy_inputs():
    x, _, y = _problem(n=8)
    reg = KernelRegressor(ridge=1e-3, kernel="precomputed")
    reg.fit((x @ x.T + torch.eye(8, dtype=torch.float64)).numpy(), y.numpy())
    assert reg.n_features_in_ == 8 and reg.jitter_ == 0.0
    assert isinstance(reg.dual_coef_, np.ndarray) and reg.dual_coef_.shape == (8,)
    with pytest.warns(DeprecationWarning, match="use dual_coef_"):
        assert reg.alpha_ is reg.dual_coef_
    assert np.allclose(
        reg.cholesky_ @ reg.cholesky_.T, (x @ x.T + (1 + 1e-3) * torch.eye(8, dtype=torch.float64)).numpy()
    )
    assert reg.get_params() == {
        "ridge": 1e-3,
        "jitter": "auto",
        "kernel": "precomputed",
        "kernel_params": None,
        "solver": "auto",
        "tol": 1e-6,
        "max_iter": 1000,
        "rank": None,
        "memory_budget": None,
    }
    assert reg.set_params(ridge=2.0).ridge == 2.0
    assert (
        reg.score(torch.cat([x @ x.T + torch.eye(8, dtype=torch.float64)]), y) > 0.99
    )  # R² on the train set


def test_singular_kernel_gets_a_recorded_jitter_or_a_clear_error():
    x, _, y = _problem(n=10, d=3)  # rank-3 linear kernel on 10 points
    k = x @ x.T
    reg = KernelRegressor(kernel="precomputed").fit(k, y)
    assert reg.jitter_ > 0
    assert torch.isfinite(reg.dual_coef_).all()
    scale = torch.finfo(torch.float64).eps * float(k.diagonal().mean())
    assert reg.jitter_ <= scale * 1e12
    with pytest.raises(ValueError, match="not positive definite.*pass ridge > 0 or jitter='auto'"):
        KernelRegressor(kernel="precomputed", jitter=None).fit(
            k - 1e-3 * torch.eye(10, dtype=torch.float64), y
        )
    with pytest.raises(ValueError, match="even with jitter up to"):
        KernelRegressor(kernel="precomputed").fit(
            -torch.eye(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
        )


def test_regressor_input_errors():
    x, xt, y = _problem()
    pre = KernelRegressor(kernel="precomputed")
    with pytest.raises(ValueError, match="square"):
        pre.fit(x @ xt.T, y)
    with pytest.raises(ValueError, match=r"y must have shape \(12,\)"):
        pre.fit(x @ x.T, y[:5])
    with pytest.raises(NotFittedError, match="not fitted"):
        KernelRegressor(kernel="precomputed").predict(xt @ x.T)
    reg = KernelRegressor(ridge=0.1, kernel="precomputed").fit(x @ x.T, y)
    with pytest.raises(ValueError, match=r"K\(X_test, X_train\) of shape \(m, 12\)"):
        reg.predict(xt @ xt.T)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        KernelRegressor(ridge=-1, kernel="precomputed").fit(x @ x.T, y)  # validated in fit, not __init__
    with pytest.raises(ValueError, match="jitter must be"):
        KernelRegressor(jitter="big", kernel="precomputed").fit(x @ x.T, y)


@pytest.mark.parametrize("k", [None, 2])
def test_gd_predict_limits(k):
    x, xt, y = _problem(k=k)
    kt, ktt = _rbf(x, x), _rbf(xt, x)
    f0 = 0.3 * torch.randn(y.shape, dtype=torch.float64)
    f0t = 0.3 * torch.randn((5, *y.shape[1:]), dtype=torch.float64)
    assert torch.allclose(gd_predict(kt, ktt, y, 0.0, f0=f0, f0_test=f0t), f0t)
    ridgeless = f0t + ktt @ torch.linalg.solve(kt, y - f0)
    assert torch.allclose(gd_predict(kt, ktt, y, math.inf, f0=f0, f0_test=f0t), ridgeless, rtol=1e-6)
    assert torch.allclose(gd_predict(kt, ktt, y, 0.0), torch.zeros_like(ridgeless))
    # interpolation on the training set at t = inf; long but finite times approach it
    assert torch.allclose(gd_predict(kt, kt, y, math.inf), y, atol=1e-8)
    seq = gd_predict(kt, ktt, y, [0.0, 1.0, 1e12], f0=f0, f0_test=f0t)
    assert seq.shape == (3, *ridgeless.shape)
    assert torch.allclose(seq[2], ridgeless, rtol=1e-5)


@pytest.mark.parametrize("k", [None, 3])
def test_gd_predict_at_infinity_is_ridgeless_kernel_regression(k):
    """Gradient descent on the squared loss with a fixed positive definite kernel converges to the
    ridge-less kernel regressor (the interpolant), in flow time and in whole steps."""
    x, xt, y = _problem(k=k)
    kt, ktt = _rbf(x, x), _rbf(xt, x)
    reg = KernelRegressor(ridge=0.0, kernel="precomputed", jitter=None).fit(kt, y)
    want = reg.predict(ktt)
    assert torch.allclose(gd_predict(kt, ktt, y, math.inf), want, rtol=1e-6, atol=1e-8)
    lr = 1.0 / float(torch.linalg.eigvalsh(kt).max())
    assert torch.allclose(gd_predict(kt, ktt, y, math.inf, lr=lr), want, rtol=1e-6, atol=1e-8)
    # and on raw features with the estimator's own kernel
    fx = KernelRegressor(kernel="rbf", kernel_params={"gamma": 0.25}, jitter=None).fit(x.numpy(), y.numpy())
    assert np.allclose(gd_predict(kt, ktt, y, math.inf).numpy(), fx.predict(xt.numpy()), rtol=1e-6, atol=1e-8)


def test_gd_predict_rank_deficient_inf_is_min_norm_interpolant():
    x, xt, y = _problem(n=10, d=3)
    pinv = xt @ x.T @ torch.linalg.pinv(x @ x.T) @ y
    assert torch.allclose(gd_predict(x @ x.T, xt @ x.T, y, math.inf), pinv, rtol=1e-6, atol=1e-8)


def test_gd_predict_equals_explicit_gradient_descent():
    """Linearised training f ← f − lr·K(f − y) on train and test: exact for whole steps with ``lr``;
    gradient flow at time lr·steps agrees as lr → 0 (error O(lr))."""
    x, xt, y = _problem(k=2)
    kt, ktt = _rbf(x, x), _rbf(xt, x)
    lr, steps = 0.05, 200
    f, ft = torch.zeros_like(y), torch.zeros(5, 2, dtype=torch.float64)
    for _ in range(steps):
        r = f - y
        f, ft = f - lr * kt @ r, ft - lr * ktt @ r
    assert torch.allclose(gd_predict(kt, ktt, y, steps, lr=lr), ft, rtol=1e-10, atol=1e-12)
    flow = gd_predict(kt, ktt, y, lr * steps)
    err_big = (flow - ft).abs().max()
    f, ft2 = torch.zeros_like(y), torch.zeros(5, 2, dtype=torch.float64)
    for _ in range(steps * 10):
        r = f - y
        f, ft2 = f - lr / 10 * kt @ r, ft2 - lr / 10 * ktt @ r
    err_small = (flow - ft2).abs().max()
    assert err_small < 0.2 * err_big and err_small < 1e-3


def test_gd_predict_errors():
    x, xt, y = _problem()
    kt, ktt = _rbf(x, x), _rbf(xt, x)
    with pytest.raises(ValueError, match="pass both f0"):
        gd_predict(kt, ktt, y, 1.0, f0=y)
    with pytest.raises(ValueError, match="whole numbers"):
        gd_predict(kt, ktt, y, 1.5, lr=0.1)
    with pytest.raises(ValueError, match="diverges"):
        gd_predict(kt, ktt, y, math.inf, lr=100.0)
    with pytest.raises(ValueError, match="times must be >= 0"):
        gd_predict(kt, ktt, y, -1.0)


def test_one_hot_and_accuracy():
    labels = torch.tensor([2, 0, 1, 2])
    t = one_hot(labels, off=-0.1, dtype=torch.float64)
    assert t.shape == (4, 3) and t[0].tolist() == [-0.1, -0.1, 1.0]
    assert one_hot(labels, 5).shape == (4, 5)
    assert accuracy(t, labels) == 1.0
    assert accuracy(torch.tensor([[1.0, 0.0, 0.0]] * 4), t) == 0.25
    assert accuracy(torch.tensor([0.3, -2.0, 1.0]), torch.tensor([1, -1, -1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        one_hot(labels, 2)
    with pytest.raises(ValueError, match="labels in {-1, \\+1}"):
        accuracy(torch.tensor([0.3, -2.0]), torch.tensor([1, 0]))
