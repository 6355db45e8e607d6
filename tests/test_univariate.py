"""Splines, curvature, distances, knot statistics, the frozen-knot limit and gradient descent for
shallow univariate ReLU nets, each against an independent computation."""

import numpy as np
import pytest
import torch
from scipy.interpolate import CubicSpline

from neuralpaths import univariate as U
from neuralpaths.models import Univariate
from neuralpaths.models.univariate import univariate_forward


@pytest.fixture
def data():
    return U.interpolation_samples(6, seed=0)


def _on(model, grid):
    with torch.no_grad():
        return model(torch.as_tensor(grid, dtype=torch.float64)).numpy()


# ---------------------------------------------------------------- samples, splines, distances


def test_samples_sorted_and_span_the_interval():
    x, y = U.interpolation_samples(7, lo=-2, hi=3, seed=1)
    assert x.shape == y.shape == (7,) and np.all(np.diff(x) > 0)
    assert (x[0], x[-1]) == (-2, 3)
    x, y = U.interpolation_samples(9, zigzag=True, seed=1)
    kinks = np.diff(np.diff(y) / np.diff(x))
    assert np.all(kinks[1:] * kinks[:-1] < 0)  # the linear interpolant's kinks alternate
    with pytest.raises(ValueError, match="jitter"):
        U.interpolation_samples(5, jitter=0.6)


def test_splines_interpolate_and_the_cubic_is_natural(data):
    x, y = data
    s = U.natural_cubic_spline(x[::-1], y[::-1])  # order of the samples does not matter
    assert np.allclose(s(x), y, atol=1e-12)
    assert np.allclose(s(x[[0, -1]], 2), 0, atol=1e-10)
    outside = np.r_[np.linspace(x[0] - 3, x[0], 20), np.linspace(x[-1], x[-1] + 3, 20)]
    assert np.allclose(s(outside, 2), 0, atol=1e-10)  # linear beyond the outer samples
    assert np.allclose(s(outside[:20], 1), s(x[0], 1)) and np.allclose(s(outside[20:], 1), s(x[-1], 1))
    inner = np.linspace(x[0], x[-1], 50)
    assert np.allclose(s(inner), CubicSpline(x, y, bc_type="natural")(inner), atol=1e-12)
    grid = U.sample_grid(x, 101)
    assert (grid[0], grid[-1]) == (x[0], x[-1])
    lin = U.linear_interpolant(x, y, grid)
    assert np.allclose(U.linear_interpolant(x, y, x), y)
    assert np.all(np.abs(np.diff(lin, 2)) < 1e-12 + (np.abs(np.diff(lin, 2)) > 1e-9))  # piecewise linear


def test_distance_and_spline_coordinate():
    g = np.sin(np.linspace(0, 3, 50))
    assert U.distance(g, g) == 0
    assert U.distance(np.full_like(g, g.mean()), g) == pytest.approx(1.0)
    assert U.distance(2 * g, g, reference=2 * g) == pytest.approx(
        np.linalg.norm(g) / np.linalg.norm(2 * (g - g.mean()))
    )
    cubic, linear = g, np.linspace(0, 1, 50)
    assert U.spline_coordinate(cubic, cubic, linear) == pytest.approx(0)
    assert U.spline_coordinate(linear, cubic, linear) == pytest.approx(1)
    assert U.spline_coordinate(0.7 * cubic + 0.3 * linear, cubic, linear) == pytest.approx(0.3)


# ---------------------------------------------------------------- curvature


def test_curvature_of_a_cubic_closed_form():
    """f = x³ on [0, 1], rho = 2: ∫ (6x)² / 2 dx = 6."""
    grid = np.linspace(0, 1, 4001)
    assert U.curvature(6 * grid, np.full_like(grid, 2.0), grid) == pytest.approx(6.0, rel=1e-6)
    rho = np.where(grid < 0.5, 1.0, 0.0)
    assert U.curvature(np.where(grid < 0.5, 1.0, 0.0), rho, grid) == pytest.approx(0.5, abs=1e-3)
    assert U.curvature(np.ones_like(grid), rho, grid) == np.inf  # curvature where no knot can be


def test_knot_curvature_equals_squared_slope_jumps_over_weights():
    """A net's Σ mu_i²/w_i equals Σ c_i² and the same sum over slope jumps read off a fine grid."""
    model = Univariate(6, symmetric=False, seed=2, interval=(-1, 1), margin=0).double()
    k, mu, w = model.knots().numpy(), model.delta_slopes().numpy(), model.knot_weights().numpy()
    assert U.knot_curvature(mu, w) == pytest.approx(float((model.c.detach() ** 2).sum()), rel=1e-12)
    h = 1e-4
    grid = np.arange(-1.2, 1.2, h)
    f = _on(model, grid)
    slopes = np.diff(f) / h  # (grid-1,) slope on each cell
    jumps_at = np.flatnonzero(np.abs(np.diff(slopes)) > 1e-9)  # cells where the slope changes
    # group the (one or two) cells around each knot; weight = M² a² of the unit whose knot it is
    total = 0.0
    for e, wi in zip(k, w):
        cells = jumps_at[np.abs(grid[jumps_at + 1] - e) <= h]
        total += (slopes[cells.max() + 1] - slopes[cells.min()]) ** 2 / wi
    assert total == pytest.approx(U.knot_curvature(mu, w), rel=1e-6)


