"""Atomic writes: a failure mid-write leaves the previous file intact and no temp files behind."""

import json
import math
import os
import stat

import pytest
import torch

from neuralpaths.io import (
    append_jsonl,
    atomic_torch_save,
    atomic_write,
    atomic_write_json,
    load_checkpoint,
    read_json,
    read_jsonl,
    write_rows_csv,
)


def test_failure_mid_write_keeps_old_file(tmp_path):
    path = tmp_path / "results.json"
    atomic_write_json(path, {"acc": 0.9})

    def half_then_crash(f):
        f.write(b'{"acc": 0.')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_crash)
    assert read_json(path) == {"acc": 0.9}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temp file left


def test_interrupt_mid_torch_save_keeps_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    atomic_torch_save(path, {"w": torch.ones(3)})

    def crash(obj, f):
        f.write(b"PK\x03\x04garbage")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save(path, {"w": torch.zeros(3)})
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["w"], torch.ones(3))


def test_written_files_get_normal_permissions(tmp_path):
    mode = stat.S_IMODE(os.stat(atomic_write_json(tmp_path / "a.json", {})).st_mode)
    assert mode & 0o044  # readable by others under the usual umask (mkstemp alone gives 0600)


def test_json_handles_tensors_and_non_finite(tmp_path):
    atomic_write_json(tmp_path / "r.json", {"t": torch.tensor([1.0, 2.0]), "nan": math.nan, "x": (1, 2)})
    assert json.loads((tmp_path / "r.json").read_text()) == {"t": [1.0, 2.0], "nan": None, "x": [1, 2]}


def test_jsonl_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "m.jsonl"
    append_jsonl(path, {"epoch": 1})
    with open(path, "a") as f:
        f.write('{"epoch": 2, "ac')
    assert read_jsonl(path) == [{"epoch": 1}]


def test_checkpoints_refuse_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="weights_only|Unsupported global"):
        load_checkpoint(tmp_path / "evil.pt")


def test_csv_columns_in_first_seen_order(tmp_path):
    write_rows_csv(tmp_path / "t.csv", [{"a": 1, "b": 2.5}, {"a": 3, "c": "x"}])
    assert (tmp_path / "t.csv").read_text().splitlines() == ["a,b,c", "1,2.5,", "3,,x"]
