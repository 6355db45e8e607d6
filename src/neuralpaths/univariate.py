"""Shallow univariate ReLU nets (Williams et al., NeurIPS 2019): splines, curvature, knots, training.

A net ``f(x) = M Σ_i c_i relu(a_i x + b_i)`` (:class:`~neuralpaths.models.Univariate`) is piecewise
linear with knots ``e_i = -b_i/a_i`` and delta-slopes ``mu_i = M c_i |a_i|``. Trained on a few samples
it interpolates them; which interpolant it reaches depends on the regime:

- **kernel** (knots frozen, only ``c`` moves): gradient descent from ``f ≡ 0`` ends at the
  minimum-``‖c‖`` interpolant (:func:`min_norm_interpolant`). Since ``c_i² = mu_i² / w_i`` with the
  unit's weight ``w_i = M² a_i²``, ``‖c‖² = Σ_i mu_i² / w_i`` (:func:`knot_curvature`), whose continuum
  limit is the curvature functional ``∫ f''(x)² / rho(x) dx`` (:func:`curvature`) with ``rho`` the
  knot density weighted by ``w`` (:meth:`Univariate.knot_density`). For a uniform ``rho`` its
  minimiser is the natural cubic spline (with an unpenalised linear term ``alpha x + beta``; without
  it the linear part is paid for by knots at the edges of ``rho``'s support).
- **adaptive**: knots move to the samples and ``f`` approaches the linear interpolant.

Gradient descent (:func:`train_univariate`) uses hand-written gradients (checked against autograd
in the tests) and a step size from a bound on the loss Hessian built on the closed-form NTK
(:func:`hessian_bound`). Arrays returned are numpy float64.
"""

from __future__ import annotations

import copy
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from scipy.interpolate import CubicSpline, PPoly
from torch import Tensor

from .models.univariate import Univariate, univariate_preactivations
from .progress import progress_bar


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


# ---------------------------------------------------------------- knot statistics


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


# ---------------------------------------------------------------- the kernel-regime limit


def min_norm_coefficients(features, x, y, *, linear: str = "none") -> tuple[Tensor, Tensor, Tensor]:
    """Least-``‖c‖`` solution of ``features @ c (+ alpha x + beta) = y``.

    ``linear``: ``"none"`` (no linear term), ``"free"`` (``alpha, beta`` unpenalised) or
    ``"penalised"`` (minimise ``‖c‖² + alpha² + beta²``, which is where gradient descent on ``c,
    alpha, beta`` from zero ends). Solved in float64 with least squares on the ``n x n`` kernel.

    Shape:
        ``features: (n, m), x, y: (n,) -> c: (m,), alpha: (), beta: ()``.
    """
    phi, x, y = (torch.as_tensor(t).double() for t in (features, x, y))
    p = torch.stack([x, torch.ones_like(x)], 1)  # (n, 2): the linear term's features
    n = len(y)
    zero = torch.zeros((), dtype=torch.float64)
    if linear == "penalised":
        w = torch.linalg.lstsq(phi @ phi.T + p @ p.T, y[:, None], driver="gelsd").solution[:, 0]
        ab = p.T @ w
        return phi.T @ w, ab[0], ab[1]
    if linear == "none":
        w = torch.linalg.lstsq(phi @ phi.T, y[:, None], driver="gelsd").solution[:, 0]
        return phi.T @ w, zero, zero
    if linear != "free":
        raise ValueError(f"linear must be 'none', 'free' or 'penalised', got {linear!r}")
    # saddle point: [[K, P], [P^T, 0]] [w; ab] = [y; 0], c = Phi^T w  (min ‖c‖ s.t. Phi c + P ab = y)
    kkt = torch.zeros(n + 2, n + 2, dtype=torch.float64)
    kkt[:n, :n], kkt[:n, n:], kkt[n:, :n] = phi @ phi.T, p, p.T
    rhs = torch.cat([y, torch.zeros(2, dtype=torch.float64)])
    sol = torch.linalg.lstsq(kkt, rhs[:, None], driver="gelsd").solution[:, 0]
    return phi.T @ sol[:n], sol[n], sol[n + 1]


