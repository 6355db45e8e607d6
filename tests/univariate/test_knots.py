"""Knot statistics and the fit summary, against hand-computed values."""

import numpy as np
import pytest
import torch

from neuralpaths import univariate as U
from neuralpaths.models import Univariate


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
