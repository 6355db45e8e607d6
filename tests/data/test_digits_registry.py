"""scikit-learn digits, and loading data sets by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sk_load_digits

from neuralpaths.data import DATASETS, load_dataset, load_digits
from neuralpaths.errors import ConfigError


def test_digits_split_and_scale():
    s = load_digits(val_size=300, seed=0)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (1200, 300, 297)
    assert s.x_train.shape[1:] == (1, 8, 8) and s.x_train.min() == 0 and s.x_train.max() == 1
    assert torch.equal(s.x_train * 16, torch.round(s.x_train * 16))  # integers 0..16 over 16
    assert np.ptp(np.bincount(s.y_test.numpy())) <= 1  # class-balanced test set
    other = load_digits(val_size=300, seed=1)
    assert torch.equal(other.x_test, s.x_test)  # the test set does not depend on the seed
    assert not torch.equal(other.x_val, s.x_val)
    # Every image is one of scikit-learn's, with its label.
    sk = sk_load_digits()
    table = {(row.tobytes()): int(t) for row, t in zip((sk.images / 16).astype(np.float32), sk.target)}
    for x, y in zip(s.x_test[:, 0].numpy(), s.y_test.tolist()):
        assert table[x.tobytes()] == y


def test_load_dataset_by_name_and_defaults():
    s = load_dataset("Digits", flatten=True, val_size=50, n_train=100, classes=(3, 8))
    assert s.name == "digits" and s.in_shape == (64,) and len(s.y_train) == 100 and s.num_classes == 2
    assert len(load_dataset("digits").y_val) == 300  # the data set's own default validation size
    assert set(DATASETS) == {"mnist", "fashion-mnist", "cifar10", "digits"}


def test_unknown_name_lists_the_choices():
    with pytest.raises(
        ConfigError, match="unknown data set 'imagenet'; available: mnist, fashion-mnist, cifar10, digits"
    ):
        load_dataset("imagenet")
