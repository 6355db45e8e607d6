"""The kernel-regime limit: the least-``‖c‖`` interpolant with the knots frozen.

Gradient descent on the output layer alone, from ``f ≡ 0``, stays in the row space of the features
and ends at the minimum-norm solution; with uniformly spread knots and an unpenalised linear term
that is (as the width grows) the natural cubic spline.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from ..models.univariate import Univariate, univariate_preactivations


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
