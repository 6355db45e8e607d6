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

With ``checkpoint=path`` a checkpoint is written atomically after every epoch: model and optimiser
state, the data-order generator and torch RNG states, the history, and the best-validation weights.
Calling ``fit`` again with the same path resumes and reaches bitwise the same weights and metrics as
an uninterrupted run on CPU.

Losses: ``"ce"`` is cross-entropy on logits with int64 labels; ``"mse"`` is the mean over examples
and outputs of ``(ŷ - t)²`` (Keras' convention) with ``t`` the one-hot labels for int64 labels or the
float targets as given (e.g. ±1 with a scalar output, where accuracy is sign agreement).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .data.splits import Splits
from .errors import ConfigError
from .io import atomic_torch_save, load_checkpoint
from .losses import LOSSES, device_dtype, evaluate, loss_value, n_correct  # noqa: F401 (n_correct re-exported)
from .progress import progress_bar

OPTIMIZERS = ("sgd", "adam", "rmsprop")
CHECKPOINT_FORMAT = "neuralpaths.fit/1"
# TrainConfig fields that may differ when resuming (everything else must match the checkpoint).
RESUMABLE_CHANGES = ("epochs", "progress", "eval_batch_size")


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``seed`` drives the data order and the training-metric subset."""

    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"  # "sgd" | "adam" | "rmsprop"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    loss: str = "ce"  # "ce" | "mse"
    seed: int = 0
    eval_batch_size: int = 2048
    progress: bool = True
    train_eval_size: int = 10_000  # training points evaluated each epoch for train_loss / train_acc

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


@dataclass
class History:
    """Per-epoch records and the best epochs (1-based epoch numbers)."""

    epochs: list[dict] = field(default_factory=list)
    best_val_epoch: int | None = None
    best_test_epoch: int | None = None
    best_state: dict[str, Tensor] | None = field(default=None, repr=False, compare=False)

    def at(self, epoch: int | None) -> dict | None:
        """The record of ``epoch`` (None if it was not evaluated)."""
        return next((r for r in self.epochs if r["epoch"] == epoch), None)

    @property
    def final(self) -> dict | None:
        return self.epochs[-1] if self.epochs else None

    @property
    def test_acc_at_best_val(self) -> float | None:
        r = self.at(self.best_val_epoch)
        return None if r is None else r["test_acc"]

    @property
    def best_val_acc(self) -> float | None:
        r = self.at(self.best_val_epoch)
        return None if r is None else r["val_acc"]

    @property
    def best_test_acc(self) -> float | None:
        r = self.at(self.best_test_epoch)
        return None if r is None else r["test_acc"]

    def to_dict(self) -> dict:
        """JSON-able summary: the records, the best epochs and their accuracies."""
        return {
            "epochs": [dict(r) for r in self.epochs],
            "best_val_epoch": self.best_val_epoch,
            "best_test_epoch": self.best_test_epoch,
            "test_acc_at_best_val": self.test_acc_at_best_val,
            "best_val_acc": self.best_val_acc,
            "best_test_acc": self.best_test_acc,
        }

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls([dict(r) for r in d["epochs"]], d["best_val_epoch"], d["best_test_epoch"])


def make_optimizer(params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser ``cfg`` names, over ``params``."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _state_copy(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _resume(path: Path, model: nn.Module, opt: torch.optim.Optimizer, cfg: TrainConfig) -> dict[str, Any]:
    try:
        ck = load_checkpoint(path)
    except Exception as e:  # torch raises several types for a damaged or foreign file
        raise ConfigError(
            f"cannot read checkpoint {path} ({type(e).__name__}); remove it to start over"
        ) from e
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not a neuralpaths training checkpoint; remove it or pass another path")
    now = dataclasses.asdict(cfg)
    changed = [k for k in now if k not in RESUMABLE_CHANGES and ck["config"].get(k) != now[k]]
    if changed:
        diffs = ", ".join(f"{k}: {ck['config'].get(k)!r} -> {now[k]!r}" for k in changed)
        raise ConfigError(f"cannot resume {path} with a different training config ({diffs})")
    try:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise ConfigError(f"checkpoint {path} does not fit this model: {e}") from None
    return ck


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
    opt = make_optimizer(params, cfg)
    order = torch.Generator().manual_seed(cfg.seed)  # data order; its state is checkpointed
    history, start, rng_state, cuda_state = History(), 0, None, None
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        ck = _resume(path, model, opt, cfg)
        order.set_state(ck["data_rng"])
        history, start = History.from_dict(ck["history"]), int(ck["epoch"])
        history.best_state, rng_state, cuda_state = ck["best_state"], ck["torch_rng"], ck["cuda_rng"]
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
                    _update_best(history, record, model if keep_best else None)
                    if log is not None:
                        log(dict(record))
                    bar.set_postfix(
                        loss=f"{running_loss:.4f}", val=record["val_acc"], test=record["test_acc"]
                    )
                if path is not None:
                    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "history": history}
                    rngs = {"data_rng": order.get_state(), "torch_rng": torch.get_rng_state()}
                    rngs["cuda_rng"] = torch.cuda.get_rng_state(device) if cuda else None
                    _save(path, epoch, cfg, state, rngs)
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


def _save(path: Path, epoch: int, cfg: TrainConfig, state: dict, rngs: dict) -> None:
    """Write the checkpoint atomically; only tensors, containers and plain values (weights_only)."""
    history: History = state["history"]
    atomic_torch_save(
        path,
        {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "config": dataclasses.asdict(cfg),
            "model": state["model"],
            "optimizer": state["optimizer"],
            **rngs,
            "history": history.to_dict(),
            "best_state": history.best_state,
        },
    )


def _update_best(history: History, record: dict, model: nn.Module | None) -> None:
    """Append ``record``; move the best epochs (validation: higher accuracy, ties to lower loss)."""
    history.epochs.append(record)
    best = history.at(history.best_val_epoch)
    if record["val_acc"] is not None and (
        best is None
        or record["val_acc"] > best["val_acc"]
        or (record["val_acc"] == best["val_acc"] and record["val_loss"] < best["val_loss"])
    ):
        history.best_val_epoch = record["epoch"]
        if model is not None:
            history.best_state = _state_copy(model)
    best_test = history.at(history.best_test_epoch)
    if record["test_acc"] is not None and (best_test is None or record["test_acc"] > best_test["test_acc"]):
        history.best_test_epoch = record["epoch"]


def best_state(checkpoint: str | Path) -> dict[str, Tensor]:
    """The best-validation weights stored in a :func:`fit` checkpoint (``model.load_state_dict`` them)."""
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = load_checkpoint(path).get("best_state")
    if state is None:
        raise ValueError(
            f"{path} holds no best-validation weights (fit with keep_best=True and a validation set)"
        )
    return state
