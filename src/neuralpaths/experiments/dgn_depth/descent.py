"""dgn-depth: full-batch gradient descent on the squared loss until the loss falls below a threshold.

The loss is ``½ Σ_i (f(x_i) − f_0(x_i) − y_i)²`` with ``centre`` (the network's initial outputs
``f_0`` subtracted, so that every run starts from the residual ``−y``: depths and widths then solve
the same problem from the same point) or ``½ Σ_i (f(x_i) − y_i)²`` without; the learning rate is
fixed. Only parameters with ``requires_grad`` train (the value network of a DGN with a frozen
gating network).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

DIVERGED = 1e3  # loss above this multiple of the initial loss counts as divergence


def checkpoints(max_steps: int) -> list[int]:
    """Steps at which the loss curve is recorded: 0, 1, 2, 5, 10, 20, 50, ... up to ``max_steps``."""
    out, decade = [0], 1
    while decade <= max_steps:
        out += [s for s in (decade, 2 * decade, 5 * decade) if s <= max_steps]
        decade *= 10
    return sorted(set(out) | {max_steps})


def descend(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    lr: float,
    threshold: float,
    max_steps: int,
    centre: bool = True,
) -> dict:
    """Gradient descent with learning rate ``lr`` until ``loss ≤ threshold · loss_0`` or ``max_steps``.

    Returns ``steps_to_threshold`` (``None`` if not reached), ``diverged`` (loss above
    :data:`DIVERGED` times its initial value or not finite), ``final_loss_ratio`` (last loss over the
    first) and ``loss_curve``: ``[[step, loss / loss_0], ...]`` at :func:`checkpoints` reached.

    Shape:
        ``x: (n, d_in), y: (n,)``; ``model(x): (n, 1)``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("descend: the model has no trainable parameters")
    with torch.no_grad():
        offset = model(x)[:, 0].clone() if centre else torch.zeros_like(y)
    opt = torch.optim.SGD(params, lr=lr)
    marks, curve = set(checkpoints(max_steps)), []
    first, steps, diverged, ratio = None, None, False, 1.0
    for step in range(max_steps + 1):
        loss = 0.5 * ((model(x)[:, 0] - offset - y) ** 2).sum()
        value = float(loss.detach())
        first = value if first is None else first
        ratio = value / first
        if step in marks:
            curve.append([step, ratio])
        if not math.isfinite(value) or ratio > DIVERGED:
            diverged = True
            break
        if ratio <= threshold:
            steps = step
            break
        if step == max_steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if curve[-1][0] != step:
        curve.append([step, ratio])
    return {
        "steps_to_threshold": steps,
        "diverged": diverged,
        "final_loss_ratio": ratio if math.isfinite(ratio) else None,
        "loss_curve": [[s, r if math.isfinite(r) else None] for s, r in curve],
    }
