"""CIFAR-10 from a python-batches folder in the real format, and the opt-in verified download."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch

from neuralpaths.data import ChecksumError, download_cifar10, load_cifar10
from neuralpaths.data.cifar import CIFAR10_ENV, FOLDER, TEST_BATCH, TRAIN_BATCHES, read_batch
from neuralpaths.errors import DataNotFoundError

from .py2pickle import dumps_py2


def _write_cifar(root, per_batch=4, n_test=3, seed=0):
    """A cifar-10-batches-py folder of Python 2 pickles like the official one; returns the raw rows."""
    rng = np.random.default_rng(seed)
    folder = root / FOLDER
    folder.mkdir(parents=True)
    rows = {}
    for name, n in [(b, per_batch) for b in TRAIN_BATCHES] + [(TEST_BATCH, n_test)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        batch = {
            b"batch_label": f"{name} of 5".encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        }
        (folder / name).write_bytes(dumps_py2(batch))
        rows[name] = (data, labels)
    (folder / "batches.meta").write_bytes(dumps_py2({b"label_names": [b"airplane"], b"num_vis": 3072}))
    return folder, rows


def test_batch_layout_is_channel_planes(tmp_path):
    folder, rows = _write_cifar(tmp_path)
    x, y = read_batch(folder / TEST_BATCH)
    data, labels = rows[TEST_BATCH]
    assert x.shape == (3, 3, 32, 32) and y.tolist() == labels
    for c, h, w in [(0, 0, 0), (1, 5, 7), (2, 31, 31)]:
        assert x[1, c, h, w] == data[1, c * 1024 + h * 32 + w]


def test_load_from_folder_parent_and_env(tmp_path, monkeypatch):
    folder, rows = _write_cifar(tmp_path)
    s = load_cifar10(data_dir=folder, val_size=0)
    train = np.concatenate([rows[b][0] for b in TRAIN_BATCHES])
    assert s.x_train.shape == (20, 3, 32, 32) and s.x_test.shape == (3, 3, 32, 32)
    assert torch.equal(s.x_train.flatten(1), torch.from_numpy(train).float() / 255)
    assert s.y_train.tolist() == [v for b in TRAIN_BATCHES for v in rows[b][1]]
    assert load_cifar10(data_dir=tmp_path, val_size=4).x_val.shape == (4, 3, 32, 32)  # the parent works
    monkeypatch.setenv(CIFAR10_ENV, str(folder))
    assert load_cifar10(val_size=0, flatten=True).x_test.shape == (3, 3072)


def test_missing_folder_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(CIFAR10_ENV, raising=False)
    with pytest.raises(DataNotFoundError, match=rf"no folder was given.*data_dir=.*{CIFAR10_ENV}"):
        load_cifar10()
    with pytest.raises(DataNotFoundError, match="lacks data_batch_1, .*test_batch"):
        load_cifar10(data_dir=tmp_path)


def test_malicious_batch_is_refused(tmp_path):
    folder, _ = _write_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    (folder / "data_batch_3").write_bytes(pickle.dumps({"data": Evil()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_cifar10(data_dir=folder)
    assert not (tmp_path / "pwned").exists()


def _archive(tmp_path, extra: list[tarfile.TarInfo] = ()) -> tuple[str, str]:
    """A cifar-10-python.tar.gz built from a fixture folder; returns its file:// URL and SHA-256."""
    src = tmp_path / "src"
    _write_cifar(src)
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src / FOLDER, arcname=FOLDER)
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path.as_uri(), hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_verifies_and_extracts(tmp_path):
    url, sha = _archive(tmp_path)
    dest = tmp_path / "data"
    folder = download_cifar10(dest, url=url, sha256=sha, progress=False)
    assert folder == dest / FOLDER
    assert load_cifar10(data_dir=folder, val_size=0).x_train.shape == (20, 3, 32, 32)
    assert sorted(p.name for p in dest.iterdir()) == [FOLDER]  # no archive or temp files left
    # Already there: nothing is fetched (this URL does not exist).
    assert download_cifar10(dest, url=(tmp_path / "nope").as_uri(), sha256=sha, progress=False) == folder


def test_download_with_wrong_hash_extracts_nothing(tmp_path):
    url, sha = _archive(tmp_path)
    wrong = sha[:-1] + ("0" if sha[-1] != "0" else "1")
    dest = tmp_path / "data"
    with pytest.raises(ChecksumError, match=rf"SHA-256 {sha} does not match the expected {wrong}"):
        download_cifar10(dest, url=url, sha256=wrong, progress=False)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink", "outside"])
def test_download_refuses_unsafe_members(tmp_path, kind):
    if kind == "symlink":
        info = tarfile.TarInfo(f"{FOLDER}/link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        name = {"traversal": f"{FOLDER}/../../evil", "absolute": "/tmp/evil", "outside": "evil"}[kind]
        info = tarfile.TarInfo(name)
        info.size = 3
    url, sha = _archive(tmp_path, [info])
    dest = tmp_path / "data"
    with pytest.raises(ValueError, match="refusing to extract"):
        download_cifar10(dest, url=url, sha256=sha, progress=False)
    assert list(dest.iterdir()) == [] and not (tmp_path / "evil").exists()