@torch.no_grad()
def min_norm_interpolant(model: Univariate, x, y, *, penalise_linear: bool = False) -> Univariate:
    """A copy of ``model`` with the knots kept and the output layer replaced by the least-``‖c‖``
    interpolant of ``(x, y)`` (see :func:`min_norm_coefficients`).

    A model with a linear term gets it unpenalised (``penalise_linear=False``, the curvature
    minimiser) or penalised like ``c`` (the limit of gradient descent on the output layer). This is
    the function gradient descent on the output layer reaches from ``f ≡ 0`` (``c = 0``, or the
    symmetric initialisation), i.e. the kernel-regime limit with these knots.
    """
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    linear = ("penalised" if penalise_linear else "free") if model.linear else "none"
    c, alpha, beta = min_norm_coefficients(_features64(model, x), x, y, linear=linear)
    out = copy.deepcopy(model)
    out.c.copy_(c)
    if model.linear:
        out.alpha.copy_(alpha)
        out.beta.copy_(beta)
    return out


def _features64(model: Univariate, x: Tensor) -> Tensor:
    a, b = model.a.detach().double(), model.b.detach().double()
    return model.multiplier * torch.relu(univariate_preactivations(x, a, b))


# ---------------------------------------------------------------- gradient descent


@dataclass
class FitResult:
    """What :func:`train_univariate` records.

    ``loss_steps, losses``: the loss ``(1/2n) Σ (f(x_j) - y_j)²`` at log-spaced steps and the last.
    ``checkpoint_steps, knots, delta_slopes``: the knots and delta-slopes, ``(checkpoints, width)``,
    at step 0, at log-spaced steps and at the last step. ``flow_time``: ``Σ lr`` over the steps (the
    time of the gradient flow the steps follow). ``lr``: the first step size.
    """

    steps: int
    converged: bool
    final_loss: float
    flow_time: float
    lr: float
    seconds: float
    loss_steps: np.ndarray = field(repr=False)
    losses: np.ndarray = field(repr=False)
    checkpoint_steps: np.ndarray = field(repr=False)
    knots: np.ndarray = field(repr=False)
    delta_slopes: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        """JSON-able (lists and floats)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}


def _grads(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, multiplier: float, train: str):
    """Loss ``(1/2n) Σ r²`` and its gradients, by hand on numpy arrays (about twice as fast as
    torch for these tiny arrays; the tests compare them with autograd).

    Shape:
        ``p["a"], p["b"], p["c"]: (m,), p["alpha"], p["beta"]: (), x, y: (n,)``.
    """
    a, b, c = p["a"], p["b"], p["c"]
    q = np.multiply.outer(x, a) + b  # (n, m) pre-activations
    h = np.maximum(q, 0.0)
    r = multiplier * (h @ c) - y
    if "alpha" in p:
        r += p["alpha"] * x + p["beta"]
    g = r / len(y)
    grads = {"c": multiplier * (h.T @ g)}
    if train == "all":  # dL/da_i = M c_i Σ_j g_j 1{q_ji > 0} x_j, dL/db_i likewise without x_j
        gx = (q > 0).T.astype(q.dtype) @ np.stack([g * x, g], 1)  # (m, n) @ (n, 2) -> (m, 2)
        grads["a"], grads["b"] = multiplier * c * gx[:, 0], multiplier * c * gx[:, 1]
    if "alpha" in p:
        grads["alpha"], grads["beta"] = np.dot(g, x), g.sum()
    return 0.5 * float(r @ r) / len(y), grads


def hessian_bound(model: Univariate, x, y, *, train: str = "all") -> float:
    """An upper bound on the top eigenvalue of the Hessian of ``L = (1/2n) Σ_j r_j²``, ``r = f - y``.

    ``H = (Jᵀ J + Σ_j r_j ∇²f(x_j)) / n``. The first term's top eigenvalue is ``λ_max(K) / n`` with
    ``K`` the closed-form NTK on the inputs. Away from the kinks ``∇²f`` only couples ``c_i`` with
    ``(a_i, b_i)`` of the same unit (``∂²f/∂c_i∂a_i = M x 1{a_i x + b_i > 0}``), so the second term is
    block diagonal with norm ``max_i M ‖(Σ_j r_j x_j g_ji, Σ_j r_j g_ji)‖ / n`` exactly
    (``g = 1{ax + b > 0}``; zero when only the output layer trains). The bound is their sum (Weyl).
    """
    x = model.flat_input(torch.as_tensor(x, dtype=model.a.dtype))
    y = torch.as_tensor(y, dtype=model.a.dtype)
    with torch.no_grad():
        bound = float(torch.linalg.eigvalsh(model.ntk(x, train=train).double())[-1]) / len(x)
        if train == "all":
            r = model(x) - y
            gates = model.gates(x)[0]  # (n, m)
            rg = gates.T @ torch.stack([r * x, r], 1)  # (m, n) @ (n, 2) -> (m, 2)
            bound += model.multiplier * float(rg.norm(dim=1).max()) / len(x)
    return bound


def step_size(model: Univariate, x, y, *, train: str = "all", factor: float = 1.0) -> float:
    """``factor / hessian_bound``: gradient descent is locally stable for ``factor < 2``."""
    bound = hessian_bound(model, x, y, train=train)
    if not bound > 0:
        raise FloatingPointError("the loss is flat (every unit is off on every sample): no step size")
    return factor / bound


@contextmanager
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def train_univariate(
    model: Univariate,
    x,
    y,
    *,
    steps: int = 100_000,
    tol: float = 1e-8,
    lr: float | None = None,
    lr_factor: float = 1.0,
    lr_every: int = 10,
    train: str = "all",
    checkpoints: int = 20,
    progress: bool | None = None,
) -> FitResult:
    """Full-batch gradient descent on ``(1/2n) Σ (f(x_j) - y_j)²`` until the loss is below ``tol``
    or after ``steps`` steps; ``model`` is trained in place.

    ``train="all"`` trains every parameter; ``"output"`` trains ``c`` (and the linear term) with the
    knots frozen. ``lr=None`` sets the step size to :func:`step_size` (``lr_factor`` over a bound on
    the loss Hessian's top eigenvalue from the closed-form NTK; half the stability limit for
    ``lr_factor=1``) and re-sets it every ``lr_every`` steps, so runs at very different scales
    advance at a comparable pace and stay stable while the weights grow: the iterates follow the
    gradient flow with a variable time step (the flow's path does not depend on how time is
    parameterised). A fixed ``lr`` is plain gradient descent.
    Deterministic. Runs on one CPU thread (restored afterwards): the tensors are tiny, and a thread
    pool only adds overhead (it stalls badly on a busy machine).
    """
    if train not in ("all", "output"):
        raise ValueError(f"train must be 'all' or 'output', got {train!r}")
    if model.a.device.type != "cpu":
        raise ValueError("train_univariate runs on the CPU: call model.cpu() first")
    # numpy views of the parameters: updating them in place updates the model
    params = {
        k: getattr(model, k).detach().numpy()
        for k in ("a", "b", "c", "alpha", "beta")
        if getattr(model, k) is not None
    }
    x = _np(model.flat_input(torch.as_tensor(x))).astype(params["a"].dtype)
    y = _np(y).astype(params["a"].dtype)
    log_at = set(np.geomspace(1, max(steps, 1), 200).astype(int).tolist())
    ckpt_at = set(np.geomspace(1, max(steps, 1), max(checkpoints, 1)).astype(int).tolist())
    rec: dict[str, list] = {"loss_steps": [], "losses": [], "ckpt": [], "knots": [], "slopes": []}

    def record(step: int, loss: float, last: bool = False) -> None:  # at log-spaced steps, 0 and last
        if step in log_at or not rec["losses"] or (last and rec["loss_steps"][-1] != step):
            rec["loss_steps"].append(step)
            rec["losses"].append(loss)
        if step in ckpt_at or not rec["ckpt"] or (last and rec["ckpt"][-1] != step):
            rec["ckpt"].append(step)
            rec["knots"].append(_np(model.knots()))
            rec["slopes"].append(_np(model.delta_slopes()))

    t0, step, flow_time = time.perf_counter(), 0, 0.0
    eta = lr if lr is not None else step_size(model, x, y, train=train, factor=lr_factor)
    first_lr = eta
    bar = progress_bar(total=steps, desc="gradient descent", enabled=progress)
    with _one_thread(), bar, np.errstate(over="ignore", invalid="ignore"):  # divergence is raised below
        loss, grads = _grads(params, x, y, model.multiplier, train)
        record(0, loss)
        while loss >= tol and step < steps:
            for k, g in grads.items():
                params[k] -= eta * g  # in place: the model's parameters change
            flow_time += eta
            step += 1
            loss, grads = _grads(params, x, y, model.multiplier, train)
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"gradient descent diverged at step {step} (lr={eta:.3g}): lower lr or lr_factor"
                )
            record(step, loss)
            if lr is None and step % lr_every == 0:
                eta = step_size(model, x, y, train=train, factor=lr_factor)
            if step % 1000 == 0:
                bar.update(1000)
                bar.set_postfix(loss=f"{loss:.2e}")
        record(step, loss, last=True)
    return FitResult(
        steps=step,
        converged=loss < tol,
        final_loss=loss,
        flow_time=flow_time,
        lr=first_lr,
        seconds=time.perf_counter() - t0,
        loss_steps=np.asarray(rec["loss_steps"]),
        losses=np.asarray(rec["losses"]),
        checkpoint_steps=np.asarray(rec["ckpt"]),
        knots=np.stack(rec["knots"]),
        delta_slopes=np.stack(rec["slopes"]),
    )
