"""``neuralpaths compare``: the common numeric metrics of several runs side by side, printed and
plotted; runs with nothing in common, or fewer than two, are one-line errors."""

from __future__ import annotations

import csv

import pytest

from neuralpaths import cli, experiments, runner
from neuralpaths.io import read_json


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "tests.experiments.toy_experiment")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two single runs of the toy experiment and a multi-seed one (mean ± std tables)."""
    base = tmp_path_factory.mktemp("runs")
    experiments.EXPERIMENTS["toy"] = "tests.experiments.toy_experiment"
    try:
        a = runner.run_experiment("toy", "smoke", out=base / "a", progress=False)
        b = runner.run_experiment("toy", "smoke", {"n": 6}, out=base / "b", progress=False)
        s = runner.run_experiment("toy", "smoke", seeds=[0, 1], out=base / "s", progress=False)
    finally:
        del experiments.EXPERIMENTS["toy"]
    return a, b, s


def test_compare_prints_and_plots_the_common_metrics(runs, tmp_path, capsys):
    a, b, s = runs
    out = tmp_path / "cmp"
    assert cli.main(["compare", str(a), str(b), str(s), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "numeric metrics common to 3 runs" in text and "NPK: mlp trace" in text
    rows = list(csv.DictReader((out / "compare.csv").open()))
    by_metric = {r["metric"]: r for r in rows}
    trace = by_metric["NPK: mlp trace"]
    assert float(trace["a"]) == read_json(a / "results.json")["trace"]
    assert float(trace["b"]) == read_json(b / "results.json")["trace"]
    agg = read_json(s / "results.json")["aggregate_tables"]["NPK"][0]
    assert float(trace["s"]) == pytest.approx(agg["trace"]) and float(trace["s_std"]) == pytest.approx(
        agg["trace_std"]
    )
    assert "±" in text  # the multi-seed run's spread is shown
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert "![compare](compare.png)" in (out / "compare.md").read_text()


def test_compare_default_folder_is_in_the_working_directory(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare", str(runs[0]), str(runs[1])]) == 0
    made = list(tmp_path.glob("compare-*/compare.png"))
    assert len(made) == 1 and f"figure: {made[0]}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "which,match",
    [
        (lambda a, b, s: [a], "compare needs two or more run folders"),
        (lambda a, b, s: [a, a], "the same run folder twice"),
        (lambda a, b, s: [a, a.parent], "is not a run folder"),
    ],
)
def test_compare_bad_input_is_one_line(runs, which, match, capsys, tmp_path):
    assert cli.main(["compare", *map(str, which(*runs)), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "c").exists()


def test_compare_refuses_runs_with_nothing_in_common(runs, tmp_path, monkeypatch, capsys):
    import dataclasses

    from tests.experiments import toy_experiment

    other = runner.run_experiment("toy", "smoke", {"label": "other"}, out=tmp_path / "o", progress=False)
    tables = lambda r: {f"table of {r['label']}": [{"x": r["trace"]}]}  # no title in common
    monkeypatch.setattr(
        toy_experiment, "EXPERIMENT", dataclasses.replace(toy_experiment.EXPERIMENT, tables=tables)
    )
    assert cli.main(["compare", str(runs[0]), str(other), "--out", str(tmp_path / "c")]) == 2
    assert "no numeric metric in common" in capsys.readouterr().err
