"""Atomic writes: a failure mid-write leaves the previous file intact and no temp files behind;
recorded files (checkpoints, cached stages) are checked against their SHA-256."""

import hashlib
import json
import math
import os
import stat

import pytest
import torch

from neuralpaths import io as io_module
from neuralpaths.errors import IntegrityError
from neuralpaths.io import (
    append_jsonl,
    atomic_torch_save,
    atomic_write,
    atomic_write_json,
    atomic_write_json_recorded,
    atomic_write_recorded,
    digest_path,
    load_checkpoint,
    read_json,
    read_json_recorded,
    read_jsonl,
    remove_orphan_temps,
    truncate_jsonl,
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
        load_checkpoint(tmp_path / "evil.pt", verify=False)
    atomic_write_recorded(tmp_path / "signed.pt", (tmp_path / "evil.pt").read_bytes())  # digest matches
    with pytest.raises(Exception, match="weights_only|Unsupported global"):
        load_checkpoint(tmp_path / "signed.pt")


def test_checkpoint_digest_is_recorded_and_checked(tmp_path):
    path = atomic_torch_save(tmp_path / "c.pt", {"w": torch.ones(3)})
    assert digest_path(path).read_text().strip() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert torch.equal(load_checkpoint(path)["w"], torch.ones(3))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"c\.pt does not match the SHA-256.*delete"):
        load_checkpoint(path)
    digest_path(path).unlink()
    with pytest.raises(IntegrityError, match="no recorded SHA-256"):
        load_checkpoint(path)


def test_kill_between_digest_and_payload_still_loads(tmp_path, monkeypatch):
    """A kill after the digest file lists the new digest but before the payload is replaced leaves the
    previous payload, which still matches a recorded digest."""
    path = atomic_torch_save(tmp_path / "c.pt", {"w": torch.ones(3)})
    real = io_module.atomic_write

    def killed(target, write):
        if target == path:
            raise KeyboardInterrupt
        return real(target, write)

    monkeypatch.setattr(io_module, "atomic_write", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save(path, {"w": torch.zeros(3)})
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["w"], torch.ones(3))


def test_recorded_json_and_truncate_and_orphans(tmp_path):
    atomic_write_json_recorded(tmp_path / "s.json", {"a": 1})
    assert read_json_recorded(tmp_path / "s.json") == {"a": 1}
    (tmp_path / "s.json").write_text('{"a": 2}\n')
    with pytest.raises(IntegrityError, match="s.json"):
        read_json_recorded(tmp_path / "s.json")
    for e in (1, 2, 3):
        append_jsonl(tmp_path / "m.jsonl", {"epoch": e})
    assert truncate_jsonl(tmp_path / "m.jsonl", lambda r: r["epoch"] <= 2) == 1
    assert read_jsonl(tmp_path / "m.jsonl") == [{"epoch": 1}, {"epoch": 2}]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".c.pt.x1y2.tmp").write_bytes(b"half")
    assert [p.name for p in remove_orphan_temps(tmp_path)] == [".c.pt.x1y2.tmp"]


def test_csv_columns_in_first_seen_order(tmp_path):
    write_rows_csv(tmp_path / "t.csv", [{"a": 1, "b": 2.5}, {"a": 3, "c": "x"}])
    assert (tmp_path / "t.csv").read_text().splitlines() == ["a,b,c", "1,2.5,", "3,,x"]
