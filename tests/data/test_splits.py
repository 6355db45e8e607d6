"""Seeded validation split, class-balanced subsets, class selection, binary subsets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralpaths.data import Splits, balanced_subset, binary_subset, make_splits, nested_order
from neuralpaths.errors import ConfigError


def _raw(n_train=200, n_test=60, k=4, seed=0):
    """Images whose single pixel is the example's index (so every kept example can be traced)."""
    rng = np.random.default_rng(seed)
    x_train = np.arange(n_train, dtype=np.float64).reshape(n_train, 1, 1, 1)
    x_test = np.arange(n_test, dtype=np.float64).reshape(n_test, 1, 1, 1)
    return x_train, rng.integers(0, k, n_train), x_test, rng.integers(0, k, n_test)


def _index(x: torch.Tensor) -> np.ndarray:
    return x.flatten().numpy().astype(np.int64)


def _splits(**kw) -> Splits:
    x_train, y_train, x_test, y_test = _raw()
    return make_splits("toy", x_train, y_train, x_test, y_test, 4, scale=1.0, **kw)


def test_validation_split_partitions_the_training_set_in_order():
    s = _splits(val_size=50, seed=3)
    tr, va = _index(s.x_train), _index(s.x_val)
    assert len(tr) == 150 and len(va) == 50
    assert np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(200))
    assert np.all(np.diff(tr) > 0) and np.all(np.diff(va) > 0)  # original order kept
    _, y_train, _, _ = _raw()
    assert np.array_equal(s.y_train.numpy(), y_train[tr]) and np.array_equal(s.y_val.numpy(), y_train[va])
    assert np.array_equal(_index(_splits(val_size=50, seed=3).x_val), va)  # same seed, same split
    assert not np.array_equal(_index(_splits(val_size=50, seed=4).x_val), va)
    assert len(_splits(val_size=0).x_val) == 0


def test_subsets_are_balanced_seeded_and_leave_validation_alone():
    s = _splits(val_size=50, n_train=40, n_test=20, seed=1)
    assert np.bincount(s.y_train.numpy(), minlength=4).tolist() == [10, 10, 10, 10]
    assert np.bincount(s.y_test.numpy(), minlength=4).tolist() == [5, 5, 5, 5]
    assert np.array_equal(_index(s.x_val), _index(_splits(val_size=50, seed=1).x_val))
    full = set(_index(_splits(val_size=50, seed=1).x_train))
    assert set(_index(s.x_train)) <= full
    again = _splits(val_size=50, n_train=40, n_test=20, seed=1)
    assert torch.equal(again.x_train, s.x_train) and torch.equal(again.x_test, s.x_test)


def test_balanced_subset_gives_a_scarce_class_all_it_has():
    y = np.array([0] * 50 + [1] * 3 + [2] * 50)
    idx = balanced_subset(y, 30, np.random.default_rng(0))
    assert np.bincount(y[idx]).tolist() == [14, 3, 13]  # round robin; class 0 takes the odd turn
    assert len(set(idx)) == 30 and np.all(np.diff(idx) > 0)
    with pytest.raises(ConfigError, match="only 103 are available"):
        balanced_subset(y, 104, np.random.default_rng(0))


def test_classes_are_kept_and_relabelled_in_the_given_order():
    x_train, y_train, x_test, y_test = _raw()
    s = make_splits("toy", x_train, y_train, x_test, y_test, 4, scale=1.0, val_size=10, classes=(3, 1))
    assert s.num_classes == 2
    idx = np.concatenate([_index(s.x_train), _index(s.x_val)])
    labels = np.concatenate([s.y_train.numpy(), s.y_val.numpy()])
    assert np.array_equal(np.where(y_train[idx] == 3, 0, 1), labels)
    assert set(y_train[idx]) == {1, 3} and len(idx) == np.isin(y_train, (1, 3)).sum()
    assert np.array_equal(np.where(y_test[_index(s.x_test)] == 3, 0, 1), s.y_test.numpy())


def test_scaling_dtype_flatten_and_to():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 3, 4, 5), dtype=np.uint8)
    y = np.arange(20) % 2
    s = make_splits("img", x, y, x[:6], y[:6], 2, val_size=4, flatten=True)
    assert s.in_shape == (60,) and s.x_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert torch.equal(s.x_test, torch.from_numpy(x[:6].reshape(6, 60)).float() / 255)
    d = s.to(dtype=torch.float64)
    assert d.x_val.dtype == torch.float64 and d.y_val.dtype == torch.int64 and d.name == "img"
    assert torch.equal(d.x_train.float(), s.x_train)
    assert s.summary() == "img: train 16, val 4, test 6; x (60,) float32 in [0, 1]; 2 classes"
    assert make_splits("img", x, y, x, y, 2, val_size=0).in_shape == (3, 4, 5)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"val_size": 200}, "val_size=200 leaves no training examples"),
        ({"val_size": -1}, "val_size must be a non-negative integer"),
        ({"n_train": 300}, "n_train=300 but only 150 training examples remain"),
        ({"n_test": 61}, "n_test=61 but toy has only 60 test examples"),
        ({"classes": (1, 1)}, r"classes=\(1, 1\): need distinct labels in 0..3"),
        ({"classes": (4,)}, "need distinct labels in 0..3"),
    ],
)
def test_bad_arguments(kw, message):
    kw = {"val_size": 50, **kw}
    with pytest.raises(ConfigError, match=message):
        _splits(**kw)


def test_labels_out_of_range_are_refused():
    x_train, y_train, x_test, y_test = _raw()
    with pytest.raises(ValueError, match=r"training labels must lie in 0..2"):
        make_splits("toy", x_train, y_train, x_test, y_test, 3)


def test_binary_subset_takes_the_first_examples_of_each_class():
    x_train, y_train, x_test, y_test = _raw()
    s = make_splits("toy", x_train, y_train, x_test, y_test, 4, scale=1.0, val_size=0)
    x, y = binary_subset(s, classes=(2, 0), n_per_class=7)
    first = np.sort(np.concatenate([np.flatnonzero(y_train == 2)[:7], np.flatnonzero(y_train == 0)[:7]]))
    assert np.array_equal(_index(x), first)
    assert y.dtype == torch.float32 and np.array_equal(y.numpy(), np.where(y_train[first] == 0, 1.0, -1.0))
    x01, y01 = binary_subset((s.x_train, s.y_train), classes=(2, 0), n_per_class=7, labels="01")
    assert torch.equal(x01, x) and y01.dtype == torch.int64 and torch.equal(y01.float() * 2 - 1, y)
    with pytest.raises(ConfigError, match="fewer than n_per_class=500"):
        binary_subset(s, classes=(2, 0), n_per_class=500)
    with pytest.raises(ConfigError, match="labels='pm'"):
        binary_subset(s, labels="pm")


def test_nested_order_prefixes_are_class_balanced():
    labels = np.random.default_rng(0).choice(10, size=500, p=np.linspace(1, 2, 10) / 15)
    order = nested_order(labels, seed=4)
    assert sorted(order) == list(range(500))
    for n in (10, 50, 200):
        counts = np.bincount(labels[order[:n]], minlength=10)
        assert counts.max() - counts.min() <= 1, (n, counts)
    assert np.array_equal(order, nested_order(labels, seed=4))
    assert not np.array_equal(order, nested_order(labels, seed=5))
