"""Samples, the two reference interpolants, distances between functions, and curvature.

The natural cubic spline and the linear interpolant are the two limits of a shallow univariate ReLU
net trained to interpolate a few samples (kernel and adaptive regime); :func:`distance` and
:func:`spline_coordinate` say where a fit lies between them. :func:`curvature` is the functional
``∫ f''² / rho`` a kernel-regime fit minimises and :func:`knot_curvature` its value for a
piecewise-linear function. Arrays returned are numpy float64.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline, PPoly
from torch import Tensor


def _np(x) -> np.ndarray:
    return x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------- samples, splines, distances


def interpolation_samples(
    n: int, *, lo: float = -1.0, hi: float = 1.0, jitter: float = 0.3, zigzag: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sorted inputs spread over ``[lo, hi]`` (evenly spaced, each moved by up to ``jitter``
    of the spacing; the outer two stay at ``lo`` and ``hi``) and targets ``y ~ N(0, 1)``.

    ``zigzag=True``: ``y_j = (-1)^j u_j`` with ``u_j ~ U[0.5, 1.5]``, so the slope changes of the
    linear interpolant alternate in sign. Then the linear interpolant is the only interpolant of
    least ``∫ |f''|``; where neighbouring kinks bend the same way, knots can slide between the
    samples at no cost in ``∫ |f''|``, and adaptive-regime fits need not put them at the samples.

    Shape:
        ``-> x: (n,), y: (n,)``.
    """
    if n < 2 or not 0 <= jitter < 0.5:
        raise ValueError(f"need n >= 2 and 0 <= jitter < 0.5, got n={n}, jitter={jitter}")
    rng = np.random.default_rng(seed)
    h = (hi - lo) / (n - 1)
    x = lo + h * np.arange(n) + jitter * h * rng.uniform(-1, 1, n) * (np.arange(n) % (n - 1) != 0)
    if zigzag:
        return x, (-1.0) ** np.arange(n) * rng.uniform(0.5, 1.5, n)
    return x, rng.standard_normal(n)


def natural_cubic_spline(x, y) -> PPoly:
    """The natural cubic spline through the samples: ``f'' = 0`` at the outer samples and linear
    beyond them (scipy's ``CubicSpline`` alone would extrapolate the end cubics).

    Returns a :class:`scipy.interpolate.PPoly`; ``s(t, 2)`` is the second derivative.
    """
    x, y = _np(x), _np(y)
    order = np.argsort(x)
    x, y = x[order], y[order]
    cs = CubicSpline(x, y, bc_type="natural")
    s0, s1 = float(cs(x[0], 1)), float(cs(x[-1], 1))
    left = [0.0, 0.0, s0, y[0] - s0]  # y0 + s0 (t - x0) on [x0 - 1, x0], in powers of t - (x0 - 1)
    right = [0.0, 0.0, s1, y[-1]]  # y_n + s_n (t - x_n) on [x_n, x_n + 1]
    coeffs = np.column_stack([left, cs.c, right])  # (4, pieces)
    return PPoly(coeffs, np.r_[x[0] - 1.0, x, x[-1] + 1.0], extrapolate=True)


def linear_interpolant(x, y, grid) -> np.ndarray:
    """The piecewise-linear interpolant of the samples on ``grid`` (constant beyond the outer samples)."""
    x, y = _np(x), _np(y)
    order = np.argsort(x)
    return np.interp(_np(grid), x[order], y[order])


def sample_grid(x, n: int = 2001) -> np.ndarray:
    """``n`` evenly spaced points from the smallest to the largest sample."""
    x = _np(x)
    return np.linspace(x.min(), x.max(), n)


def distance(f, g, *, reference=None) -> float:
    """Normalised L2 distance ``‖f - g‖ / ‖r - mean(r)‖`` of functions sampled on one uniform grid.

    ``r = reference`` (default ``g``): normalise by the variation of the target, so 0 is a perfect
    match and 1 is as far as the constant ``mean(g)``. Pass one ``reference`` to compare distances
    to different targets on one scale.
    """
    f, g = _np(f), _np(g)
    r = g if reference is None else _np(reference)
    return float(np.linalg.norm(f - g) / np.linalg.norm(r - r.mean()))


def spline_coordinate(f, cubic, linear) -> float:
    """Where ``f`` lies between two functions on a grid: the least-squares ``t`` in ``f ≈ cubic +
    t (linear - cubic)`` (0 at the cubic spline, 1 at the linear interpolant)."""
    f, cubic, linear = _np(f), _np(cubic), _np(linear)
    d = linear - cubic
    return float(np.dot(f - cubic, d) / np.dot(d, d))


# ---------------------------------------------------------------- curvature


def curvature(second_derivative, density, grid) -> float:
    """``∫ f''(x)² / rho(x) dx`` by the trapezoid rule on ``grid``.

    Where ``rho = 0`` the integrand is 0 if ``f'' = 0`` there and ``inf`` otherwise (a curvature no
    knot can make).
    """
    f2, rho, grid = _np(second_derivative), _np(density), _np(grid)
    num = f2**2
    with np.errstate(divide="ignore", invalid="ignore"):
        integrand = np.where(num == 0, 0.0, num / rho)
    return float(np.trapezoid(integrand, grid))


def knot_curvature(delta_slopes, weights) -> float:
    """The curvature functional of a piecewise-linear function, ``Σ_i mu_i² / w_i``.

    For a ReLU net ``mu_i = M c_i |a_i|`` and ``w_i = M² a_i²`` (``Univariate.knot_weights``), so this
    equals ``Σ_i c_i²``: the frozen-knot interpolant of least ``‖c‖`` minimises it. If knots of total
    weight ``rho(x) dx`` near ``x`` share a slope change ``f''(x) dx`` optimally (``mu_i ∝ w_i``), the
    sum is ``∫ f''² / rho dx`` — :func:`curvature` is its continuum limit.
    """
    mu, w = _np(delta_slopes), _np(weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(np.where(mu == 0, 0.0, mu**2 / w)))
