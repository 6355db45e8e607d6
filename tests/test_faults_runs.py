"""Faults and hostile files around run folders: nothing lost, nothing written outside the folder, no
silently different result, one writer at a time, a truthful status. One named test per row (bad
command-line input: ``test_faults.py``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neuralpaths import cli, experiments
from neuralpaths.io import read_json
from neuralpaths.runfolder import LOCK_NAME, RunLock
from tests.test_faults import one_line_error

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "tests.experiments.toy_experiment")


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished toy run (copied for each row that damages it)."""
    from neuralpaths import runner

    experiments.EXPERIMENTS["toy"] = "tests.experiments.toy_experiment"
    try:
        return runner.run_experiment("toy", "smoke", out=tmp_path_factory.mktemp("f") / "run", progress=False)
    finally:
        del experiments.EXPERIMENTS["toy"]


def _edit_config(**changes):
    def damage(run: Path) -> None:
        record = read_json(run / "config.json")
        record.update(changes)
        (run / "config.json").write_text(json.dumps(record))
        (run / "results.json").unlink()  # an unfinished run, so resume reads everything

    return damage


def _write(name: str, content: bytes | str, unfinish: bool = True):
    def damage(run: Path) -> None:
        (run / name).write_bytes(content if isinstance(content, bytes) else content.encode())
        if unfinish and name != "results.json":
            (run / "results.json").unlink()

    return damage


def _symlink(name: str):
    def damage(run: Path) -> None:
        shutil.rmtree(run / name)
        (run / name).symlink_to(run.parent / "outside", target_is_directory=True)
        (run / "results.json").unlink()

    return damage


def _results(**changes):
    def damage(run: Path) -> None:
        r = read_json(run / "results.json")
        r.update(changes)
        (run / "results.json").write_text(json.dumps(r))

    return damage


# id: (damage to a copy of a finished run, command, error text)
ROWS = {
    "config-not-json": (_write("config.json", "{not json"), "resume", "damaged"),
    "config-not-utf8": (_write("config.json", b"\xff\xfe"), "resume", "damaged"),
    "config-a-list": (_write("config.json", "[1, 2]"), "resume", "not a neuralpaths run record"),
    "config-huge": (_write("config.json", " " * (2 << 20) + "{}"), "show", "larger than 1 MiB"),
    "config-seeds-escape": (_edit_config(seeds=["../../../X", 1]), "resume", "non-negative integers"),
    "config-seeds-negative": (_edit_config(seeds=[-1, 2]), "resume", "non-negative integers"),
    "config-seeds-empty": (_edit_config(seeds=[]), "resume", "non-negative integers"),
    "config-seeds-repeated": (_edit_config(seeds=[3, 3]), "resume", "repeats"),
    "config-unknown-experiment": (_edit_config(experiment="nope"), "resume", "unknown experiment"),
    "config-unknown-preset": (_edit_config(preset="huge"), "resume", "unknown preset"),
    "config-bad-override": (_edit_config(overrides={"n": "abc"}), "resume", "n expects an integer"),
    "config-unknown-override": (_edit_config(overrides={"rm": 1}), "resume", "unknown config key"),
    "config-overrides-not-a-table": (_edit_config(overrides=[1]), "resume", "overrides"),
    "config-table-mismatch": (_edit_config(config={"n": 99}), "resume", "different run"),
    "symlinked-figures": (_symlink("figures"), "resume", "symbolic link"),
    "results-not-json": (_write("results.json", "{"), "show", "damaged"),
    "results-missing-keys": (
        _results(trace={"x": 1}, first_x=None, label=None, **{"experiment": "toy"}),
        "plot",
        "",
    ),
    "results-other-experiment": (_results(experiment="npf-regimes"), "show", "not the results of this run"),
    "results-seeds-escape": (
        _results(aggregate_tables={}, seeds=["../../x"]),
        "plot",
        "non-negative integers",
    ),
}


@pytest.mark.parametrize("row", list(ROWS), ids=list(ROWS))
def test_hostile_run_folder(row, finished, tmp_path, capsys):
    damage, command, message = ROWS[row]
    if row == "results-missing-keys":  # trace a table, not a number: the report code cannot draw it
        damage = _write("results.json", json.dumps({"experiment": "toy", "seed": 0}))
        message = "cannot read the results"
    run = tmp_path / "a" / "run"
    shutil.copytree(finished, run)
    (tmp_path / "a" / "outside").mkdir()
    damage(run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and not p.is_symlink()}
    err = one_line_error([command, str(run)], capsys)
    assert message in err
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["outside", "run"]  # nothing beside it
    assert not any((tmp_path / "a" / "outside").iterdir())
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and not p.is_symlink()} == before


