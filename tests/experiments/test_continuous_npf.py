"""continuous-npf end to end on the smoke preset (real MNIST), the paper preset's protocol and guard, and
the report's verdict against the numbers."""

import dataclasses

import pytest
import torch

from neuralpaths import experiments, runner
from neuralpaths.errors import ConfigError
from neuralpaths.experiments.continuous_npf.report import PAPER_STAGES, outcome, plot, summary
from neuralpaths.io import read_json, read_jsonl
from neuralpaths.models import DGN, Arch, ReLUNet

EXP = experiments.get("continuous-npf")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnpf") / "run"
    runner.run_experiment("continuous-npf", "smoke", out=out, progress=False)
    return out


def test_smoke_run_has_the_issue_keys_and_figure(smoke):
    res = read_json(smoke / "results.json")
    cfg = runner.make_config(EXP, "smoke")
    assert len(res["stages"]) == len(cfg.setups) * len(cfg.stage_epochs)
    for name in cfg.setups:
        recs = [r for r in res["stages"] if r["setup"] == name]
        assert [r["stage"] for r in recs] == list(range(len(cfg.stage_epochs)))
        assert [r["relu_epochs"] for r in recs] == list(cfg.stage_epochs)
        assert {r["relu_test_acc"] for r in recs} == {res["setups"][name]["relu_test_acc"]}
        assert recs[-1]["relu_stage_acc"] == recs[-1]["relu_test_acc"]  # the last stage copies the final net
        for r in recs:
            assert (
                0 <= r["test_acc"] <= r["best_test_acc"] <= 100 and len(r["test_curve"]) == cfg.flnpf_epochs
            )
    assert (
        res["setups"]["gconv/mnist"]["dataset"] == "mnist (4x4 pooled)"
        and "x (1, 7, 7)" in (res["setups"]["gconv/mnist"]["data"])
    )
    assert res["setups"]["fc/mnist"]["data"].count("(784,)") == 1
    assert {p.name for p in (smoke / "figures").iterdir()} == {"stages.png"}
    models = {(r["setup"], r["model"]) for r in read_jsonl(smoke / "metrics.jsonl")}
    assert ("fc/mnist", "relu") in models and ("gconv/mnist", "flnpf-stage2") in models
    text = (smoke / "report.md").read_text()
    for s in res["setups"].values():
        held, line = outcome(s)
        assert line in text and ("The claim held in this run" in line) == held
        assert f"{s['relu_test_acc']:.2f} %" in line


def test_running_again_reuses_every_finished_stage(smoke):
    cfg = runner.make_config(EXP, "smoke")
    again = EXP.run(cfg, smoke)  # nothing left to train: checkpoints and stage records are read back
    assert again["stages"] == read_json(smoke / "results.json")["stages"]


def test_stage_zero_copies_the_untrained_gates_and_every_stage_the_same_value_init():
    arch = Arch.mlp(5, [4, 3], 2)
    relu = ReLUNet(arch, init="glorot", seed=0)
    x = torch.randn(7, 5)
    a = DGN.regime("flnpf", arch, seed=1, init="glorot", relu_net=relu)
    trained = ReLUNet(arch, init="glorot", seed=9)
    b = DGN.regime("flnpf", arch, seed=1, init="glorot", relu_net=trained)
    assert all(torch.equal(g, h) for g, h in zip(a.gates(x), relu.gates(x)))
    assert all(torch.equal(p, q) for p, q in zip(a.value.parameters(), b.value.parameters()))
    assert a.gating_frozen and b.gating_frozen


