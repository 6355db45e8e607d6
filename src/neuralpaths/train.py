"""One explicit training loop: per-epoch metrics, best-epoch tracking, atomic checkpoints, exact resume.

``fit(model, data, cfg)`` trains on ``data.x_train`` in mini-batches drawn by a seeded permutation
each epoch (a ``torch.Generator`` seeded with ``cfg.seed``; no DataLoader: the data are in-memory
tensors, moved once to the model's device and dtype). Only parameters with ``requires_grad`` are
optimised, so frozen gating networks stay as they are.

After every epoch (every ``eval_every``-th, and the last) it evaluates train / validation / test loss
and accuracy in eval mode: *train metrics come from a full evaluation pass over a fixed subset of at
most* ``cfg.train_eval_size`` *training points* (all of them when the set is smaller; the subset is
drawn once from ``cfg.seed``), and ``running_loss`` is the mean mini-batch loss over the epoch while
the weights changed. It tracks the best validation epoch (highest accuracy, ties to the lower loss)
and, for comparison with papers that reported it, the best test epoch.

With ``checkpoint=path`` a checkpoint (:mod:`neuralpaths.checkpoint`) is written atomically after
every epoch: model and optimiser state, the data-order generator and torch RNG states, the history,
and the best-validation weights.
Calling ``fit`` again with the same path resumes and reaches bitwise the same weights and metrics as
an uninterrupted run on CPU.

Losses: ``"ce"`` is cross-entropy on logits with int64 labels; ``"mse"`` is the mean over examples
and outputs of ``(ŷ - t)²`` (Keras' convention) with ``t`` the one-hot labels for int64 labels or the
float targets as given (e.g. ±1 with a scalar output, where accuracy is sign agreement).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .checkpoint import best_state, resume_checkpoint, save_checkpoint  # noqa: F401 (best_state re-exported)
from .data.splits import Splits
from .errors import ConfigError
from .history import History, update_best
from .losses import LOSSES, device_dtype, evaluate, loss_value, n_correct  # noqa: F401 (n_correct re-exported)
from .progress import progress_bar

OPTIMIZERS = ("sgd", "adam", "rmsprop", "path-sgd")


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``seed`` drives the data order and the training-metric subset."""

    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"  # "sgd" | "adam" | "rmsprop" | "path-sgd" (neuralpaths.optim.PathSGD)
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    loss: str = "ce"  # "ce" | "mse"
    seed: int = 0
    eval_batch_size: int = 2048
    progress: bool = True
    train_eval_size: int = 10_000  # training points evaluated each epoch for train_loss / train_acc
    device: str = "cpu"  # where experiments.common.train puts the model; fit uses the model's device

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; use one of {', '.join(OPTIMIZERS)}")
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r}; use one of {', '.join(LOSSES)}")
        for name in ("epochs", "batch_size", "eval_batch_size", "train_eval_size", "seed"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (name != "seed"):
                kind = "non-negative" if name == "seed" else "positive"
                raise ConfigError(f"{name} must be a {kind} integer, got {v!r}")
        for name in ("lr", "momentum", "weight_decay"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (name == "lr" and v == 0):
                raise ConfigError(
                    f"{name} must be a finite {'positive' if name == 'lr' else 'non-negative'} "
                    f"number, got {v!r}"
                )
        if self.momentum and self.optimizer == "adam":
            raise ConfigError("momentum applies to sgd and rmsprop; Adam has its own betas (set momentum=0)")


def make_optimizer(
    params: list[nn.Parameter], cfg: TrainConfig, model: nn.Module | None = None
) -> torch.optim.Optimizer:
    """The optimiser ``cfg`` names, over ``params`` (``"path-sgd"`` also needs the ``model``)."""
    if cfg.optimizer == "path-sgd":
        from .optim import PathSGD  # the path view imports the models, which import this module

        if model is None:
            raise ValueError("make_optimizer: path-sgd needs the model (its paths give the scaling)")
        return PathSGD(model, cfg.lr, cfg.momentum, cfg.weight_decay, params=params)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def fit(
    model: nn.Module,
    data: Splits,
    cfg: TrainConfig,
    *,
    checkpoint: str | Path | None = None,
    log: Callable[[dict], None] | None = None,
    desc: str = "",
    keep_best: bool = True,
    stop_after: int | None = None,
    eval_every: int = 1,
    on_start: Callable[[int], None] | None = None,
) -> History:
    """Train ``model`` on ``data`` as ``cfg`` says; see the module docstring.

    Args:
        checkpoint: file to write after every epoch and to resume from if it exists (if it holds a
            finished run, the model gets its final weights and ``fit`` returns at once).
        log: called with each evaluated epoch's record.
        desc: label of the progress bar.
        keep_best: keep a copy of the best-validation weights (``History.best_state``, and in the
            checkpoint for :func:`best_state`).
        stop_after: stop after this epoch (an interruption, for tests and staged runs).
        eval_every: evaluate every this many epochs (and always after the last).
        on_start: called with the epoch training continues from (0 for a fresh start, the checkpoint's
            epoch on resume) before any epoch runs, e.g. to cut a log back to the checkpoint.

    Returns:
        The :class:`History` (records of evaluated epochs, best epochs, best weights).
    """
    if not isinstance(data, Splits):
        raise TypeError(f"fit needs a neuralpaths.data.Splits, got {type(data).__name__}")
    if not isinstance(eval_every, int) or eval_every < 1:
        raise ConfigError(f"eval_every must be a positive integer, got {eval_every!r}")
    device, dtype = device_dtype(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (all have requires_grad=False)")
    opt = make_optimizer(params, cfg, model)
    order = torch.Generator().manual_seed(cfg.seed)  # data order; its state is checkpointed
    history, start, rng_state, cuda_state = History(), 0, None, None
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        ck = resume_checkpoint(path, model, opt, cfg)
        order.set_state(ck["data_rng"])
        history, start = History.from_dict(ck["history"]), int(ck["epoch"])
        history.best_state, rng_state, cuda_state = ck["best_state"], ck["torch_rng"], ck["cuda_rng"]
    if on_start is not None:
        on_start(start)
    last = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
    if start >= last:
        return history

    def prepare(x: Tensor) -> Tensor:
        return x.to(device, dtype if x.is_floating_point() else None)

    x_train, y_train = prepare(data.x_train), prepare(data.y_train)
    n = len(y_train)
    sub = np.random.default_rng((cfg.seed, 1)).permutation(n)[: cfg.train_eval_size]
    sub = torch.from_numpy(np.sort(sub)).to(device)
    parts = {
        "train": (x_train[sub], y_train[sub]),
        "val": (prepare(data.x_val), prepare(data.y_val)),
        "test": (prepare(data.x_test), prepare(data.y_test)),
    }
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):  # the caller's RNG state is left alone
        if rng_state is None:
            torch.manual_seed(cfg.seed)
        else:
            torch.set_rng_state(rng_state)
            if cuda and cuda_state is not None:
                torch.cuda.set_rng_state(cuda_state, device)
        bar = progress_bar(
            total=cfg.epochs, initial=start, desc=desc or "fit", unit="ep", enabled=cfg.progress
        )
        with bar:
            for epoch in range(start + 1, last + 1):
                t0 = time.perf_counter()
                running_loss = _train_epoch(model, opt, x_train, y_train, cfg, order, epoch)
                if epoch % eval_every == 0 or epoch == cfg.epochs:
                    record: dict[str, Any] = {"epoch": epoch}
                    for part, (x, y) in parts.items():
                        lo, acc = evaluate(model, x, y, cfg.loss, cfg.eval_batch_size)
                        record[f"{part}_loss"] = None if math.isnan(lo) else lo
                        record[f"{part}_acc"] = None if math.isnan(acc) else acc
                    record["running_loss"] = running_loss
                    record["seconds"] = time.perf_counter() - t0
                    update_best(history, record, model if keep_best else None)
                    if log is not None:
                        log(dict(record))
                    bar.set_postfix(
                        loss=f"{running_loss:.4f}", val=record["val_acc"], test=record["test_acc"]
                    )
                if path is not None:
                    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "history": history}
                    rngs = {"data_rng": order.get_state(), "torch_rng": torch.get_rng_state()}
                    rngs["cuda_rng"] = torch.cuda.get_rng_state(device) if cuda else None
                    save_checkpoint(path, epoch, cfg, state, rngs)
                bar.update(1)
    return history


def _train_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    cfg: TrainConfig,
    order: torch.Generator,
    epoch: int,
) -> float:
    """One pass over ``(x, y)`` in a random order drawn from ``order``; the mean mini-batch loss."""
    model.train()
    perm = torch.randperm(len(y), generator=order).to(x.device)
    running = torch.zeros((), dtype=torch.float64, device=x.device)
    batches = range(0, len(y), cfg.batch_size)
    for i in progress_bar(
        batches, desc=f"epoch {epoch}", unit="batch", enabled=cfg.progress, mininterval=0.5
    ):
        idx = perm[i : i + cfg.batch_size]
        loss = loss_value(model(x[idx]), y[idx], cfg.loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running += loss.detach() * len(idx)
    mean = running.item() / len(y)
    if not math.isfinite(mean):
        raise FloatingPointError(f"training diverged in epoch {epoch} (loss {mean}): lower the learning rate")
    return mean
