"""The univariate-regimes experiment: smoke preset through the runner, the regime check on its
numbers, redrawing and resuming from saved work, every optional part, and config errors."""

import math

import pytest

from neuralpaths import runner
from neuralpaths.errors import ConfigError
from neuralpaths.experiments import get
from neuralpaths.experiments.univariate_regimes.report import crossover_at
from neuralpaths.experiments.univariate_regimes.run import crossings, same_sign_kinks
from neuralpaths.io import atomic_write_json_recorded, read_json

NAME = "univariate-regimes"
FIGURES = {"fits", "fits_by_ratio", "knot_trajectories", "knot_histograms", "distances", "knot_movement"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = runner.run_experiment(NAME, "smoke", out=tmp_path_factory.mktemp("uni") / "run", progress=False)
    return out, read_json(out / "results.json")


def test_smoke_run_writes_everything(smoke):
    out, results = smoke
    for name in ("config.json", "env.json", "results.json", "results.csv", "report.md"):
        assert (out / name).is_file(), name
    assert {p.stem for p in (out / "figures").glob("*.png")} == FIGURES
    assert all(p.stat().st_size > 10_000 for p in (out / "figures").glob("*.png"))
    assert [r["ratio"] for r in results["runs"]] == [1e-4, 1.0]
    for r in results["runs"]:
        assert {"dist_cubic", "dist_linear", "knot_movement", "knots_near_samples", "converged"} <= set(r)
        assert r["converged"] and len(r["fit"]) == len(results["plot_grid"]) == 100
        assert len(r["final_knots"]) == len(r["final_delta_slopes"]) == 40
    ends = results["runs"][0], results["runs"][-1]
    assert all(len(r["knot_trajectories"]) == len(r["checkpoint_steps"]) for r in ends)
    assert len(results["samples"]["x"]) == 6 and results["references"] == results["datasets"] == []
    assert (out / "results.csv").read_text().splitlines()[0].startswith("ratio,gain,dist_cubic,dist_linear")
    report = (out / "report.md").read_text()
    assert "## Summary" in report and "![knot_trajectories](figures/knot_trajectories.png)" in report


def test_smoke_numbers_show_the_two_regimes(smoke):
    """Ratio 1e-4: knots frozen, the fit is the frozen-knot min-norm interpolant, nearer the cubic
    spline; ratio 1: knots on the samples, the fit is the linear interpolant."""
    _, results = smoke
    lazy, rich = results["runs"]
    assert lazy["dist_cubic"] < lazy["dist_linear"] and lazy["dist_kernel"] < 0.01
    assert lazy["knot_movement"] < 1e-3 and lazy["knots_moved"] == 0
    assert rich["dist_linear"] < 0.05 < rich["dist_cubic"]
    assert rich["knot_movement"] > 100 * lazy["knot_movement"]
    assert rich["knots_near_samples"] > 0.9 > 0.3 > rich["knots_near_chance"]
    assert len(results["crossings"]) == 1 and 1e-4 < results["crossings"][0] < 1
    text = get(NAME).summary(results)
    assert "closer to the cubic spline" in text and "closer to the linear interpolant" in text
    assert "NOT" not in text and "grows monotonically" in text


def test_plot_redraws_from_results_and_resume_reuses_finished_runs(smoke, tmp_path):
    out, results = smoke
    for p in (out / "figures").glob("*.png"):
        p.unlink()
    assert {p.stem for p in runner.replot(out)} == FIGURES
    # a finished run is read back from checkpoints/, not trained again
    ckpts = sorted((out / "checkpoints").glob("*.json"))
    assert len(ckpts) == 2
    record = read_json(ckpts[0]) | {"steps": -1}
    atomic_write_json_recorded(ckpts[0], record)  # a rewrite with its digest recorded
    experiment = get(NAME)
    again = experiment.run(runner.make_config(experiment, "smoke"), out)  # what `neuralpaths resume` calls
    assert -1 in [r["steps"] for r in again["runs"]]
    assert [r["dist_cubic"] for r in again["runs"]] == [r["dist_cubic"] for r in results["runs"]]


def test_references_gain_sweep_and_extra_data(tmp_path):
    overrides = {
        "width": 20,
        "references": ("ntk", "mean-field"),
        "gains": (1.0,),
        "extra_data": ("gaussian:0",),
        "steps": 20_000,
        "tol": 1e-4,
    }
    out = runner.run_experiment(NAME, "smoke", overrides, out=tmp_path / "run", progress=False)
    results = read_json(out / "results.json")
    assert {p.stem for p in (out / "figures").glob("*.png")} == FIGURES | {"gains", "datasets"}
    refs = {r["kind"]: r for r in results["references"]}
    assert refs["ntk"]["gain"] == pytest.approx(math.sqrt(20)) and refs["mean-field"]["gain"] == 1.0
    assert [s["gain"] for s in results["gain_sweep"]] == [1.0, 10.0]
    assert results["gain_sweep"][1]["runs"][0]["dist_cubic"] == results["runs"][0]["dist_cubic"]
    (data,) = results["datasets"]
    assert data["data"] == "gaussian:0" and data["same_sign_kinks"] == 2 and len(data["runs"]) == 2
    tables = get(NAME).tables(results)
    assert len(tables) == 4 and len(tables["Other datasets"]) == 2
    text = get(NAME).summary(results)
    assert "NTK (M=1/√m) = ratio 1 at gain 4.47" in text and "Data gaussian:0 (2 neighbouring kinks" in text


def test_crossings_same_sign_kinks_and_crossover_interpolation():
    runs = [
        {"ratio": 1e-3, "dist_cubic": 0.1, "dist_linear": 0.5},
        {"ratio": 1e-1, "dist_cubic": 0.5, "dist_linear": 0.1},
        {"ratio": 1e1, "dist_cubic": 0.5, "dist_linear": 0.2},
    ]
    assert crossings(runs) == [pytest.approx(1e-2)]  # halfway in log ratio
    assert crossings(runs[1:]) == []
    assert same_sign_kinks([0, 1, 2, 3, 4], [0, 1, 0, 1, 0]) == 0  # zig-zag
    assert same_sign_kinks([0, 1, 2, 3, 4], [0, 1, 3, 6, 10]) == 2  # convex: every kink bends up
    sweep = [{"gain": 1.0, "crossings": [1e-3]}, {"gain": 100.0, "crossings": [1e-1]}]
    assert crossover_at(sweep, 10.0) == pytest.approx(1e-2)
    assert crossover_at(sweep, 1000.0) is None


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"ratios": (1.0, 1e-3)}, "ratios must be >= 2 increasing positive numbers"),
        ({"ratios": (1.0,)}, "ratios must be >= 2"),
        ({"references": ("lazy",)}, r"unknown references \['lazy'\]"),
        ({"gains": (0.0,)}, "gains must be distinct positive numbers"),
        ({"extra_data": ("zigzag",)}, "extra_data entries look like zigzag:3 or gaussian:0; got 'zigzag'"),
        ({"extra_data": ("zigzag:0",)}, "extra_data repeats a dataset"),
    ],
)
def test_config_errors(tmp_path, overrides, match):
    with pytest.raises(ConfigError, match=match):
        runner.run_experiment(NAME, "smoke", overrides, out=tmp_path / "run", progress=False)
