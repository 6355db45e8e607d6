"""CIFAR-10 from a ``cifar-10-batches-py`` folder the user provides, and an opt-in verified download.

The folder (from the official ``cifar-10-python.tar.gz``) holds ``data_batch_1`` .. ``data_batch_5``
and ``test_batch``: Python 2 pickles of dicts with ``b"data"`` (uint8, ``(10000, 3072)``, each row the
red, green, blue 32x32 planes) and ``b"labels"`` (a list of ints). They are read with
:mod:`neuralpaths.data.safe_pickle` (numpy arrays and plain containers only, no code). Where it is:
``data_dir=`` (on the command line ``--set data_dir=...``), else the environment variable
``NEURALPATHS_CIFAR10_DIR``; either the folder itself or its parent.

Nothing is downloaded implicitly. :func:`download_cifar10` fetches the archive on request, checks its
SHA-256 against the published value and extracts it safely.

Shape:
    ``x: (n, 3, 32, 32)`` float32 in [0, 1] (``flatten=True``: ``(n, 3072)``); ``y: (n,)`` int64.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import DataNotFoundError, UserError
from ..progress import progress_bar
from .safe_pickle import check_array, restricted_load

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# SHA-256 of cifar-10-python.tar.gz (170,498,071 bytes; MD5 c58f30108f718f92721af3b95e74349a), as
# pinned by Keras' cifar10 loader.
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_ENV = "NEURALPATHS_CIFAR10_DIR"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


class ChecksumError(UserError, ValueError):
    """A downloaded file's SHA-256 differs from the expected one."""


def cifar10_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The ``cifar-10-batches-py`` folder from ``data_dir`` or ``$NEURALPATHS_CIFAR10_DIR``."""
    given = data_dir or os.environ.get(CIFAR10_ENV)
    how = (
        f"download https://www.cs.toronto.edu/~kriz/cifar.html (python version), or call "
        f"neuralpaths.data.download_cifar10(dest) with internet, then pass data_dir= "
        f"(on the command line: --set data_dir=PATH) or set "
        f"{CIFAR10_ENV} to the {FOLDER} folder"
    )
    if not given:
        raise DataNotFoundError(f"CIFAR-10 is not bundled and no folder was given: {how}")
    for folder in (Path(given), Path(given) / FOLDER):
        if all((folder / b).is_file() for b in (*TRAIN_BATCHES, TEST_BATCH)):
            return folder
    missing = [b for b in (*TRAIN_BATCHES, TEST_BATCH) if not (Path(given) / b).is_file()]
    raise DataNotFoundError(f"CIFAR-10: {given} lacks {', '.join(missing)}; {how}")


def read_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch file as ``(x uint8 (n, 3, 32, 32), y int64 (n,))``."""
    with open(path, "rb") as f:
        obj = restricted_load(f, encoding="bytes")
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a dict (a CIFAR-10 python batch), got {type(obj).__name__}")
    d = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
    if "data" not in d or "labels" not in d:
        raise ValueError(f"{path}: a CIFAR-10 batch needs 'data' and 'labels', found {sorted(d)}")
    x = check_array(d["data"], f"{path} data", dtype=np.uint8, ndim=2)
    y = check_array(d["labels"], f"{path} labels", ndim=1).astype(np.int64)
    if x.shape[1] != 3 * 32 * 32 or len(x) != len(y):
        raise ValueError(f"{path}: expected data (n, 3072) and n labels, got {x.shape} and {y.shape}")
    return x.reshape(-1, 3, 32, 32), y  # (n, 3072) -> (n, 3, 32, 32): channel planes, row-major


@functools.lru_cache(maxsize=2)
def _read_folder(folder: str) -> tuple[np.ndarray, ...]:
    parts = [read_batch(Path(folder) / b) for b in TRAIN_BATCHES]
    x_test, y_test = read_batch(Path(folder) / TEST_BATCH)
    out = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), x_test, y_test)
    for a in out:
        a.flags.writeable = False  # shared by every caller through the cache
    return out


def cifar10_arrays(data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)``: read-only uint8 ``(n, 3, 32, 32)`` and int64 ``(n,)``."""
    return _read_folder(str(cifar10_dir(data_dir).resolve()))


def _fetch(url: str, dest: Path, sha256: str, progress: bool, timeout: float) -> Path:
    """Stream ``url`` into a temporary file in ``dest`` while hashing; keep it only if the hash matches."""
    fd, tmp = tempfile.mkstemp(prefix=".cifar-10-python.", suffix=".tar.gz.part", dir=dest)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as r:
            total = r.headers.get("Content-Length")
            with progress_bar(
                total=int(total) if total else None,
                desc="CIFAR-10",
                unit="B",
                unit_scale=True,
                enabled=progress,
            ) as bar:
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        got = digest.hexdigest()
        if got != sha256.lower():
            raise ChecksumError(
                f"{url}: SHA-256 {got} does not match the expected {sha256}; the file is corrupt or not "
                f"the official archive, so nothing was extracted (try again, or check the URL)"
            )
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _check_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Only plain files and folders under ``cifar-10-batches-py/``: no links, devices, absolute paths
    or ``..`` (a tampered archive cannot write outside the destination)."""
    members = tar.getmembers()
    for m in members:
        p = PurePosixPath(m.name)
        inside = p.parts[:1] == (FOLDER,) and ".." not in p.parts and not p.is_absolute()
        if not inside or not (m.isfile() or m.isdir()):
            raise ValueError(f"refusing to extract {m.name!r}: not a plain file or folder under {FOLDER}/")
    return members


def download_cifar10(
    dest: str | os.PathLike,
    *,
    url: str = CIFAR10_URL,
    sha256: str = CIFAR10_SHA256,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download CIFAR-10 (python version) into ``dest`` and return ``dest / "cifar-10-batches-py"``.

    Opt-in only (the loaders never download). The archive is streamed to a temporary file, its SHA-256
    compared with ``sha256`` (:class:`ChecksumError` on a mismatch, nothing extracted), its members
    checked (:func:`_check_members`), extracted to a temporary folder and moved into place; the archive
    is then deleted. If ``dest`` already holds a complete folder, nothing is downloaded.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / FOLDER
    try:
        return cifar10_dir(target)
    except DataNotFoundError:
        pass
    if target.exists():
        raise UserError(f"{target} exists but is incomplete; remove it and call download_cifar10 again")
    archive = _fetch(url, dest, sha256, progress, timeout)
    tmpdir = Path(tempfile.mkdtemp(prefix=".cifar-10-extract.", dir=dest))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = _check_members(tar)
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmpdir, members=members, **kwargs)
        os.replace(tmpdir / FOLDER, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        archive.unlink(missing_ok=True)
    return cifar10_dir(target)