def test_knot_curvature_converges_to_the_curvature_functional():
    """Piecewise-linear interpolants of g(x) = sin(3x) + x³ on N knots with weight rho(e)·h each:
    Σ jump²/w -> ∫ g''² / rho as N grows (non-uniform rho)."""
    g2 = lambda t: -9 * np.sin(3 * t) + 6 * t
    rho = lambda t: 1.0 + t**2
    grid = np.linspace(-1, 1, 20001)
    exact = U.curvature(g2(grid), rho(grid), grid)
    errs = []
    for n in (50, 400, 3200):
        e = np.linspace(-1, 1, n + 1)
        h = e[1] - e[0]
        vals = np.sin(3 * e) + e**3
        jumps = np.diff(np.diff(vals) / h)  # slope jumps at the interior knots
        errs.append(abs(U.knot_curvature(jumps, rho(e[1:-1]) * h) - exact) / exact)
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-3


# ---------------------------------------------------------------- knot statistics


def test_knot_statistics_by_hand():
    k0 = np.array([-0.5, 0.0, 0.5, 3.0, np.inf])
    k1 = np.array([-0.4, 0.0, 0.8, 3.0, 1.0])
    assert U.knot_movement(k0, k1, interval=(-1, 1)) == pytest.approx((0.1 + 0 + 0.3) / 3)
    assert U.knot_movement(k0, k1, interval=(-1, 1), weights=[1, 0, 3, 9, 9]) == pytest.approx(1.0 / 4)
    assert U.knot_movement(k0, k1) == pytest.approx(0.4 / 4)  # the infinite knot is left out
    assert U.knots_moved_fraction(k0, k1, 0.2) == pytest.approx(1 / 4)  # finite initial knots only
    assert U.knots_moved_fraction(k0, k1, 0.2, interval=(-1, 1)) == pytest.approx(1 / 3)
    samples = np.array([-1.0, 0.0, 1.0])
    knots = np.array([-0.98, 0.5, 0.01, 0.9, 2.0, -0.5])
    mu = np.array([1.0, 1.0, 2.0, 1e-4, 5.0, -1.0])
    # active: inside [-1, 1] and |mu| >= 1% of 2.0 -> knots -0.98, 0.5, 0.01, -0.5; near (eps 0.05): 2
    assert U.knots_near_samples(knots, mu, samples, 0.05) == pytest.approx(2 / 4)
    assert U.knots_near_samples(knots, mu, samples, 0.05, weighted=True) == pytest.approx(3 / 5)


def test_fit_summary_of_a_net_that_is_the_linear_interpolant():
    """A net with one knot at each interior sample and the interpolant's slope jumps is the linear
    interpolant: distance 0 to it, coordinate 1, every active knot at a sample."""
    x, y = U.interpolation_samples(7, seed=3)
    slopes = np.diff(y) / np.diff(x)
    model = Univariate(5, symmetric=False, linear=True, seed=0).double()
    with torch.no_grad():
        model.a.fill_(1.0)
        model.b.copy_(torch.from_numpy(-x[1:-1]))
        model.c.copy_(torch.from_numpy(np.diff(slopes)))
        model.alpha.fill_(slopes[0])
        model.beta.fill_(y[0] - slopes[0] * x[0])
    s = U.fit_summary(model, x, y, model.knots() + 0.1, eps=0.02)
    assert s["dist_linear"] < 1e-12 and s["spline_coordinate"] == pytest.approx(1.0)
    grid = U.sample_grid(x)
    cubic, linear = U.natural_cubic_spline(x, y)(grid), U.linear_interpolant(x, y, grid)
    assert s["dist_cubic"] == pytest.approx(U.distance(linear, cubic, reference=linear))
    assert s["knot_movement"] == pytest.approx(0.1) and s["knots_moved"] == 1.0
    assert s["knots_near_samples"] == s["knots_near_samples_weighted"] == 1.0
    assert s["knots_near_chance"] == 0.0  # the shifted knots are 0.1 from every sample


# ---------------------------------------------------------------- the frozen-knot (kernel) limit


