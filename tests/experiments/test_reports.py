"""Experiment reports say what the run showed: claims appear only when the measured numbers support
them, differences are worded by their sign, and figures beside a paper name the preset."""

from __future__ import annotations

import json

import pytest
import torch

from neuralpaths.experiments.dlgn_odt import report as odt
from neuralpaths.experiments.halfspace_2d import report as halfspace
from neuralpaths.experiments.kernel_regimes import report as kernels
from neuralpaths.experiments.npf_regimes import report as npf
from neuralpaths.experiments.npk_alignment import report as alignment
from neuralpaths.experiments.univariate_regimes import report as univariate
from neuralpaths.geometry import Hyperplanes

TARGET = Hyperplanes(
    torch.tensor([[1.0, 0.0]], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64)
)


def _frame(epoch: int, offset: float, acc: float) -> dict:
    gating = Hyperplanes(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([offset, 0.9]))
    return {"epoch": epoch, "test_acc": acc, "gating": [gating.to_dict()]}


def _montage(final_offset: float, final_acc: float) -> str:
    ds = {"models": {"dlgn": {"frames": [_frame(0, 0.5, 50.0), _frame(200, final_offset, final_acc)]}}}
    return halfspace.montage_title("tree", ds, TARGET)


def test_halfspace_title_claims_attraction_only_when_measured():
    assert "moved onto the target's discontinuities" in _montage(0.0, 99.0)
    low_acc = _montage(0.0, 20.0)  # lines on the targets but the net failed: no claim of success
    assert "moved onto" not in low_acc and "20.0%" in low_acc
    away = _montage(0.9, 99.0)
    assert "moved onto" not in away and "away from" in away


def test_dlgn_odt_summary_says_trails_when_the_dlgn_is_behind():
    run = {"data": "cob-odt", "n_test": 1000, "attraction": {}}
    run["models"] = {"dlgn": {"test_acc": 80.0}, "relu": {"test_acc": 86.77}}
    text = odt.summary({"runs": {"20": run}, "radii": [0.1], "preset": "smoke"})
    assert "trails the matched ReLU net by 6.77 points" in text
    assert "NOT" not in text and "-6.77" not in text and "smoke-preset run" in text


def test_npf_ordering_sentence_by_sign_and_preset_named():
    results = {
        "regimes": {"relu": {"test_acc": 90.0}, "frnpf-ii": {"test_acc": 95.0}},
        "setup": {"arch": "fc", "dataset": "mnist", "optimizer": "adam"},
        "preset": "smoke",
    }
    text = npf.summary(results)
    assert "does not hold" in text and "trails the best random-gate regime by 5.00 points" in text
    assert "smoke preset" in text and "by -" not in text


def test_npf_bars_from_zero_and_preset_in_the_paper_figure(tmp_path, monkeypatch):
    record = {"experiment": "npf-regimes", "preset": "smoke", "overrides": {}, "seeds": [0]}
    (tmp_path / "config.json").write_text(json.dumps(record))
    figs = []
    monkeypatch.setattr(npf, "save_figure", lambda fig, path: figs.append(fig) or path)
    curve = [90.0, 95.0, 96.0]
    regime = {"test_curve": curve, "val_curve": curve, "test_acc": 96.0, "best_test_acc": 96.0}
    results = {"regimes": {"relu": regime, "frnpf-ii": regime}, "setup": {"arch": "fc", "dataset": "mnist"}}
    npf.plot(results, tmp_path)
    bars = figs[1].axes[0]
    assert bars.get_ylim()[0] == 0.0 and "smoke preset" in bars.get_title()
    epochs = figs[0].axes[0]
    figs[0].canvas.draw()
    assert all(float(t).is_integer() for t in epochs.get_xticks())


def test_kernel_regimes_summary_has_no_double_negative():
    def kernel(label, accs):
        return {"label": label, "n": {str(n): {"test_acc": a} for n, a in zip((100, 1000), accs)}}

    results = {
        "train_sizes": [100, 1000],
        "kernels": {"npk-random": kernel("random", [80.0, 90.0]), "npk-trained": kernel("trained", [70, 85])},
        "net": {"n_train": 1000, "test_acc": 95.0},
    }
    text = kernels.summary(results)
    assert "trail random gates at every n" in text and "10.00 points below (n = 100)" in text
    assert "NOT" not in text and "-10" not in text


def test_npk_alignment_titles_from_the_data_not_the_default():
    results = {"data": "mnist-3v8: train 20, val 0, test 1984; x (784,) float32; 2 classes"}
    assert alignment.task(results) == ("3 vs 8", 20, 1984)


def _sweep(diffs):
    return [
        {"ratio": r, "dist_cubic": 0.5 + d / 2, "dist_linear": 0.5 - d / 2}
        for r, d in zip((1e-3, 1e-2, 1e-1), diffs)
    ]


@pytest.mark.parametrize(
    ("diffs", "expected"), [((-1, -0.5, 0.5), "between 0.01 and 0.1"), ((-1, -1, -1), "none")]
)
def test_univariate_crossing_between_measured_ratios(diffs, expected):
    assert univariate.brackets_text(_sweep(diffs)) == expected
