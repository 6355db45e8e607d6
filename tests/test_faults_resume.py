"""Faults during and between runs: damaged checkpoints and caches are refused (never a silently
different result), a resume cuts the log back to the checkpoint and removes the litter of a killed
write, a finished run is left alone, and the status says what happened (SIGTERM included)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from neuralpaths import MLP, cli, experiments
from neuralpaths import train as train_module
from neuralpaths.data import load_digits
from neuralpaths.errors import IntegrityError
from neuralpaths.experiments import common
from neuralpaths.io import read_json, read_jsonl
from neuralpaths.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "tests.experiments.toy_experiment")
    from tests.experiments import toy_experiment

    return toy_experiment


@pytest.fixture(scope="module")
def digits():
    return load_digits(val_size=100, n_train=200, n_test=100, flatten=True, seed=0)


def _train(digits, out: Path, epochs: int):
    cfg = TrainConfig(epochs=epochs, batch_size=50, lr=1e-2, progress=False)
    return common.train(MLP(64, [16], 10, seed=0), digits, cfg, out, "m", tags={"model": "m"})


def test_tampered_checkpoint_is_refused(digits, tmp_path):
    """Flipping the sign of weights in a checkpoint (still a valid file) no longer resumes silently."""
    _train(digits, tmp_path, 2)
    path = tmp_path / "checkpoints" / "m.pt"
    ck = torch.load(path, weights_only=True)
    ck["model"] = {k: -v for k, v in ck["model"].items()}
    torch.save(ck, path)
    with pytest.raises(IntegrityError, match=r"checkpoint .*m\.pt does not match the SHA-256.*delete"):
        _train(digits, tmp_path, 3)
    path.unlink()  # what the message says: that stage starts over
    assert _train(digits, tmp_path, 3)[1]["test_acc"] is not None


def test_tampered_cache_is_refused(tmp_path):
    path = tmp_path / "stage.json"
    assert common.cached(path, lambda: {"acc": 79.0}) == {"acc": 79.0}
    path.write_text('{"acc": 43.0}\n')
    with pytest.raises(IntegrityError, match="stage.json does not match"):
        common.cached(path, lambda: {"acc": 0.0})


def test_kill_between_log_and_checkpoint_leaves_no_duplicate_epoch(digits, tmp_path, monkeypatch):
    real = train_module.save_checkpoint

    def killed(path, epoch, *args):
        if epoch == 2:  # epoch 2 is logged, its checkpoint never written
            raise KeyboardInterrupt
        real(path, epoch, *args)

    monkeypatch.setattr(train_module, "save_checkpoint", killed)
    with pytest.raises(KeyboardInterrupt):
        _train(digits, tmp_path, 3)
    assert [r["epoch"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2]
    monkeypatch.undo()
    _train(digits, tmp_path, 3)
    assert [r["epoch"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2, 3]


def test_resume_removes_orphan_temp_files(tmp_path):
    out = tmp_path / "r"
    assert cli.main(["run", "toy", "--quiet", "--out", str(out)]) == 0
    (out / ".results.json.k2j3.tmp").write_text('{"half')
    (out / "figures" / ".trace.png.a1b2.tmp").write_bytes(b"\x89PNG")
    (out / "results.json").unlink()
    assert cli.main(["resume", str(out), "--quiet"]) == 0
    assert not list(out.rglob("*.tmp")) and read_json(out / "status.json")["state"] == "done"


def test_resume_of_a_finished_run_does_nothing(tmp_path, capsys):
    out = tmp_path / "r"
    assert cli.main(["run", "toy", "--quiet", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert cli.main(["resume", str(out)]) == 0
    assert "is finished; nothing to resume" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # env.json too


def test_interrupt_is_recorded_as_interrupted(tmp_path, capsys, toy, monkeypatch):
    def stopped(cfg, out):
        raise KeyboardInterrupt

    monkeypatch.setattr(toy, "EXPERIMENT", dataclasses.replace(toy.EXPERIMENT, run=stopped))
    assert cli.main(["run", "toy", "--quiet", "--out", str(tmp_path / "r")]) == 130
    status = read_json(tmp_path / "r" / "status.json")
    assert status["state"] == "interrupted" and status["resume"] == f"neuralpaths resume {tmp_path / 'r'}"
    assert "continue with `neuralpaths resume" in capsys.readouterr().err


def test_a_crash_while_plotting_is_recorded_as_failed(tmp_path, toy, monkeypatch):
    def broken(results, out):
        raise RuntimeError("plot broke")

    monkeypatch.setattr(toy, "EXPERIMENT", dataclasses.replace(toy.EXPERIMENT, plot=broken))
    with pytest.raises(RuntimeError):
        cli.main(["run", "toy", "--quiet", "--out", str(tmp_path / "r")])
    status = read_json(tmp_path / "r" / "status.json")
    assert status["state"] == "failed" and "plot broke" in status["error"]


def test_env_records_the_device_used(tmp_path, monkeypatch):
    """A CPU run records "cpu" even where CUDA exists (it used to record the GPU's name)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Some GPU")
    assert cli.main(["run", "toy", "--quiet", "--out", str(tmp_path / "r")]) == 0
    assert read_json(tmp_path / "r" / "env.json")["device"] == "cpu"


def test_every_training_experiment_has_the_device_setting():
    for name in ("npf-regimes", "dlgn-images", "dlgn-odt", "halfspace-2d", "kernel-regimes"):
        fields = {f.name: f.default for f in dataclasses.fields(experiments.get(name).config)}
        assert fields.get("device") == "cpu", name
    assert common.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


# --- SIGTERM: a truthful status, exit 143, and a resume bitwise equal to an uninterrupted run --------
ODT = ["dlgn-odt", "--preset", "smoke", "--set", "epochs=24", "--set", "lr_grid=0.01", "--quiet"]


def _neuralpaths(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    code = "import sys; from neuralpaths.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stderr=subprocess.PIPE, text=True)


def _strip_seconds(obj):
    if isinstance(obj, dict):
        return {k: _strip_seconds(v) for k, v in obj.items() if "seconds" not in k}
    if isinstance(obj, list):
        return [_strip_seconds(v) for v in obj]
    return obj


def test_sigterm_then_resume_is_bitwise_identical(tmp_path):
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    reference = _neuralpaths("run", *ODT, "--device", "cpu", "--out", str(whole))
    proc = _neuralpaths("run", *ODT, "--device", "cpu", "--out", str(stopped))
    deadline = time.time() + 240
    while time.time() < deadline and len(read_jsonl(stopped / "metrics.jsonl")) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 143, err
    status = read_json(stopped / "status.json")
    assert status["state"] == "interrupted" and status["signal"] == "SIGTERM"
    assert f"neuralpaths resume {stopped}" in err and not (stopped / "results.json").exists()
    resumed = _neuralpaths("resume", str(stopped), "--quiet")
    assert resumed.wait(timeout=300) == 0 and reference.wait(timeout=300) == 0
    a, b = read_json(stopped / "results.json"), read_json(whole / "results.json")
    assert _strip_seconds(a) == _strip_seconds(b)
    keys = [(r.get("model"), r.get("lr"), r["epoch"]) for r in read_jsonl(stopped / "metrics.jsonl")]
    assert len(keys) == len(set(keys)) == len(read_jsonl(whole / "metrics.jsonl"))
    assert read_json(stopped / "status.json")["state"] == "done"
