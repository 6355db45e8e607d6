"""Checkpoints of :func:`neuralpaths.train.fit`: written atomically after every epoch (weights,
optimiser, RNG states, history, best weights; tensors and plain values only, so they load with
``weights_only=True``) and checked when read back (format, keys, the training config that must not
change, that the weights fit the model).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from .errors import ConfigError, UserError
from .history import History
from .io import atomic_torch_save, load_checkpoint

if TYPE_CHECKING:
    from .train import TrainConfig

CHECKPOINT_FORMAT = "neuralpaths.fit/1"
# TrainConfig fields that may differ when resuming (everything else must match the checkpoint).
RESUMABLE_CHANGES = ("epochs", "progress", "eval_batch_size", "device")


def resume_checkpoint(
    path: Path, model: nn.Module, opt: torch.optim.Optimizer, cfg: TrainConfig
) -> dict[str, Any]:
    try:
        ck = load_checkpoint(path)
    except UserError:  # no or a different recorded digest: the message says what to do
        raise
    except Exception as e:  # torch raises several types for a damaged or foreign file
        raise ConfigError(
            f"cannot read checkpoint {path} ({type(e).__name__}); remove it to start over"
        ) from e
    keys = (
        "config",
        "model",
        "optimizer",
        "history",
        "epoch",
        "data_rng",
        "torch_rng",
        "cuda_rng",
        "best_state",
    )
    if (
        not isinstance(ck, dict)
        or ck.get("format") != CHECKPOINT_FORMAT
        or not all(k in ck for k in keys)
        or not isinstance(ck["config"], dict)
    ):
        raise ConfigError(f"{path} is not a neuralpaths training checkpoint; remove it or pass another path")
    now = dataclasses.asdict(cfg)
    changed = [k for k in now if k not in RESUMABLE_CHANGES and ck["config"].get(k) != now[k]]
    if changed:
        diffs = ", ".join(f"{k}: {ck['config'].get(k)!r} -> {now[k]!r}" for k in changed)
        raise ConfigError(f"cannot resume {path} with a different training config ({diffs})")
    try:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        History.from_dict(ck["history"])
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"checkpoint {path} does not fit this model: {str(e)[:200]}") from None
    return ck


def save_checkpoint(path: Path, epoch: int, cfg: TrainConfig, state: dict, rngs: dict) -> None:
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


def best_state(checkpoint: str | Path) -> dict[str, Tensor]:
    """The best-validation weights stored in a :func:`~neuralpaths.train.fit` checkpoint (give them to
    ``model.load_state_dict``)."""
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = load_checkpoint(path).get("best_state")
    if state is None:
        raise ValueError(
            f"{path} holds no best-validation weights (fit with keep_best=True and a validation set)"
        )
    return state
