"""The frozen-knot (kernel-regime) limit: least-norm interpolants against independent solvers and
against the natural cubic spline as the width grows."""

import numpy as np
import pytest
import torch

from neuralpaths import univariate as U
from neuralpaths.models import Univariate


def _on(model, grid):
    with torch.no_grad():
        return model(torch.as_tensor(grid, dtype=torch.float64)).numpy()


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
