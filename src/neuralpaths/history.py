"""The record of a training run: per-epoch metrics and the best epochs (and best weights).

Shape:
    ``History.epochs``: one dict per evaluated epoch (``epoch``, losses, accuracies, seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn


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


def state_copy(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def update_best(history: History, record: dict, model: nn.Module | None) -> None:
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
            history.best_state = state_copy(model)
    best_test = history.at(history.best_test_epoch)
    if record["test_acc"] is not None and (best_test is None or record["test_acc"] > best_test["test_acc"]):
        history.best_test_epoch = record["epoch"]
