"""The IDX reader on files written here byte by byte, and the Fashion-MNIST loader on such fixtures."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from neuralpaths.data import load_fashion_mnist, read_idx
from neuralpaths.data.idx import FASHION_MNIST_ENV, FASHION_MNIST_FILES
from neuralpaths.errors import DataNotFoundError

_CODES = {np.uint8: (0x08, ">u1"), np.int32: (0x0C, ">i4"), np.float32: (0x0D, ">f4")}


def _idx_bytes(a: np.ndarray) -> bytes:
    code, big_endian = _CODES[a.dtype.type]
    header = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(big_endian).tobytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, compress):
    a = (np.arange(2 * 3 * 5) * 37 - 100).astype(dtype).reshape(2, 3, 5)
    raw = _idx_bytes(a)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape and np.array_equal(a, b)


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x01\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(_idx_bytes(np.zeros((4, 2), np.uint8))[:-1])
    with pytest.raises(ValueError, match=r"shape \(4, 2\) \(8 bytes\) but 7 bytes follow"):
        read_idx(short)


def _write_fashion(folder, n_train=30, n_test=12, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for i, (key, a) in enumerate(arrays.items()):
        raw = _idx_bytes(a)
        if i % 2:  # mix compressed and plain files, as a user's folder might
            (folder / FASHION_MNIST_FILES[key]).write_bytes(raw)
        else:
            (folder / f"{FASHION_MNIST_FILES[key]}.gz").write_bytes(gzip.compress(raw))
    return arrays


def test_fashion_mnist_from_a_folder(tmp_path, monkeypatch):
    a = _write_fashion(tmp_path / "fm")
    s = load_fashion_mnist(data_dir=tmp_path / "fm", val_size=0)
    assert s.x_train.shape == (30, 1, 28, 28) and s.num_classes == 10
    assert torch.equal(s.x_train[:, 0], torch.from_numpy(a["x_train"]).float() / 255)
    assert torch.equal(s.y_test, torch.from_numpy(a["y_test"].astype(np.int64)))
    b = _write_fashion(tmp_path / "env", seed=1)
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path / "env"))
    s = load_fashion_mnist(val_size=5, flatten=True)
    assert s.x_val.shape == (5, 784) and torch.equal(s.x_test, torch.from_numpy(b["x_test"]).flatten(1) / 255)


def test_fashion_mnist_missing(tmp_path, monkeypatch):
    monkeypatch.delenv(FASHION_MNIST_ENV, raising=False)
    with pytest.raises(
        DataNotFoundError, match=r"install the Debian package dataset-fashion-mnist.*data_dir="
    ):
        load_fashion_mnist(data_dir=tmp_path)
