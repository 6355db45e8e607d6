"""Losses and accuracy of a model's outputs, and a batched evaluation pass.

Losses: ``"ce"`` is cross-entropy on logits with int64 labels; ``"mse"`` is the mean over examples
and outputs of ``(ŷ - t)²`` (Keras' convention) with ``t`` the one-hot labels for int64 labels or the
float targets as given (e.g. ±1 with a scalar output, where accuracy is sign agreement).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import positive_int
from .errors import ConfigError

LOSSES = ("ce", "mse")


def _scalar_target(out: Tensor, y: Tensor) -> bool:
    return y.is_floating_point() and y.ndim == 1 and out.shape[1] == 1


def loss_value(out: Tensor, y: Tensor, loss: str) -> Tensor:
    """Mean loss of outputs ``out: (n, k)`` against labels ``y: (n,)`` int64 or float targets."""
    if loss == "ce":
        if y.is_floating_point():
            raise TypeError("loss='ce' needs int64 class labels; for float targets (e.g. ±1) use loss='mse'")
        return F.cross_entropy(out, y)
    if loss != "mse":
        raise ConfigError(f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}")
    if not y.is_floating_point():
        return F.mse_loss(out, F.one_hot(y, out.shape[1]).to(out.dtype))
    if _scalar_target(out, y):
        return F.mse_loss(out[:, 0], y.to(out.dtype))
    return F.mse_loss(out, y.to(out.dtype))


def n_correct(out: Tensor, y: Tensor) -> Tensor:
    """Correct predictions: argmax for labels / one-hot targets, sign agreement for a scalar output."""
    if _scalar_target(out, y):
        return ((out[:, 0] > 0) == (y > 0)).sum()
    target = y.argmax(1) if y.is_floating_point() else y
    return (out.argmax(1) == target).sum()


def device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    p = next(iter(model.parameters()), None)
    return (p.device, p.dtype) if p is not None else (torch.device("cpu"), torch.get_default_dtype())


@torch.no_grad()
def evaluate(
    model: nn.Module, x: Tensor, y: Tensor, loss: str = "ce", batch_size: int = 2048
) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of ``model`` on ``(x, y)`` in eval mode; ``(nan, nan)`` if empty.

    Shape:
        ``x: (n, *in_shape)``, ``y: (n,)`` labels or targets.
    """
    batch_size = positive_int("batch_size", batch_size)
    if len(y) == 0:
        return math.nan, math.nan
    device, dtype = device_dtype(model)
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    try:
        for i in range(0, len(y), batch_size):
            xb = x[i : i + batch_size].to(device, dtype)
            yb = y[i : i + batch_size].to(device)
            out = model(xb)
            total += loss_value(out, yb, loss).item() * len(yb)
            correct += int(n_correct(out, yb))
    finally:
        model.train(was_training)
    return total / len(y), correct / len(y)
