"""Shallow univariate ReLU nets (Williams et al., NeurIPS 2019): splines, curvature, knots, training.

A net ``f(x) = M Σ_i c_i relu(a_i x + b_i)`` (:class:`~neuralpaths.models.Univariate`) is piecewise
linear with knots ``e_i = -b_i/a_i`` and delta-slopes ``mu_i = M c_i |a_i|``. Trained on a few samples
it interpolates them; which interpolant it reaches depends on the regime:

- **kernel** (knots frozen, only ``c`` moves): gradient descent from ``f ≡ 0`` ends at the
  minimum-``‖c‖`` interpolant (:func:`min_norm_interpolant`). Since ``c_i² = mu_i² / w_i`` with the
  unit's weight ``w_i = M² a_i²``, ``‖c‖² = Σ_i mu_i² / w_i`` (:func:`knot_curvature`), whose continuum
  limit is the curvature functional ``∫ f''(x)² / rho(x) dx`` (:func:`curvature`) with ``rho`` the
  knot density weighted by ``w`` (:meth:`neuralpaths.models.Univariate.knot_density`). For a
  uniform ``rho`` its minimiser is the natural cubic spline (with an unpenalised linear term
  ``alpha x + beta``; without it the linear part is paid for by knots at the edges of ``rho``'s
  support).
- **adaptive**: knots move to the samples and ``f`` approaches the linear interpolant.

Gradient descent (:func:`train_univariate`) uses hand-written gradients (checked against autograd
in the tests) and a step size from a bound on the loss Hessian built on the closed-form NTK
(:func:`hessian_bound`). Arrays returned are numpy float64.

Modules: ``splines`` (samples, the two splines, distances, curvature), ``knots`` (knot statistics,
:func:`fit_summary`), ``kernel`` (the frozen-knot min-norm interpolant), ``train`` (gradient descent).
"""

from .kernel import min_norm_coefficients, min_norm_interpolant
from .knots import fit_summary, knot_movement, knots_moved_fraction, knots_near_samples
from .splines import (
    curvature,
    distance,
    interpolation_samples,
    knot_curvature,
    linear_interpolant,
    natural_cubic_spline,
    sample_grid,
    spline_coordinate,
)
from .train import FitResult, hessian_bound, step_size, train_univariate

__all__ = [
    "FitResult",
    "curvature",
    "distance",
    "fit_summary",
    "hessian_bound",
    "interpolation_samples",
    "knot_curvature",
    "knot_movement",
    "knots_moved_fraction",
    "knots_near_samples",
    "linear_interpolant",
    "min_norm_coefficients",
    "min_norm_interpolant",
    "natural_cubic_spline",
    "sample_grid",
    "spline_coordinate",
    "step_size",
    "train_univariate",
]
