"""Gradient descent for shallow univariate nets: gradients and the Hessian bound against autograd,
the output-layer limit, determinism, parameterisations on one path, and the two regimes."""

import numpy as np
import pytest
import torch

from neuralpaths import univariate as U
from neuralpaths.models import Univariate
from neuralpaths.models.univariate import univariate_forward
from neuralpaths.univariate.train import _grads


def _on(model, grid):
    with torch.no_grad():
        return model(torch.as_tensor(grid, dtype=torch.float64)).numpy()


def test_hand_written_gradients_equal_autograd(data):
    x, y = data
    model = Univariate(12, init="ntk", scale=0.5, symmetric=False, linear=True, seed=3).double()
    with torch.no_grad():
        model.alpha.fill_(0.3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss = 0.5 * ((model(xt) - yt) ** 2).mean()
    auto = dict(
        zip(
            ("a", "b", "c", "alpha", "beta"),
            torch.autograd.grad(loss, [model.a, model.b, model.c, model.alpha, model.beta]),
        )
    )
    params = {k: getattr(model, k).detach().numpy() for k in auto}
    value, grads = _grads(params, x, y, model.multiplier, "all")
    assert value == pytest.approx(loss.item(), rel=1e-12)
    for k in auto:
        assert np.allclose(grads[k], auto[k].numpy(), atol=1e-13), k
    _, out = _grads(params, x, y, model.multiplier, "output")
    assert set(out) == {"c", "alpha", "beta"}


@pytest.mark.parametrize("linear", [False, True])
def test_gradient_descent_on_the_output_layer_reaches_the_min_norm_interpolant(linear):
    """From c = 0 (and alpha = beta = 0) gradient descent on the output layer stays in the row
    space of the features and converges to the least-norm interpolant (linear term penalised like c)."""
    x, y = U.interpolation_samples(4, seed=0)
    model = Univariate(40, linear=linear, gain=10.0, seed=1).double()
    with torch.no_grad():
        model.c.zero_()
    expected = U.min_norm_interpolant(model, x, y, penalise_linear=True)
    res = U.train_univariate(model, x, y, train="output", steps=400_000, tol=1e-22, progress=False)
    assert res.converged
    assert torch.allclose(model.c, expected.c, atol=1e-8)
    if linear:
        assert torch.allclose(
            torch.stack([model.alpha, model.beta]), torch.stack([expected.alpha, expected.beta]), atol=1e-8
        )
    assert np.all(res.knots == res.knots[0])  # frozen knots


def test_gradient_descent_records_and_is_deterministic(data):
    x, y = data
    runs = []
    for _ in range(2):
        model = Univariate(20, scale=1.0, gain=10.0, seed=0).double()
        k0 = model.knots().numpy()
        runs.append(U.train_univariate(model, x, y, steps=3000, tol=0.0, checkpoints=5, progress=False))
    a, b = runs
    assert a.steps == 3000 and not a.converged
    assert np.array_equal(a.knots, b.knots) and np.array_equal(a.losses, b.losses)
    assert np.array_equal(a.knots[0], k0) and a.checkpoint_steps[0] == 0 and a.checkpoint_steps[-1] == 3000
    assert a.knots.shape == a.delta_slopes.shape == (len(a.checkpoint_steps), 20)
    assert a.loss_steps[-1] == 3000 and a.losses[-1] == a.final_loss and a.losses[-1] < a.losses[0]
    assert set(a.to_dict()) >= {"losses", "knots", "steps", "lr", "flow_time"}


@pytest.mark.parametrize("train", ["all", "output"])
def test_hessian_bound_against_autograd(data, train):
    """H = (JᵀJ + Σ r_j ∇²f_j)/n: the first part's top eigenvalue is λ_max(NTK)/n, the second part's
    norm is the closed form, and their sum bounds λ_max(H)."""
    x, y = data
    model = Univariate(7, scale=3.0, gain=20.0, symmetric=False, linear=True, seed=2).double()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    names = ("a", "b", "c", "alpha", "beta") if train == "all" else ("c", "alpha", "beta")
    base = {k: getattr(model, k).detach() for k in ("a", "b", "c", "alpha", "beta")}
    sizes = [base[k].numel() for k in names]

    def f(flat):
        p = dict(base) | {k: t.reshape(base[k].shape) for k, t in zip(names, flat.split(sizes))}
        return univariate_forward(xt, p["a"], p["b"], p["c"], model.multiplier, p["alpha"], p["beta"])

    theta = torch.cat([base[k].reshape(-1) for k in names])
    hess = torch.autograd.functional.hessian(lambda t: 0.5 * ((f(t) - yt) ** 2).mean(), theta)
    jac = torch.autograd.functional.jacobian(f, theta)
    gauss_newton = jac.T @ jac / len(x)
    lam_k = float(torch.linalg.eigvalsh(model.ntk(xt, train=train))[-1])
    assert float(torch.linalg.eigvalsh(gauss_newton)[-1]) == pytest.approx(lam_k / len(x), rel=1e-10)
    residual_norm = float(torch.linalg.matrix_norm(hess - gauss_newton, ord=2))
    bound = U.hessian_bound(model, x, y, train=train)
    assert bound - lam_k / len(x) == pytest.approx(residual_norm, rel=1e-10, abs=1e-14)
    assert bound >= float(torch.linalg.eigvalsh(hess)[-1]) * (1 - 1e-12)
    assert U.step_size(model, x, y, train=train, factor=0.7) == pytest.approx(0.7 / bound)


def test_gradient_descent_errors(data):
    x, y = data
    with pytest.raises(ValueError, match="'all' or 'output'"):
        U.train_univariate(Univariate(4).double(), x, y, train="first", progress=False)
    with pytest.raises(FloatingPointError, match="diverged"):
        U.train_univariate(Univariate(4, linear=True, seed=0).double(), x, y, lr=1e6, progress=False)


@pytest.mark.parametrize(("init", "gain"), [("ntk", lambda m: m**0.5), ("mean-field", lambda m: 1.0)])
def test_ntk_and_mean_field_are_scale_inits_on_the_same_path(data, init, gain):
    """(a, b, c) -> λ(a, b, c) with λ² = M turns M Σ c relu(a x + b) into the standard
    parameterisation with s_in = s_out = λ (scale 1, gain = m M); gradient descent with the NTK step
    size rescales the same way, so both runs visit the same functions and knots."""
    x, y = data
    m = 256  # λ = M^(1/2) is a power of two for both, so the rescaling is exact in floating point
    nets = [
        Univariate(m, init=init, knots="stratified", seed=5).double(),
        Univariate(m, init="scale", scale=1.0, gain=gain(m), knots="stratified", seed=5).double(),
    ]
    grid = U.sample_grid(x, 101)
    assert np.allclose(_on(nets[0], grid), _on(nets[1], grid), atol=1e-14)
    runs = [U.train_univariate(net, x, y, steps=2000, tol=0.0, progress=False) for net in nets]
    assert np.allclose(_on(nets[0], grid), _on(nets[1], grid), atol=1e-12)
    assert np.allclose(runs[0].knots, runs[1].knots, atol=1e-12)
    assert np.allclose(runs[0].losses, runs[1].losses, rtol=1e-12)


def test_small_scale_is_the_kernel_regime_large_scale_the_adaptive_one():
    """Williams et al. in miniature: at scale 1e-4 the knots stay put and gradient descent ends at
    the frozen-knot min-norm interpolant (nearer the cubic spline); at scale 1 the knots move onto
    the samples and the fit is the linear interpolant."""
    x, y = U.interpolation_samples(6, zigzag=True, seed=0)
    grid = U.sample_grid(x)
    out = {}
    for scale in (1e-4, 1.0):
        model = Univariate(40, scale=scale, gain=10.0, knots="stratified", seed=0).double()
        k0, kernel = model.knots(), U.min_norm_interpolant(model, x, y)
        res = U.train_univariate(model, x, y, steps=100_000, tol=1e-6, progress=False)
        assert res.converged
        out[scale] = U.fit_summary(model, x, y, k0) | {
            "dist_kernel": U.distance(_on(model, grid), _on(kernel, grid))
        }
    lazy, rich = out[1e-4], out[1.0]
    assert lazy["knot_movement"] < 1e-3 and lazy["dist_kernel"] < 0.01
    assert lazy["dist_cubic"] < lazy["dist_linear"]
    assert rich["dist_linear"] < 0.05 < rich["dist_cubic"]
    assert rich["knot_movement"] > 100 * lazy["knot_movement"]
    assert rich["knots_near_samples"] > 0.9 > 0.3 > rich["knots_near_chance"]
