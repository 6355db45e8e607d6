"""Knot statistics of a shallow univariate ReLU net: how far knots moved, how many sit at the
samples, and :func:`fit_summary`, which also places a trained net between the two splines."""

from __future__ import annotations

import numpy as np
import torch

from ..models.univariate import Univariate
from .splines import _np, distance, linear_interpolant, natural_cubic_spline, sample_grid, spline_coordinate


def _inside(knots: np.ndarray, interval) -> np.ndarray:
    if interval is None:
        return np.isfinite(knots)
    return (knots >= interval[0]) & (knots <= interval[1])


def knot_movement(knots_before, knots_after, *, weights=None, interval=None) -> float:
    """Mean ``|Δ knot|`` over units whose initial knot lies in ``interval`` (default: all finite).

    ``weights`` (e.g. the final ``|delta-slope|``) turn it into a weighted mean, so units that carry
    no slope change do not count.
    """
    k0, k1 = _np(knots_before), _np(knots_after)
    keep = _inside(k0, interval) & np.isfinite(k1)
    w = np.ones_like(k0) if weights is None else np.abs(_np(weights))
    if not keep.any() or w[keep].sum() == 0:
        return float("nan")
    return float(np.average(np.abs(k1 - k0)[keep], weights=w[keep]))


def knots_moved_fraction(knots_before, knots_after, eps: float, *, interval=None) -> float:
    """Fraction of the units (initial knot in ``interval``) whose knot moved by more than ``eps``."""
    k0, k1 = _np(knots_before), _np(knots_after)
    keep = _inside(k0, interval)
    moved = ~(np.abs(k1 - k0) <= eps)  # a knot that went to infinity moved
    return float(moved[keep].mean()) if keep.any() else float("nan")


def knots_near_samples(
    knots, delta_slopes, samples, eps: float, *, min_slope: float = 1e-2, weighted: bool = False
) -> float:
    """Fraction of the active knots that lie within ``eps`` of a sample.

    Active knots lie between the outer samples and carry a delta-slope of at least ``min_slope``
    times the largest ``|delta-slope|`` among them; knots outside the data or with negligible slope
    change do not shape the interpolant and are not counted. ``weighted=True`` returns instead the
    share of the total ``|delta-slope|`` of the active knots that sits within ``eps`` of a sample.
    For knots spread uniformly the expected fraction is about ``2 eps n / (x_max - x_min)``.
    """
    k, mu, s = _np(knots), np.abs(_np(delta_slopes)), np.sort(_np(samples))
    inside = (k >= s[0]) & (k <= s[-1])
    if not inside.any() or mu[inside].max() == 0:
        return float("nan")
    active = inside & (mu >= min_slope * mu[inside].max())
    near = np.min(np.abs(k[active, None] - s[None, :]), axis=1) <= eps  # (active, n) -> (active,)
    if weighted:
        return float(mu[active][near].sum() / mu[active].sum())
    return float(near.mean())


def fit_summary(
    model: Univariate, x, y, knots_before, *, eps: float = 0.02, grid_points: int = 2001
) -> dict[str, float]:
    """How a trained net sits between the two splines and what its knots did.

    On a uniform grid between the outer samples: ``dist_cubic`` and ``dist_linear`` are the L2
    distances of the fit to the natural cubic spline and to the linear interpolant, both divided by
    the same ``‖S1 - mean(S1)‖`` of the linear interpolant ``S1`` (so the smaller one names the
    nearer spline); ``spline_coordinate`` is 0 at the cubic, 1 at the linear spline. Knots are
    compared with ``knots_before`` over the units whose initial knot lies between the outer samples:
    ``knot_movement`` (mean ``|Δ knot|``), ``knot_movement_weighted`` (weighted by the final
    ``|delta-slope|``), ``knots_moved`` (fraction moved by more than ``eps``). ``knots_near_samples``
    (and ``..._weighted``): see :func:`knots_near_samples`; ``knots_near_chance`` is the same
    fraction for the initial knots.
    """
    x, y = _np(x), _np(y)
    grid = sample_grid(x, grid_points)
    with torch.no_grad():
        f = _np(model(torch.as_tensor(grid, dtype=model.a.dtype)))
    cubic, linear = natural_cubic_spline(x, y)(grid), linear_interpolant(x, y, grid)
    k0, k1, mu = _np(knots_before), _np(model.knots()), _np(model.delta_slopes())
    data = (x.min(), x.max())
    return {
        "dist_cubic": distance(f, cubic, reference=linear),
        "dist_linear": distance(f, linear, reference=linear),
        "spline_coordinate": spline_coordinate(f, cubic, linear),
        "knot_movement": knot_movement(k0, k1, interval=data),
        "knot_movement_weighted": knot_movement(k0, k1, weights=mu, interval=data),
        "knots_moved": knots_moved_fraction(k0, k1, eps, interval=data),
        "knots_near_samples": knots_near_samples(k1, mu, x, eps),
        "knots_near_samples_weighted": knots_near_samples(k1, mu, x, eps, weighted=True),
        "knots_near_chance": knots_near_samples(k0, np.ones_like(k0), x, eps),
    }
