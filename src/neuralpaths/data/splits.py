"""In-memory train / validation / test splits, and the seeded ways to carve and subset them.

Every loader ends in :func:`make_splits`: from a labelled training set and a test set it keeps the
requested classes (relabelled ``0..k-1``), carves a seeded validation set out of the training set,
takes seeded class-balanced subsets (``n_train``, ``n_test``) and optionally flattens the images.
Kept examples stay in their original order, so "the first N examples" keeps its meaning after a split.

Seeds: each random choice draws from its own stream, ``numpy.random.default_rng((seed, stream))``, so
e.g. changing ``n_train`` never changes the validation set.

Shape:
    images ``x: (n, C, H, W)`` float32 in [0, 1] (``flatten=True``: ``(n, C*H*W)``); labels ``y: (n,)``
    int64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError

# Independent random streams of make_splits (see the module docstring).
_VAL_STREAM, _TRAIN_STREAM, _TEST_STREAM = 0, 1, 2


@dataclass
class Splits:
    """A data set held as tensors: train, validation (may have 0 rows) and test.

    Shape:
        ``x_*: (n_*, *in_shape)``; ``y_*: (n_*,)`` int64 labels in ``0..num_classes-1``.
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Splits:
        """A copy on ``device``; ``dtype`` converts the inputs ``x_*`` only (labels stay int64)."""
        moved = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Tensor):
                v = v.to(device=device, dtype=dtype if f.name.startswith("x_") else None)
            moved[f.name] = v
        return Splits(**moved)

    @property
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. ``(1, 28, 28)`` or ``(784,)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def in_dim(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def train(self) -> tuple[Tensor, Tensor]:
        return self.x_train, self.y_train

    @property
    def val(self) -> tuple[Tensor, Tensor]:
        return self.x_val, self.y_val

    @property
    def test(self) -> tuple[Tensor, Tensor]:
        return self.x_test, self.y_test

    def summary(self) -> str:
        """One line: sizes, input shape, dtype, value range and number of classes."""
        x = self.x_train
        rng = f"[{x.min().item():.3g}, {x.max().item():.3g}]" if x.numel() else "[]"
        return (
            f"{self.name}: train {len(self.y_train)}, val {len(self.y_val)}, test {len(self.y_test)}; "
            f"x {self.in_shape} {str(x.dtype).replace('torch.', '')} in {rng}; {self.num_classes} classes"
        )


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng((int(seed), stream))


def balanced_subset(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` examples, as equal across classes as possible, chosen at random; sorted.

    Classes take turns (round robin) in a random order of the examples; a class that runs out leaves
    its turns to the others. Shape: ``y: (N,)`` -> ``(n,)`` indices into ``y``.
    """
    if n > len(y):
        raise ConfigError(f"asked for {n} examples but only {len(y)} are available")
    order = rng.permutation(len(y))
    ys = y[order]
    classes, inverse = np.unique(ys, return_inverse=True)
    rank = np.empty(len(y), dtype=np.int64)  # rank of each example within its class, in random order
    for c in range(len(classes)):
        where = np.flatnonzero(inverse == c)
        rank[where] = np.arange(len(where))
    key = rank * len(classes) + inverse  # round robin: all rank-0 examples first, then rank 1, ...
    chosen = order[np.argsort(key, kind="stable")[:n]]
    return np.sort(chosen)


def select_classes(
    x: np.ndarray | Tensor, y: np.ndarray, classes: Sequence[int], num_classes: int
) -> tuple[np.ndarray | Tensor, np.ndarray]:
    """Keep the examples of ``classes`` (in data order) and relabel them ``0..len(classes)-1``."""
    classes = tuple(int(c) for c in classes)
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad or len(set(classes)) != len(classes) or not classes:
        raise ConfigError(f"classes={classes}: need distinct labels in 0..{num_classes - 1} (at least one)")
    keep = np.flatnonzero(np.isin(y, classes))
    relabel = np.full(num_classes, -1, dtype=np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    return x[keep], relabel[y[keep]]


def make_splits(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    num_classes: int,
    *,
    scale: float = 255.0,
    val_size: int = 5000,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    flatten: bool = False,
    classes: Sequence[int] | None = None,
) -> Splits:
    """Build :class:`Splits` from raw arrays (images ``(N, C, H, W)`` of integers, divided by ``scale``).

    Order of operations: keep ``classes`` -> carve ``val_size`` validation examples (seeded) ->
    ``n_train`` / ``n_test`` seeded class-balanced subsets -> scale to float32 -> flatten.
    """
    y_train, y_test = np.asarray(y_train, dtype=np.int64), np.asarray(y_test, dtype=np.int64)
    for part, y in (("training", y_train), ("test", y_test)):
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(
                f"{name}: {part} labels must lie in 0..{num_classes - 1}, got {y.min()}..{y.max()}"
            )
    if classes is not None:
        x_train, y_train = select_classes(x_train, y_train, classes, num_classes)
        x_test, y_test = select_classes(x_test, y_test, classes, num_classes)
        num_classes = len(tuple(classes))
    for arg, v in (("val_size", val_size), ("n_train", n_train), ("n_test", n_test)):
        if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0):
            raise ConfigError(f"{arg} must be a non-negative integer, got {v!r}")
    if val_size >= len(y_train):
        raise ConfigError(
            f"val_size={val_size} leaves no training examples: {name} has {len(y_train)} "
            f"training examples{' in the chosen classes' if classes is not None else ''}"
        )
    perm = _rng(seed, _VAL_STREAM).permutation(len(y_train))
    val_idx, train_idx = np.sort(perm[:val_size]), np.sort(perm[val_size:])
    if n_train is not None:
        if n_train > len(train_idx):
            raise ConfigError(
                f"n_train={n_train} but only {len(train_idx)} training examples remain after "
                f"val_size={val_size}"
            )
        train_idx = train_idx[balanced_subset(y_train[train_idx], n_train, _rng(seed, _TRAIN_STREAM))]
    test_idx = np.arange(len(y_test))
    if n_test is not None:
        if n_test > len(y_test):
            raise ConfigError(f"n_test={n_test} but {name} has only {len(y_test)} test examples")
        test_idx = balanced_subset(y_test, n_test, _rng(seed, _TEST_STREAM))

    def images(x: np.ndarray, idx: np.ndarray) -> Tensor:
        t = torch.from_numpy(np.ascontiguousarray(x[idx])).to(torch.float32).div_(scale)
        return t.flatten(1) if flatten else t  # (n, C, H, W) -> (n, C*H*W)

    def labels(y: np.ndarray, idx: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(y[idx]))

    return Splits(
        name=name,
        x_train=images(x_train, train_idx),
        y_train=labels(y_train, train_idx),
        x_val=images(x_train, val_idx),
        y_val=labels(y_train, val_idx),
        x_test=images(x_test, test_idx),
        y_test=labels(y_test, test_idx),
        num_classes=int(num_classes),
    )


def binary_subset(
    data: Splits | tuple[Tensor, Tensor],
    classes: tuple[int, int] = (4, 7),
    n_per_class: int = 100,
    labels: str = "pm1",
) -> tuple[Tensor, Tensor]:
    """The first ``n_per_class`` examples of each of two classes, in data order (the NPF notebook's
    binary-MNIST protocol: digits 4 vs 7, 100 each, labels ±1).

    ``data`` is a :class:`Splits` (its training set is used; pass ``val_size=0`` to the loader to
    see the original training order exactly) or an ``(x, y)`` pair. ``labels``: ``"pm1"`` gives float
    ``-1`` for ``classes[0]`` and ``+1`` for ``classes[1]``; ``"01"`` gives int64 ``0`` / ``1``.

    Shape:
        ``-> x: (2 * n_per_class, *in_shape)``, ``y: (2 * n_per_class,)``.
    """
    x, y = (data.x_train, data.y_train) if isinstance(data, Splits) else data
    if labels not in ("pm1", "01"):
        raise ConfigError(f"labels={labels!r}: use 'pm1' (float ±1) or '01' (int64 0/1)")
    if len(classes) != 2 or classes[0] == classes[1]:
        raise ConfigError(f"classes={classes}: need two different labels")
    yn = y.cpu().numpy()
    keep = []
    for c in classes:
        where = np.flatnonzero(yn == c)
        if len(where) < n_per_class:
            raise ConfigError(f"class {c} has {len(where)} examples, fewer than n_per_class={n_per_class}")
        keep.append(where[:n_per_class])
    idx = torch.from_numpy(np.sort(np.concatenate(keep))).to(y.device)
    second = y[idx] == classes[1]
    if labels == "pm1":
        return x[idx], second.to(torch.float32) * 2 - 1
    return x[idx], second.to(torch.int64)


def nested_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded order of all indices whose every prefix is class-balanced (classes take turns, round
    robin, in a random order of the examples): the first ``n`` are the training set of size ``n``.

    Shape:
        ``labels: (N,)`` -> ``(N,)`` indices.
    """
    order = np.random.default_rng((seed, 7)).permutation(len(labels))
    classes, inverse = np.unique(labels[order], return_inverse=True)
    rank = np.empty(len(labels), dtype=np.int64)  # rank within its class, in the random order
    for c in range(len(classes)):
        where = np.flatnonzero(inverse == c)
        rank[where] = np.arange(len(where))
    return order[np.argsort(rank * len(classes) + inverse, kind="stable")]
