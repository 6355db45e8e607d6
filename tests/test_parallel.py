"""Trials in parallel: worker processes (``--jobs``) and Ray tasks (``--ray``) give the sequential
numbers; a failed trial leaves the others to finish, is reported, and ``resume`` re-runs only it;
results come back from a worker that cannot see the run folder; inside one run, ``map_trials`` runs
an experiment's own trials in worker processes, in order, with the threads shared out."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from neuralpaths import cli, experiments, runner
from neuralpaths.environment import num_threads
from neuralpaths.errors import ConfigError
from neuralpaths.io import read_json
from neuralpaths.parallel import TrialsFailed, map_trials

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [0, 1, 2, 3]


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "tests.experiments.toy_experiment")
    return experiments.get("toy")


def per_seed_numbers(out: Path) -> dict[int, dict]:
    """Each seed's results.json without its wall time (everything else must match bit for bit)."""
    return {
        s: {k: v for k, v in read_json(out / f"seed-{s}" / "results.json").items() if k != "seconds"}
        for s in SEEDS
    }


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    out = tmp_path_factory.mktemp("seq") / "s"
    experiments.EXPERIMENTS["toy"] = "tests.experiments.toy_experiment"
    try:
        runner.run_experiment("toy", "smoke", seeds=SEEDS, out=out, progress=False)
    finally:
        del experiments.EXPERIMENTS["toy"]
    return out


def test_jobs_give_the_sequential_numbers(sequential, tmp_path):
    out = runner.run_experiment("toy", "smoke", seeds=SEEDS, out=tmp_path / "p", progress=False, jobs=2)
    assert per_seed_numbers(out) == per_seed_numbers(sequential)
    assert (
        read_json(out / "results.json")["aggregate_tables"]
        == read_json(sequential / "results.json")["aggregate_tables"]
    )
    ran_on = [read_json(out / f"seed-{s}" / "env.json")["ran_on"] for s in SEEDS]
    assert {r["executor"] for r in ran_on} == {"processes"}
    assert os.getpid() not in {r["pid"] for r in ran_on} and all(r["host"] and r["worker"] for r in ran_on)
    assert read_json(sequential / "seed-0" / "env.json")["ran_on"]["executor"] == "sequential"
    assert read_json(out / "seed-2" / "config.json")["seeds"] == [2]  # each seed a run folder of its own
    assert read_json(out / "status.json")["state"] == "done"


def test_failed_trial_is_reported_and_resume_reruns_only_it(tmp_path, monkeypatch, capsys):
    """A sweep with a failure injected into one grid point (from outside the config, so the same
    trial can pass later): the other points finish, the failure is reported; once the cause is gone,
    ``resume`` runs that point alone."""
    marker = tmp_path / "fail-these"
    marker.write_text("b\n")
    monkeypatch.setenv("TOY_FAIL_FILE", str(marker))
    out = tmp_path / "w"
    args = ["sweep", "toy", "--preset", "smoke", "--grid", "label=a,b,c", "--jobs", "2", "--out", str(out)]
    assert cli.main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "1 of 3 trials failed (label=b: RuntimeError: injected" in err
    assert f"neuralpaths resume {out}" in err
    status = read_json(out / "status.json")
    assert status["state"] == "failed" and status["failed"] == ["label=b"]
    assert read_json(out / "label=b" / "status.json")["state"] == "failed"
    report = (out / "report.md").read_text()
    assert "## Failed trials" in report and "`label=b`: RuntimeError: injected failure" in report
    points = (out / "points.csv").read_text().splitlines()
    assert len(points) == 4 and points[2].startswith("b,failed")
    done_before = {p: (out / p / "results.json").stat().st_mtime_ns for p in ("label=a", "label=c")}

    marker.write_text("")  # the cause is fixed
    assert cli.main(["sweep", *args[1:], "--quiet"]) == 2  # the same command refuses a used folder
    assert "already holds a sweep; continue it with `neuralpaths resume" in capsys.readouterr().err
    assert cli.main(["resume", str(out), "--jobs", "2", "--quiet"]) == 0
    assert {p: (out / p / "results.json").stat().st_mtime_ns for p in done_before} == done_before
    assert read_json(out / "label=b" / "status.json")["state"] == "done"
    assert read_json(out / "status.json")["state"] == "done"
    lines = (out / "sweep.csv").read_text().splitlines()
    assert lines[0] == "label,model,trace" and len(lines) == 1 + 3 * 2
    assert "Failed" not in (out / "report.md").read_text()
    capsys.readouterr()
    assert cli.main(["resume", str(out)]) == 0 and "is finished; nothing to resume" in capsys.readouterr().out


