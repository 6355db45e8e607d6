"""scikit-learn's 8x8 handwritten digits (1,797 images, bundled with scikit-learn: no download).

Pixels are integers 0..16, divided by 16 to [0, 1]. The data set has no official test split, so a
fixed, class-balanced set of ``TEST_SIZE`` images (chosen with seed 0, whatever ``seed`` the caller
passes) is the test set; ``seed`` then drives the validation split and subsets as for other data sets.

Shape:
    ``x: (n, 1, 8, 8)`` float32 in [0, 1] (``flatten=True``: ``(n, 64)``); ``y: (n,)`` int64.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import DataNotFoundError
from .splits import balanced_subset

TEST_SIZE = 297  # 1797 = 1500 train + 297 test
DEFAULT_VAL_SIZE = 300


@functools.lru_cache(maxsize=1)
def digits_arrays() -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)``: read-only uint8 ``(n, 1, 8, 8)`` (0..16), int64 ``(n,)``."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise DataNotFoundError(
            "the digits data set comes with scikit-learn: pip install scikit-learn"
        ) from None
    d = sk_load_digits()
    x = d.images.astype(np.uint8)[:, None]  # (n, 8, 8) -> (n, 1, 8, 8)
    y = d.target.astype(np.int64)
    test = balanced_subset(y, TEST_SIZE, np.random.default_rng((0, 99)))
    train = np.setdiff1d(np.arange(len(y)), test)
    out = (x[train], y[train], x[test], y[test])
    for a in out:
        a.flags.writeable = False
    return out