@pytest.mark.parametrize("linear", ["none", "free", "penalised"])
def test_min_norm_coefficients_against_independent_solvers(linear):
    rng = np.random.default_rng(0)
    phi, x, y = rng.standard_normal((5, 30)), rng.standard_normal(5), rng.standard_normal(5)
    c, alpha, beta = (t.numpy() for t in U.min_norm_coefficients(phi, x, y, linear=linear))
    assert np.allclose(phi @ c + alpha * x + beta, y, atol=1e-10)
    if linear == "none":
        assert np.allclose(c, np.linalg.pinv(phi) @ y, atol=1e-10)
    elif linear == "penalised":
        sol = np.linalg.pinv(np.column_stack([phi, x, np.ones(5)])) @ y
        assert np.allclose(np.r_[c, alpha, beta], sol, atol=1e-10)
    else:  # penalise the linear term 1/lam² as much: lam -> inf leaves it free
        lam = 1e4
        sol = np.linalg.pinv(np.column_stack([phi, lam * x, lam * np.ones(5)])) @ y
        assert np.allclose(c, sol[:30], atol=1e-6)
        assert np.allclose([alpha, beta], lam * sol[30:], atol=1e-6)
    with pytest.raises(ValueError, match="'none', 'free' or 'penalised'"):
        U.min_norm_coefficients(phi, x, y, linear="yes")


def _kernel_limit_distances(x, y, widths, seeds, **kwargs):
    """Mean distance of the frozen-knot min-norm interpolant to the natural cubic spline, per width."""
    grid = U.sample_grid(x, 501)
    cubic = U.natural_cubic_spline(x, y)(grid)
    out = []
    for m in widths:
        nets = [U.min_norm_interpolant(Univariate(m, seed=s, **kwargs).double(), x, y) for s in seeds]
        out.append(float(np.mean([U.distance(_on(net, grid), cubic) for net in nets])))
    return out


def test_frozen_uniform_knots_min_norm_interpolant_approaches_the_natural_cubic_spline():
    """Kernel-regime limit: min-‖c‖ interpolant with frozen, uniformly spread knots and an
    unpenalised linear term -> natural cubic spline as the width grows (mean over 4 draws)."""
    x, y = U.interpolation_samples(8, seed=0)
    widths = (100, 1000, 10_000)
    d = _kernel_limit_distances(x, y, widths, range(4), linear=True)
    strat = _kernel_limit_distances(x, y, widths, range(4), linear=True, knots="stratified")
    no_linear = _kernel_limit_distances(x, y, widths[-1:], range(4), knots="stratified")[0]
    print("\nmin-norm interpolant (frozen knots, free linear term) vs natural cubic spline, mean of 4 draws:")
    for m, u, v in zip(widths, d, strat):
        print(f"  width {m:>6}: normalised L2 distance {u:.4f} (uniform knots), {v:.5f} (stratified)")
    print(f"  width {widths[-1]:>6}, stratified, no linear term: {no_linear:.4f}")
    assert d[0] > d[1] > d[2] and strat[0] > strat[1] > strat[2]
    assert d[2] < 0.05 and d[2] < d[0] / 4 and strat[2] < 1e-3
    # the pure ReLU basis pays for the linear part: that min-norm interpolant stays away from the spline
    assert no_linear > 10 * strat[2]
    # and the min-‖c‖ = min Σ mu²/w converges to the spline's curvature ∫ S''²/rho: on the grid, and
    # in closed form (S'' is linear between samples: ∫ = Σ h (m0² + m0 m1 + m1²) / 3, rho constant)
    spline = U.natural_cubic_spline(x, y)
    m2, h = spline(x, 2), np.diff(x)
    rho = 1 / 2.2  # width s_in² / (widened interval) = gain / (scale * 2.2)
    closed = np.sum(h * (m2[:-1] ** 2 + m2[:-1] * m2[1:] + m2[1:] ** 2) / 3) / rho
    grid = np.linspace(-1.5, 1.5, 30001)
    model = Univariate(4000, linear=True, knots="stratified", seed=0).double()
    density = model.knot_density(torch.from_numpy(grid)).numpy()
    assert U.curvature(spline(grid, 2), density, grid) == pytest.approx(closed, rel=1e-6)
    mn = U.min_norm_interpolant(model, x, y)
    assert U.knot_curvature(mn.delta_slopes(), mn.knot_weights()) == pytest.approx(closed, rel=1e-3)


def test_min_norm_interpolant_keeps_the_knots_and_interpolates(data):
    x, y = data
    model = Univariate(50, seed=0).double()
    mn = U.min_norm_interpolant(model, x, y)
    assert torch.equal(mn.knots(), model.knots())
    assert np.allclose(_on(mn, x), y, atol=1e-9)


# ---------------------------------------------------------------- gradient descent


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
    value, grads = U._grads(params, x, y, model.multiplier, "all")
    assert value == pytest.approx(loss.item(), rel=1e-12)
    for k in auto:
        assert np.allclose(grads[k], auto[k].numpy(), atol=1e-13), k
    _, out = U._grads(params, x, y, model.multiplier, "output")
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