def test_failed_seed_leaves_a_partial_summary_and_resumes(tmp_path, monkeypatch):
    marker = tmp_path / "fail-these"
    marker.write_text("toy@1\n")  # label toy, seed 1 only
    monkeypatch.setenv("TOY_FAIL_FILE", str(marker))
    out = tmp_path / "s"
    with pytest.raises(TrialsFailed, match="1 of 3 trials failed .seed-1: RuntimeError"):
        runner.run_experiment("toy", "smoke", seeds=[0, 1, 2], out=out, progress=False)
    summary = read_json(out / "results.json")
    assert summary["seeds"] == [0, 2] and "seed-1" in summary["failed"]
    assert "## Failed seeds" in (out / "report.md").read_text()
    assert "±" in runner.show(out)  # the finished seeds are shown meanwhile
    marker.write_text("")
    runner.resume(out, progress=False)
    assert read_json(out / "results.json")["seeds"] == [0, 1, 2] and "failed" not in read_json(
        out / "results.json"
    )


# --- trials inside one run (map_trials) -----------------------------------------------------------
def seeded_draw(item: int) -> tuple[int, float, int, int]:
    """A trial that seeds itself: (item, its draw, torch threads, pid). Top level: workers import it."""
    if item < 0:
        raise ValueError(f"item {item} is refused")
    draw = float(torch.randn(3, generator=torch.Generator().manual_seed(item)).sum())
    return item, draw, torch.get_num_threads(), os.getpid()


def test_map_trials_gives_the_loop_results_in_order_with_the_threads_shared_out():
    items = [4, 0, 3, 1, 2]
    with num_threads(2):
        loop = map_trials(seeded_draw, items, progress=False)
        workers = map_trials(seeded_draw, items, jobs=2, progress=False)
    assert [r[:2] for r in workers] == [r[:2] for r in loop] and [r[0] for r in loop] == items
    assert {r[2] for r in loop} == {2} and {r[3] for r in loop} == {os.getpid()}  # jobs=1: in-process
    assert {r[2] for r in workers} == {1} and os.getpid() not in {r[3] for r in workers}
    assert map_trials(seeded_draw, [], jobs=2) == []


def test_map_trials_raises_a_trials_error_and_refuses_bad_jobs():
    with pytest.raises(ValueError, match="item -1 is refused"):
        map_trials(seeded_draw, [0, -1, 2], jobs=2, progress=False)
    for jobs in (0, 1.5, True, 257):
        with pytest.raises(ConfigError, match="jobs must be an integer from 1 to 256"):
            map_trials(seeded_draw, [0], jobs=jobs)


# --- Ray -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance for this module's tests (its workers import the tests' toy experiment)."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}},
    )
    yield ray
    ray.shutdown()


def test_ray_gives_the_sequential_numbers(ray_instance, sequential, tmp_path):
    out = runner.run_experiment("toy", "smoke", seeds=SEEDS, out=tmp_path / "r", progress=False, ray="local")
    assert per_seed_numbers(out) == per_seed_numbers(sequential)
    ran_on = read_json(out / "seed-0" / "env.json")["ran_on"]
    assert (
        ran_on["executor"] == "ray" and ran_on["node"] and ran_on["worker"] and ran_on["pid"] != os.getpid()
    )
    assert (out / "seed-3" / "figures" / "trace.png").is_file()
    assert not list(out.glob(".neuralpaths-share"))  # the token file is cleaned up


