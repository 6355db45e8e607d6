"""``neuralpaths show`` and ``neuralpaths plot`` on sweep folders (one row per grid point, the mean ±
std over a seed axis, failed trials with their errors; every finished trial's figures redrawn, then
the sweep's report and figure) and on multi-seed runs with a failed seed; one line for a folder that
is neither a run nor a sweep."""

from __future__ import annotations

import statistics

import pytest

from neuralpaths import cli, experiments, runner
from neuralpaths.io import atomic_write_json, read_json
from neuralpaths.parallel import TrialsFailed
from neuralpaths.report import fmt


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "tests.experiments.toy_experiment")
    return experiments.get("toy")


@pytest.fixture
def failing_sweep(tmp_path, monkeypatch):
    """A toy sweep over label × seed whose point ``label=b,seed=1`` failed."""
    marker = tmp_path / "fail-these"
    marker.write_text("b@1\n")
    monkeypatch.setenv("TOY_FAIL_FILE", str(marker))
    out = tmp_path / "sweep"
    grid = {"label": ["a", "b"], "seed": [0, 1, 2]}
    with pytest.raises(TrialsFailed):
        runner.sweep("toy", grid, "smoke", out=out, progress=False)
    return out, marker


def cli_output(args: list[str], capsys) -> str:
    assert cli.main(args) == 0
    return capsys.readouterr().out


def test_show_prints_the_grid_points_the_mean_over_seeds_and_the_failed_trial(failing_sweep, capsys):
    out, _ = failing_sweep
    text = cli_output(["show", str(out)], capsys)
    assert text.startswith(f"toy sweep (smoke preset) — {out}\n5 of 6 grid points done")
    assert "Grid points (one row each)" in text and "Mean ± std over seeds (of 3" in text
    traces = {s: read_json(out / f"label=a,seed={s}" / "results.json")["trace"] for s in (0, 1, 2)}
    mean, std = statistics.fmean(traces.values()), statistics.stdev(traces.values())
    over_seeds = text.split("Mean ± std over seeds")[1].split("Failed trials")[0]
    rows = {line.split()[0]: line for line in over_seeds.splitlines() if line.startswith(("a ", "b "))}
    assert f"{fmt(mean)} ± {fmt(std)}" in rows["a"] and rows["a"].split()[1] == "3"  # 3 seeds finished
    assert rows["b"].split()[1] == "2"
    failed = "Failed trials\n- label=b,seed=1: RuntimeError: injected failure for label b"
    assert failed in text
    status = read_json(out / "status.json")
    del status["errors"]  # a sweep written before errors were recorded: the trial's own status says
    atomic_write_json(out / "status.json", status)
    assert failed in cli_output(["show", str(out)], capsys)
    # the same numbers the sweep wrote into its report (one computation)
    report = (out / "report.md").read_text()
    assert f"| a | 3 | {fmt(mean)} ± {fmt(std)} |" in report and "![sweep_mean_std]" in report


def test_plot_redraws_every_finished_trial_and_the_sweeps_report(failing_sweep, capsys):
    out, marker = failing_sweep
    status = read_json(out / "status.json")
    assert status["state"] == "failed" and "injected failure" in status["errors"]["label=b,seed=1"]
    for f in [
        out / "report.md",
        out / "figures" / "sweep_mean_std.png",
        out / "label=a,seed=2" / "report.md",
    ]:
        f.unlink()
    (out / "label=a,seed=0" / "figures" / "trace.png").unlink()
    printed = cli_output(["plot", str(out)], capsys).split()
    assert str(out / "label=a,seed=0" / "figures" / "trace.png") in printed
    assert str(out / "figures" / "sweep_mean_std.png") in printed
    assert len([p for p in printed if p.endswith("trace.png")]) == 5  # the failed point has none
    assert all((out.parent / p).is_file() for p in printed)
    assert (out / "label=a,seed=2" / "report.md").is_file()
    report = (out / "report.md").read_text()
    assert "## Mean ± std over seeds" in report and "`label=b,seed=1`: RuntimeError: injected" in report
    assert read_json(out / "status.json") == status  # plot leaves the sweep's state alone
    marker.write_text("")
    runner.resume(out, progress=False)
    assert "6 of 6 grid points done" in cli_output(["show", str(out)], capsys)


def test_show_and_plot_of_a_sweep_without_a_seed_axis(tmp_path, capsys):
    out = runner.sweep("toy", {"n": [4, 6]}, "smoke", out=tmp_path / "s", progress=False)
    text = cli_output(["show", str(out)], capsys)
    assert "2 of 2 grid points done" in text and "Mean ± std" not in text and "Failed" not in text
    assert len(cli_output(["plot", str(out)], capsys).split()) == 2  # one figure per trial


def test_show_lists_the_failed_seeds_of_a_multi_seed_run(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "fail-these"
    marker.write_text("toy@1\n")
    monkeypatch.setenv("TOY_FAIL_FILE", str(marker))
    out = tmp_path / "seeds"
    with pytest.raises(TrialsFailed):
        runner.run_experiment("toy", "smoke", seeds=[0, 1, 2], out=out, progress=False)
    text = cli_output(["show", str(out)], capsys)
    assert "±" in text and "Failed seeds (not in the tables above)\n- seed-1: RuntimeError" in text
    printed = cli_output(["plot", str(out)], capsys).split()
    assert str(out / "figures" / "seeds_mean_std.png") in printed and len(printed) == 3


@pytest.mark.parametrize("command", ["show", "plot"])
def test_neither_a_run_nor_a_sweep_is_one_line(command, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for folder, why in (
        (tmp_path / "empty", "no config.json or sweep.json in it"),
        (tmp_path / "no", "it does not exist"),
    ):
        assert cli.main([command, str(folder)]) == 2
        err = capsys.readouterr().err
        assert err == f"neuralpaths: error: {folder} is not a run folder or a sweep folder ({why})\n"
