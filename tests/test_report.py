"""Report wording chosen by the measured outcome, and mean ± std over seeds of metrics only."""

from __future__ import annotations

import statistics

import pytest

from neuralpaths import experiments, runner
from neuralpaths.io import read_json
from neuralpaths.report import aggregate_rows, bracket, compare, data_sizes, gap_phrase, markdown_table


@pytest.mark.parametrize("diff", [6.77, -6.77, 0.4, -0.4])
def test_compare_picks_the_verb_by_sign_and_never_states_a_negative_size(diff):
    text = compare("The DLGN", "the ReLU net", diff)
    assert f"by {abs(diff):.2f} points" in text
    assert ("beats" in text) == (diff > 0) and ("trails" in text) == (diff < 0)
    assert "-" not in text and "−" not in text


def test_compare_and_gap_call_a_rounded_zero_a_tie():
    assert "matches" in compare("A", "B", 0.001) and "beats" not in compare("A", "B", 0.001)
    assert gap_phrase(0.004) == "level with"
    assert gap_phrase(-2.5) == "2.50 points below" and gap_phrase(2.5) == "2.50 points above"


def test_bracket_names_the_measured_neighbours_of_each_sign_change():
    xs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert bracket(xs, [1.0, 0.5, -0.1, -0.2, 0.3]) == [(1e-3, 1e-2), (1e-1, 1.0)]
    assert bracket(xs, [1.0, 0.5, 0.1, 0.2, 0.3]) == []


def _seed_table(seed: int, acc: float) -> list[dict]:
    return [
        {"model": "DLGN", "params": 25760, "status": "done" if seed else "resumed", "test_acc": acc},
        {"model": "ReLU", "params": 25760, "status": "done", "test_acc": acc + 1.0},
    ]


def test_aggregate_averages_numeric_metrics_and_shows_identifying_columns_once():
    accs = [90.0, 91.5, 93.0]
    rows = aggregate_rows([_seed_table(s, a) for s, a in enumerate(accs)])
    assert rows[0]["test_acc"] == pytest.approx(statistics.fmean(accs))
    assert rows[0]["test_acc_std"] == pytest.approx(statistics.stdev(accs))
    assert rows[0]["params"] == 25760 and "params_std" not in rows[0]
    assert rows[0]["model"] == "DLGN" and rows[1]["status"] == "done"
    assert rows[0]["status"] == "varies by seed"  # never the first seed's text passed off as all seeds'
    table = markdown_table(rows)
    assert "25760 ±" not in table and "25760" in table and "±" in table


def test_aggregate_keeps_a_metric_column_a_metric_in_every_row():
    a = [{"m": "x", "acc": 50.0}, {"m": "y", "acc": 70.0}]
    b = [{"m": "x", "acc": 50.0}, {"m": "y", "acc": 72.0}]
    rows = aggregate_rows([a, b])
    assert rows[0]["acc_std"] == 0.0 and rows[1]["acc_std"] == pytest.approx(2**0.5)


def test_data_sizes_reads_a_data_summary():
    line = "mnist-4v7: train 20, val 0, test 2010; x (784,) float32 in [0, 1]; 2 classes"
    assert data_sizes(line) == {"train": 20, "val": 0, "test": 2010}
    assert data_sizes("no sizes here") == {}


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "tests.experiments.toy_experiment")
    return experiments.get("toy")


def test_multi_seed_report_has_error_bar_figure_and_no_constant_plus_minus(toy, tmp_path):
    out = runner.run_experiment("toy", seeds=[0, 1, 2], out=tmp_path / "s", progress=False)
    report = (out / "report.md").read_text()
    assert (out / "figures" / "seeds_mean_std.png").is_file()
    assert "](figures/seeds_mean_std.png)" in report
    assert "mean ± std over 3 seeds" in report
    rows = read_json(out / "results.json")["aggregate_tables"]["NPK"]
    assert rows[0]["model"] == "mlp" and "model_std" not in rows[0] and "trace_std" in rows[0]