def test_results_come_back_from_a_machine_without_the_folder(ray_instance, tmp_path, toy):
    """A task that cannot see the sweep folder runs in a temporary folder and returns every file."""
    from neuralpaths import raytasks

    cfg = runner.make_config(toy, "smoke")
    trial = runner.make_trial("toy", "smoke", {}, cfg, tmp_path / "t" / "seed-0", tmp_path / "t")
    outcome = raytasks.run_task(trial, "a token this folder does not hold", None)
    assert outcome.ok and not (tmp_path / "t" / "seed-0").exists()
    assert {"results.json", "env.json", "report.md", "figures/trace.png"} <= set(outcome.files)
    raytasks.write_back(outcome, trial)
    local = runner.run_experiment("toy", "smoke", out=tmp_path / "here", progress=False)
    shipped = read_json(tmp_path / "t" / "seed-0" / "results.json")
    assert {k: v for k, v in shipped.items() if k != "seconds"} == {
        k: v for k, v in read_json(local / "results.json").items() if k != "seconds"
    }
    assert (tmp_path / "t" / "seed-0" / "figures" / "trace.png").read_bytes()[:4] == b"\x89PNG"


def test_files_from_a_worker_cannot_leave_the_run_folder(tmp_path):
    from neuralpaths.errors import RunFolderError
    from neuralpaths.runfolder import unpack_files

    for name in ("../escape.txt", "/abs.txt", "a/../../b", ""):
        with pytest.raises(RunFolderError, match="not inside the run folder"):
            unpack_files({name: b"x"}, tmp_path / "r")
    assert not (tmp_path / "escape.txt").exists()


# --- the command line ----------------------------------------------------------------------------
def one_line_error(args, capsys) -> str:
    try:
        code = cli.main(args)
    except SystemExit as e:  # argparse
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err[:2000]
    return err


def test_ray_missing_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    args = ["run", "toy", "--seeds", "0,1", "--ray", "--quiet", "--out", str(tmp_path / "r")]
    assert "pip install neuralpaths[ray]" in one_line_error(args, capsys)
    assert not (tmp_path / "r").exists()  # refused before anything was created


@pytest.mark.parametrize(
    "extra,match",
    [
        (["--jobs", "0"], "--jobs expects a number of processes from 1 to 256"),
        (["--jobs", "many"], "--jobs expects"),
        (["--ray", "not an address"], "--ray takes no value"),
    ],
)
def test_bad_parallel_options(extra, match, capsys, tmp_path):
    assert match in one_line_error(
        ["run", "toy", "--seeds", "0,1", *extra, "--out", str(tmp_path / "r")], capsys
    )


def test_a_cuda_device_for_a_ray_cluster_is_checked_on_its_workers(monkeypatch):
    # A driver without a GPU may send trials to a cluster that has them: only the device's name is
    # checked here; without Ray, or on a local Ray instance (this machine), the device must exist.
    from neuralpaths.environment import device_name

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    experiment = experiments.get("dlgn-odt")
    cfg = runner.make_config(experiment, "smoke", {"device": "cuda:1"})
    assert runner.check_config(experiment, cfg, "ray://head:10001") == torch.device("cuda:1")
    assert runner.check_config(experiment, cfg, "auto") == torch.device("cuda:1")
    for ray in (None, "local"):
        with pytest.raises(ConfigError, match="is not available"):
            runner.check_config(experiment, cfg, ray)
    bad = runner.make_config(experiment, "smoke", {"device": "gpu"})
    with pytest.raises(ConfigError, match="device must be"):
        runner.check_config(experiment, bad, "ray://head:10001")
    assert device_name(torch.device("cuda:1")) == "cuda:1 (requested; not on this machine)"
