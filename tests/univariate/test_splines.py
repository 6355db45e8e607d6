"""Samples, the natural cubic spline and linear interpolant, distances, and the curvature
functional, each against an independent computation."""

import numpy as np
import pytest
import torch
from scipy.interpolate import CubicSpline

from neuralpaths import univariate as U
from neuralpaths.models import Univariate


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
