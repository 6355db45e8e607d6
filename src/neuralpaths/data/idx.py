"""The IDX format (MNIST's original files) and Fashion-MNIST from the Debian package.

IDX: two zero bytes, a type code, the number of dimensions ``k``, then ``k`` big-endian uint32 sizes
and the data, big-endian, row-major. Files may be gzip-compressed (detected from the content, not the
name). Fashion-MNIST is read from ``/usr/share/datasets/fashion-mnist`` (Debian package
``dataset-fashion-mnist``: ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``), the environment variable
``NEURALPATHS_FASHION_MNIST_DIR``, or ``data_dir=``; uncompressed copies (no ``.gz``) work too.

Shape:
    ``x: (n, 1, 28, 28)`` float32 in [0, 1] (``flatten=True``: ``(n, 784)``); ``y: (n,)`` int64.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
from pathlib import Path

import numpy as np

from ..errors import DataNotFoundError

# IDX type code -> numpy dtype (big-endian).
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_ENV = "NEURALPATHS_FASHION_MNIST_DIR"
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def parse_idx(data: bytes, what: str = "IDX data") -> np.ndarray:
    """Decode the bytes of an IDX file (already decompressed) into a native-endian numpy array."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise ValueError(f"{what}: not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{what}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(IDX_TYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{what}: IDX header says shape {shape} ({expected} bytes) but {len(data) - header} bytes follow"
        )
    a = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return a.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic
        raw = gzip.decompress(raw)
    return parse_idx(raw, str(path))


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def fashion_mnist_arrays(data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)``: read-only uint8 images ``(n, 1, 28, 28)`` and int64 labels
    ``(n,)``, cached per folder."""
    folder = Path(data_dir or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)
    return _read_folder(str(folder.resolve()))


@functools.lru_cache(maxsize=2)
def _read_folder(folder_name: str) -> tuple[np.ndarray, ...]:
    folder = Path(folder_name)
    paths = {k: _find(folder, stem) for k, stem in FASHION_MNIST_FILES.items()}
    missing = [FASHION_MNIST_FILES[k] + "[.gz]" for k, p in paths.items() if p is None]
    if missing:
        raise DataNotFoundError(
            f"Fashion-MNIST: {', '.join(missing)} not found in {folder}; install the Debian package "
            f"dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass data_dir= (or set "
            f"{FASHION_MNIST_ENV}) to a folder holding the four IDX files"
        )
    a = {k: read_idx(p) for k, p in paths.items()}
    for split in ("train", "test"):
        x, y = a[f"x_{split}"], a[f"y_{split}"]
        if x.ndim != 3 or x.dtype != np.uint8 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"Fashion-MNIST ({folder}, {split}): expected uint8 images (n, H, W) and n labels, got "
                f"images {x.shape} {x.dtype} and labels {y.shape}"
            )
    out = (
        a["x_train"][:, None],  # (n, H, W) -> (n, 1, H, W)
        a["y_train"].astype(np.int64),
        a["x_test"][:, None],
        a["y_test"].astype(np.int64),
    )
    for arr in out:
        arr.flags.writeable = False  # shared by every caller through the cache
    return out
