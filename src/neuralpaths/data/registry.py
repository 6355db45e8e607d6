"""Data sets by name: ``load_dataset("mnist", flatten=True)``."""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import ConfigError
from .cifar import load_cifar10
from .digits import DEFAULT_VAL_SIZE as DIGITS_VAL_SIZE
from .digits import load_digits
from .idx import load_fashion_mnist
from .mnist import load_mnist
from .splits import Splits

# name -> (loader, default validation size)
DATASETS: dict[str, tuple[Callable[..., Splits], int]] = {
    "mnist": (load_mnist, 5000),
    "fashion-mnist": (load_fashion_mnist, 5000),
    "cifar10": (load_cifar10, 5000),
    "digits": (load_digits, DIGITS_VAL_SIZE),
}
ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar": "cifar10",
}


def canonical_name(name: str) -> str:
    """The registered name for ``name`` (case-insensitive, a few aliases), or a ``ConfigError``."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise ConfigError(f"unknown data set {name!r}; available: {', '.join(DATASETS)}")
    return key


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    val_size: int | None = None,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    flatten: bool = False,
    classes: tuple[int, ...] | None = None,
) -> Splits:
    """Load a data set into in-memory tensors.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"`` or ``"digits"``.
        data_dir: where the files are, for data sets that need a folder (CIFAR-10) or to override the
            installed copy (MNIST, Fashion-MNIST).
        val_size: validation examples carved from the training set by a seeded permutation
            (``None``: 5000, or 300 for digits; ``0``: no validation set).
        seed: seeds the validation split and the subsets.
        n_train, n_test: seeded class-balanced subsets of the training set (after the validation split)
            and of the test set.
        flatten: images ``(n, C, H, W)`` become ``(n, C*H*W)``.
        classes: keep only these labels, relabelled ``0..k-1`` in the given order.

    Shape:
        ``x: (n, C, H, W)`` float32 in [0, 1] (or ``(n, C*H*W)``), ``y: (n,)`` int64.
    """
    loader, default_val = DATASETS[canonical_name(name)]
    return loader(
        data_dir=data_dir, val_size=default_val if val_size is None else val_size, seed=seed,
        n_train=n_train, n_test=n_test, flatten=flatten, classes=classes,
    )  # fmt: skip