def test_verdict_follows_the_numbers():
    def setup(accs, relu=90.0):
        stages = [
            {"stage": i, "relu_epochs": i, "test_acc": a, "best_test_acc": a} for i, a in enumerate(accs)
        ]
        return {"arch": "fc", "dataset": "mnist", "note": "", "relu_test_acc": relu, "stages": stages}

    assert outcome(setup([80.0, 85.0, 88.0]))[0]
    assert not outcome(setup([80.0, 79.0, 78.0]))[0]
    assert not outcome(setup([80.0, 85.0, 79.5]))[0]
    held, text = outcome(setup([80.0, 79.0, 84.0, 92.0]))
    assert not held and "held only in part" in text and "fell at stage 1." in text
    assert "the last stage 2.00 points above it" in text and "10.00 points below the ReLU net" in text
    assert "did NOT hold" in summary({"setups": {"fc/mnist": setup([80.0, 79.0, 78.0])}})


def test_paper_preset_is_the_papers_protocol_and_needs_the_cifar_folder(monkeypatch, tmp_path):
    cfg = runner.make_config(EXP, "paper")
    assert cfg.setups == ("gconv/cifar10",) and cfg.stage_epochs == (0, 10, 20, 30, 40, 50, 60)
    assert (cfg.flnpf_epochs, cfg.optimizer, cfg.lr, cfg.batch_size) == (80, "adam", 3e-4, 32)
    assert (cfg.channels, cfg.dense, cfg.bias, cfg.image_pool) == ((64, 64, 128, 128), (256, 256), True, 1)
    monkeypatch.delenv("NEURALPATHS_CIFAR10_DIR", raising=False)
    with pytest.raises(ConfigError, match="--set data_dir="):
        EXP.check(cfg)
    EXP.check(dataclasses.replace(cfg, data_dir=str(tmp_path)))  # given a folder, the check passes
    # the paper's curve is drawn and reported beside ours when the paper's setting ran
    stages = [
        {"setup": "gconv/cifar10", "stage": s, "relu_epochs": 10 * s, "test_acc": 60.0 + s,
         "best_test_acc": 61.0 + s, "relu_stage_acc": 70.0, "relu_test_acc": 75.0}
        for s in range(7)
    ]  # fmt: skip
    res = {
        "setups": {"gconv/cifar10": {"arch": "gconv", "dataset": "cifar10", "note": "", "relu_test_acc": 75.0,
                                     "stages": stages}},
        "stages": stages, "flnpf_epochs": 80, "copy_from": "best",
    }  # fmt: skip
    text = summary(res)
    assert f"stage 6 67.00 vs {PAPER_STAGES[6]:.2f}" in text and "≈77.00" in text
    assert [p.name for p in plot(res, tmp_path)] == ["stages.png"]
    with pytest.raises(ConfigError, match="arch/dataset"):
        EXP.check(dataclasses.replace(cfg, setups=("mlp/mnist",)))


def test_paper_preset_runs_end_to_end_on_a_fake_cifar_folder(tmp_path, monkeypatch):
    """The paper's protocol (CIFAR-10 GCONV, best-validation checkpoints copied) runs through, shrunk."""
    from neuralpaths.data.cifar import CIFAR10_ENV

    from ..data.test_cifar import _write_cifar

    monkeypatch.delenv(CIFAR10_ENV, raising=False)
    folder, _ = _write_cifar(tmp_path, per_batch=8, n_test=6)
    tiny = {"channels": (2, 2), "dense": (4,), "stage_epochs": (0, 1, 2), "flnpf_epochs": 1, "val_size": 10}
    overrides = {"data_dir": str(folder), "threads": 1, "device": "cpu", **tiny}
    out = runner.run_experiment("continuous-npf", "paper", overrides, out=tmp_path / "r", progress=False)
    res = read_json(out / "results.json")
    assert res["copy_from"] == "best" and res["setups"]["gconv/cifar10"]["dataset"] == "cifar10"
    recs = res["stages"]
    assert [r["stage"] for r in recs] == [0, 1, 2] and [r["relu_epochs"] for r in recs] == [0, 1, 2]
    assert all(0 <= r["test_acc"] <= r["best_test_acc"] <= 100 for r in recs)
    report = (out / "report.md").read_text()
    assert f"{PAPER_STAGES[0]:.2f}" in report and (out / "figures" / "stages.png").exists()
