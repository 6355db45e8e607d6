"""Full-batch gradient descent for shallow univariate ReLU nets, with a step size from a bound on
the loss Hessian built on the closed-form NTK, recording knots and delta-slopes at checkpoints."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..checks import positive_int, real
from ..environment import num_threads
from ..models.univariate import Univariate
from ..progress import progress_bar
from .splines import _np


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
    steps, lr_every = positive_int("steps", steps, minimum=0), positive_int("lr_every", lr_every)
    checkpoints = positive_int("checkpoints", checkpoints)
    tol, lr_factor = real("tol", tol, low=0.0), real("lr_factor", lr_factor, low=0.0, strict=True)
    if lr is not None:
        lr = real("lr", lr, low=0.0, strict=True)
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
    if y.shape != x.shape:
        raise ValueError(f"y must hold one target per sample, shape {x.shape}, got {y.shape}")
    for name, a in (("x", x), ("y", y)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or infinity: clean the data first")
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
    with num_threads(1), bar, np.errstate(over="ignore", invalid="ignore"):  # divergence is raised below
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
