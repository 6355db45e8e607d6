"""path-sgd: the smoke preset end to end, the verdict rule of its report, and bad settings."""

from __future__ import annotations

import copy

import pytest

from neuralpaths import runner
from neuralpaths.errors import ConfigError
from neuralpaths.experiments.path_sgd import report
from neuralpaths.io import read_json


def test_path_sgd_smoke(tmp_path):
    out = runner.run_experiment("path-sgd", "smoke", out=tmp_path / "run", progress=False)
    res = read_json(out / "results.json")
    assert set(res["optimizers"]) == set(res["invariance"]) == {"path-sgd", "sgd", "adam"}
    for _name, o in res["optimizers"].items():
        assert {"final_train_loss", "test_acc", "path_norm_final", "lr", "by_init"} <= set(o)
        for r in o["by_init"].values():
            assert len(r["path_norm"]) == len(r["epoch"]) + 1 == 3  # init + 2 epochs
        b, u = o["by_init"]["balanced"], o["by_init"]["unbalanced"]
        assert u["path_norm_init"] == pytest.approx(b["path_norm_init"], rel=1e-5)  # same function, same norm
    assert [r["lr"] for r in res["optimizers"]["path-sgd"]["lr_grid"]] == [3e-4, 1e-3]  # the grid ran
    assert res["optimizers"]["path-sgd"]["lr"] in (3e-4, 1e-3)
    inv = res["invariance"]
    assert inv["path-sgd"]["relative_diff"] < 1e-10  # float64: the same trajectory
    assert inv["sgd"]["relative_diff"] > 1e-3 and inv["adam"]["relative_diff"] > 1e-3
    assert {p.name for p in (out / "figures").iterdir()} == {"curves.png", "invariance.png"}
    text = (out / "report.md").read_text()
    assert "Verdict: unaffected" in text and ("claim held" in text or "claim did not hold" in text)


def _results(path_accs=(90.0, 90.1), sgd_accs=(90.0, 80.0), path_rel=1e-14) -> dict:
    def run(acc, loss=0.3, diverged=None):
        return {"lr": 0.1, "test_acc": acc, "final_train_loss": loss, "path_norm_final": 2.0,
                "diverged_epoch": diverged}  # fmt: skip

    opts = {
        name: {
            "lr": 0.1,
            "test_acc": accs[0],
            "final_train_loss": 0.3,
            "path_norm_final": 2.0,
            "lr_grid": [],
            "by_init": {"balanced": run(accs[0]), "unbalanced": run(accs[1])},
        }
        for name, accs in (("path-sgd", path_accs), ("sgd", sgd_accs))
    }
    inv = {
        "path-sgd": {"steps": 5, "max_output_diff": path_rel, "relative_diff": path_rel},
        "sgd": {"steps": 5, "max_output_diff": 0.3, "relative_diff": 0.1},
    }
    setup = {"width": 8, "depth": 2, "epochs": 1, "batch_size": 4, "unbalance": 10.0}
    return {"data": "toy", "setup": setup, "optimizers": opts, "invariance": inv}


def test_report_verdicts_follow_the_stated_rule():
    res = _results()
    assert report.effect(res, "path-sgd")["verdict"] == "unaffected"
    assert report.effect(res, "sgd")["verdict"] == "affected"
    assert "claim held" in report.summary(res)
    drifted = _results(path_rel=1e-3)  # same end, but the float64 check failed: not "unaffected"
    assert report.effect(drifted, "path-sgd")["verdict"] == "undecided"
    assert "did not hold" in report.summary(drifted)
    broken = copy.deepcopy(res)
    broken["optimizers"]["sgd"]["by_init"]["unbalanced"].update(test_acc=None, diverged_epoch=2)
    assert report.effect(broken, "sgd") == {**report.effect(broken, "sgd"), "verdict": "affected"}
    assert "only the unbalanced run diverged" in report.summary(broken)
    same = _results(sgd_accs=(90.0, 90.2))
    assert report.effect(same, "sgd")["verdict"] == "undecided"  # same end, trajectory moved
    assert "did not hold" in report.summary(same) and "SGD undecided" in report.summary(same)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"optimizers": ("rmsprop",)}, "optimizers must be among"),
        ({"unbalance": 0.5}, "unbalance must be"),
        ({"lr_sgd": ()}, "learning rates of sgd"),
    ],
)
def test_path_sgd_rejects_bad_config(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        runner.run_experiment("path-sgd", "smoke", overrides=override, out=tmp_path / "run", progress=False)
