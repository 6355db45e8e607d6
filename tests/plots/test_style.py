"""Shared figure conventions: plain log ticks, integer epochs, bars from zero, the preset named."""

from __future__ import annotations

import json

import numpy as np
from matplotlib.figure import Figure

from neuralpaths.plots.seeds import aggregate_figure, main_metric
from neuralpaths.plots.style import (
    bars_from_zero,
    integer_ticks,
    mean_std,
    plain_log_ticks,
    plain_number,
    preset_label,
)


def _labels(fig: Figure, axis) -> list[str]:
    fig.canvas.draw()
    ticks = axis.get_majorticklabels() + axis.get_minorticklabels()
    return [t.get_text() for t in ticks if t.get_text()]


def test_plain_number():
    assert [plain_number(v) for v in (2.0, 0.002, 1500.0, 1e-6)] == ["2", "0.002", "1500", "1e-06"]


def test_log_axis_labels_are_plain_numbers():
    fig = Figure()
    ax = fig.subplots()
    ax.plot([1.5, 3.5], [0.002, 0.004])
    ax.set(xscale="log", yscale="log")
    plain_log_ticks(ax)
    labels = _labels(fig, ax.xaxis) + _labels(fig, ax.yaxis)
    assert labels, "a short log range still gets labelled ticks"
    assert not any("10^" in t or "times" in t or "×" in t or "$" in t for t in labels), labels
    assert {"2", "3"} <= set(_labels(fig, ax.xaxis))


def test_integer_epoch_ticks_on_a_short_run():
    fig = Figure()
    ax = fig.subplots()
    ax.plot([1, 2, 3], [50.0, 60.0, 55.0])
    integer_ticks(ax)
    fig.canvas.draw()
    locs = [t for t in ax.get_xticks() if 1 <= t <= 3]
    assert locs and all(float(t).is_integer() for t in locs)


def test_bars_start_at_zero_even_when_values_are_close():
    fig = Figure()
    ax = fig.subplots()
    ax.bar([0, 1], [96.0, 97.5])
    ax.set_ylim(94, 98)
    bars_from_zero(ax, [96.0, 97.5])
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] > 97.5


def test_preset_label_reads_the_run_folder(tmp_path):
    assert preset_label(tmp_path) == "run settings unknown"
    record = {"experiment": "x", "preset": "smoke", "overrides": {"epochs": 3}, "seeds": [0]}
    (tmp_path / "config.json").write_text(json.dumps(record))
    assert preset_label(tmp_path) == "smoke preset, --set epochs=3"
    record["overrides"] = {"data_dir": "/data/sets/cifar-10-batches-py/", "note": "x" * 40, "a": 1, "b": 2}
    (tmp_path / "config.json").write_text(json.dumps(record))
    label = preset_label(tmp_path)  # paths by their last part, long values cut, three overrides at most
    assert label == f"smoke preset, --set data_dir=…/cifar-10-batches-py, note={'x' * 23}…, a=1, …"


def test_mean_std_over_seeds():
    mean, std = mean_std([[1.0, 2.0], [3.0, 4.0]])
    assert np.allclose(mean, [2.0, 3.0]) and np.allclose(std, [2**0.5, 2**0.5])
    assert np.allclose(mean_std([[5.0, 6.0]])[1], 0.0)


def test_aggregate_figure_uses_the_averaged_metric(tmp_path):
    rows = [
        {"model": "A", "params": 10, "test_acc": 90.0, "test_acc_std": 1.0, "s": 3.0, "s_std": 0.1},
        {"model": "B", "params": 10, "test_acc": 80.0, "test_acc_std": 2.0, "s": 2.0, "s_std": 0.1},
    ]
    assert main_metric(rows) == "test_acc"
    assert aggregate_figure("t", rows, 3, tmp_path / "f.png").is_file()
    assert aggregate_figure("t", [{"model": "A", "params": 10}], 3, tmp_path / "g.png") is None