# --- --out: created only where nothing is --------------------------------------------------------------
def test_out_with_user_files_is_refused(tmp_path, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "report.md").write_text("notes")
    (out / "metrics.jsonl").write_text("mine\n")
    err = one_line_error(["run", "toy", "--quiet", "--out", str(out)], capsys)
    assert "is not a run folder (it holds metrics.jsonl, report.md)" in err
    assert sorted(p.name for p in out.iterdir()) == ["metrics.jsonl", "report.md"]
    assert (out / "report.md").read_text() == "notes" and (out / "metrics.jsonl").read_text() == "mine\n"


def test_out_is_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("keep")
    assert "not a folder" in one_line_error(["run", "toy", "--out", str(tmp_path / "f")], capsys)
    assert (tmp_path / "f").read_text() == "keep"


def test_out_holding_this_run_needs_resume(finished, tmp_path, capsys):
    run = shutil.copytree(finished, tmp_path / "run")
    before = (run / "results.json").read_bytes()
    err = one_line_error(["run", "toy", "--preset", "smoke", "--out", str(run)], capsys)
    assert "already holds this run" in err and f"neuralpaths resume {run}" in err
    assert (run / "results.json").read_bytes() == before


def test_empty_out_folder_is_used(tmp_path):
    (tmp_path / "e").mkdir()
    assert cli.main(["run", "toy", "--quiet", "--out", str(tmp_path / "e")]) == 0
    assert read_json(tmp_path / "e" / "status.json")["state"] == "done"
    assert not (tmp_path / "e" / LOCK_NAME).exists()


def test_sweep_into_a_used_folder_is_refused(tmp_path, capsys):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "report.md").write_text("notes")
    err = one_line_error(["sweep", "toy", "--grid", "n=3,4", "--out", str(tmp_path / "w")], capsys)
    assert "not empty" in err and (tmp_path / "w" / "report.md").read_text() == "notes"


# --- one writer at a time ----------------------------------------------------------------------------
def test_second_writer_is_refused_naming_the_holder(tmp_path, capsys):
    """Another process holds the run folder: the second run refuses at once, naming its pid."""
    out = tmp_path / "r"
    out.mkdir()
    code = "import sys, time; from neuralpaths.runfolder import RunLock\nwith RunLock(sys.argv[1]):\n"
    code += "    print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.perf_counter()
        err = one_line_error(["run", "toy", "--quiet", "--out", str(out)], capsys)
        assert f"in use by another run (pid {holder.pid})" in err and time.perf_counter() - start < 10
        assert not (out / "config.json").exists()
    finally:
        holder.kill()
        holder.wait()
    assert cli.main(["run", "toy", "--quiet", "--out", str(out)]) == 0  # the dead holder's lock is free


def test_stale_lock_file_is_taken_over(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / LOCK_NAME).write_text("999999999\n")  # a lock file no live process holds
    assert cli.main(["run", "toy", "--quiet", "--out", str(tmp_path / "r")]) == 0


def test_lock_is_exclusive_within_one_process_too(tmp_path):
    with RunLock(tmp_path), pytest.raises(Exception, match=f"pid {os.getpid()}"):
        RunLock(tmp_path).__enter__()


def test_damaged_data_file_is_one_line_and_recorded(tmp_path, capsys):
    data = tmp_path / "fashion"
    data.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        (data / stem).write_bytes(b"\x00\x00\x08")  # truncated
    (data / "t10k-labels-idx1-ubyte").write_bytes(b"")
    out = tmp_path / "r"
    args = ["run", "npf-regimes", "--preset", "smoke", "--quiet", "--out", str(out)]
    err = one_line_error([*args, "--set", "dataset=fashion-mnist", "--set", f"data_dir={data}"], capsys)
    assert "cannot read the fashion-mnist data set" in err
    status = read_json(out / "status.json")
    assert status["state"] == "failed" and "fashion-mnist" in status["error"]


def test_large_results_still_plot(finished, tmp_path, capsys):
    """results.json may hold packed pictures (a few MiB): ``show`` and ``plot`` still read it."""
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    r = read_json(run / "results.json")
    r["packed"] = "x" * (3 << 20)  # 3 MiB, like halfspace-2d's default or resnet-ensemble's smoke run
    (run / "results.json").write_text(json.dumps(r))
    assert cli.main(["plot", str(run)]) == 0
    assert cli.main(["show", str(run)]) == 0
