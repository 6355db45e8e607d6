"""resnet-ensemble end to end on the smoke preset (scikit-learn digits): the sub-architectures' NPKs
sum to the network's NPK, the saved results hold every statistic, and a resumed run reproduces them."""

import math

import pytest
import torch

from neuralpaths import runner
from neuralpaths.experiments import common
from neuralpaths.experiments.resnet_ensemble.report import code, depth, tables
from neuralpaths.experiments.resnet_ensemble.run import saved_kernels
from neuralpaths.io import read_json

STATS = {"trace", "inner_with_total", "trace_share", "frobenius_share", "alignment", "nu", "effective_rank"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("resnet-ensemble") / "run"
    runner.run_experiment("resnet-ensemble", "smoke", out=out, progress=False)
    return out


def test_results_keys(smoke):
    res = read_json(smoke / "results.json")
    assert len(res["parts"]) == 2 ** res["arch"]["blocks"] == 8
    for v in [*res["parts"].values(), res["total"]]:
        assert set(v) == {"init", "trained"}
        for stage in v.values():
            assert STATS | {"regression_acc"} <= set(stage)
            assert (
                math.isfinite(stage["nu"]) and -1 <= stage["alignment"] <= 1 and stage["effective_rank"] >= 1
            )
    assert res["total"]["init"]["trace_share"] == pytest.approx(1.0)
    assert 0 <= res["test_acc_init"] <= 100 and res["test_acc"] > 50  # digits: learned something
    assert res["arch"]["summary"].count("add") == 3 and res["arch"]["paths"] > 10**9
    assert sum(res["arch"]["path_share"].values()) == pytest.approx(1.0, rel=1e-12)
    assert {depth(k) for k in res["parts"]} == {0, 1, 2, 3}
    assert {code(k) for k in res["parts"]} == {a + b + c for a in "SB" for b in "SB" for c in "SB"}


def test_parts_sum_to_the_total(smoke):
    res = read_json(smoke / "results.json")
    for stage in ("init", "trained"):
        parts = [v[stage] for v in res["parts"].values()]
        total = res["total"][stage]
        # additive statistics, re-checked from the saved numbers
        assert sum(p["trace"] for p in parts) == pytest.approx(total["trace"], rel=1e-8)
        assert sum(p["inner_with_total"] for p in parts) == pytest.approx(total["inner_with_total"], rel=1e-8)
        assert sum(p["trace_share"] for p in parts) == pytest.approx(1.0, rel=1e-8)
        assert sum(p["frobenius_share"] for p in parts) == pytest.approx(1.0, rel=1e-8)
        assert res["sum_rel_error"][stage] < 1e-8
        # and from the saved kernels themselves
        kernels = saved_kernels(smoke, stage)
        total_k = kernels.pop("total")
        assert set(kernels) == set(res["parts"]) and total_k.dtype == torch.float64
        err = (sum(kernels.values()) - total_k).norm() / total_k.norm()
        assert float(err) < 1e-8


def test_report_and_figures(smoke):
    report = (smoke / "report.md").read_text()
    res = read_json(smoke / "results.json")
    assert res["arch"]["summary"] in report and "sub-architectures" in report
    assert f"{res['test_acc']:.2f}%" in report  # the summary is computed from the results
    assert {p.name for p in (smoke / "figures").iterdir()} == {
        "shares.png",
        "alignment.png",
        "share_by_depth.png",
        "kernels.png",
    }
    rows = next(iter(tables(res).values()))
    assert [r["sub_architecture"] for r in rows][-1] == "total" and rows[0]["sub_architecture"] == "SSS"


def test_resume_reproduces_the_run(smoke, tmp_path, monkeypatch):
    real_fit = common.fit

    def interrupted_fit(model, data, cfg, **kw):
        real_fit(model, data, cfg, stop_after=2, **kw)
        raise KeyboardInterrupt

    out = tmp_path / "run"
    monkeypatch.setattr(common, "fit", interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment("resnet-ensemble", "smoke", out=out, progress=False)
    assert (out / "kernels_init.json").exists() and not (out / "results.json").exists()
    monkeypatch.undo()
    runner.resume(out, progress=False)
    a, b = read_json(out / "results.json"), read_json(smoke / "results.json")
    assert a["parts"] == b["parts"] and a["total"] == b["total"] and a["test_acc"] == b["test_acc"]


def test_bad_settings(tmp_path):
    from neuralpaths.errors import ConfigError

    with pytest.raises(ConfigError, match="one entry per stage"):
        runner.run_experiment(
            "resnet-ensemble", "smoke", {"blocks": (1, 1)}, out=tmp_path / "a", progress=False
        )
    with pytest.raises(ConfigError, match="at most 6"):
        runner.run_experiment(
            "resnet-ensemble", "smoke", {"blocks": (3, 2, 2)}, out=tmp_path / "b", progress=False
        )
