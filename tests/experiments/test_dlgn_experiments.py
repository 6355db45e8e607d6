"""The DLGN experiments (dlgn-odt, halfspace-2d, dlgn-images) run end to end on their smoke presets,
and what they report agrees with an independent recomputation from their checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from neuralpaths import DLGN, Arch
from neuralpaths.data.cifar import CIFAR10_ENV
from neuralpaths.errors import ConfigError, DataNotFoundError
from neuralpaths.experiments import get
from neuralpaths.experiments.dlgn_odt.run import make_model
from neuralpaths.experiments.halfspace_2d.report import unpack_grid
from neuralpaths.experiments.halfspace_2d.run import top_paths
from neuralpaths.geometry import Hyperplanes, gating_hyperplanes, nearest_gating_distance
from neuralpaths.io import load_checkpoint, read_json, read_jsonl
from neuralpaths.runner import make_config, run_experiment
from tests.data.test_cifar import _write_cifar


def _figures_embedded(out) -> list[str]:
    report = (out / "report.md").read_text()
    figures = sorted(p.name for p in (out / "figures").iterdir() if p.suffix in (".png", ".gif"))
    assert figures, "no figures written"
    for name in figures:
        assert (out / "figures" / name).stat().st_size > 5_000
    return [name for name in figures if f"(figures/{name})" in report]


# --- dlgn-odt ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def odt_run(tmp_path_factory):
    out = run_experiment("dlgn-odt", "smoke", out=tmp_path_factory.mktemp("odt") / "run", progress=False)
    return out, read_json(out / "results.json")


def test_odt_results_and_figures(odt_run):
    out, r = odt_run
    assert set(r["models"]) == {"dlgn", "dlgn-sf", "relu"}
    for m in r["models"].values():
        assert 0 <= m["test_acc"] <= 100 and m["lr"] in (0.01, 0.02)
    for name, run in r["runs"]["20"]["models"].items():  # the kept lr has the best validation accuracy
        assert run["val_acc"] == max(t["val_acc"] for t in run["lr_search"]), name
    att = r["attraction"]["dlgn"]
    assert len(att["rows"]) == 15 and {"dist_init", "dist_final", "within_0.1", "within_0.3"} <= set(
        att["rows"][0]
    )
    assert all(0 <= row["dist_final"] <= math.sqrt(2) + 1e-9 for row in att["rows"])
    assert all(row["within_0.1"] <= row["within_0.2"] <= row["within_0.3"] for row in att["rows"])
    embedded = _figures_embedded(out)
    assert {
        "accuracy_vs_paper.png",
        "attraction_hist_dlgn_d20.png",
        "attraction_nodes_dlgn-sf_d20.png",
    } <= set(embedded)


def test_odt_attraction_matches_the_checkpointed_model(odt_run):
    """Recompute the trained DLGN's nearest-hyperplane distances from its checkpoint and the saved tree."""
    out, r = odt_run
    cfg = make_config(get("dlgn-odt"), "smoke")
    m = r["models"]["dlgn"]
    model = make_model(cfg, "dlgn", 0, 20)
    model.load_state_dict(load_checkpoint(out / "checkpoints" / f"d20-dlgn-lr{m['lr']:g}.pt")["best_state"])
    tree = torch.tensor(r["runs"]["20"]["tree"]["normals"], dtype=torch.float64)
    expected = nearest_gating_distance(tree, gating_hyperplanes(model))
    got = torch.tensor([row["dist_final"] for row in r["attraction"]["dlgn"]["rows"]], dtype=torch.float64)
    assert torch.allclose(got, expected, atol=1e-6)
    init = nearest_gating_distance(tree, gating_hyperplanes(make_model(cfg, "dlgn", 0, 20)))
    got = torch.tensor([row["dist_init"] for row in r["attraction"]["dlgn"]["rows"]], dtype=torch.float64)
    assert torch.allclose(got, init, atol=1e-6)


def test_odt_resume_skips_finished_work(odt_run):
    out, r = odt_run
    again = read_json(
        run_experiment("dlgn-odt", "smoke", out=out, progress=False, resume=True) / "results.json"
    )
    for name, m in r["models"].items():  # the same numbers, loaded from the finished checkpoints
        assert {k: v for k, v in again["models"][name].items() if k != "seconds"} == {
            k: v for k, v in m.items() if k != "seconds"
        }
        assert again["models"][name]["seconds"] < 1.0
    assert again["attraction"] == r["attraction"]


def _timeless(obj):
    """``obj`` without its wall times (every ``seconds`` entry) and the ``jobs`` setting."""
    if isinstance(obj, dict):
        return {k: _timeless(v) for k, v in obj.items() if k not in ("seconds", "jobs")}
    if isinstance(obj, list):
        return [_timeless(v) for v in obj]
    return obj


def test_odt_two_jobs_give_every_trainings_numbers_unchanged(odt_run, tmp_path):
    """``jobs=2``: the (d, model, lr) trainings run in two worker processes, each seeding itself — the
    same records (every lr tried, the best picked, the attraction) as the in-process loop, every
    epoch logged once; ``jobs=0`` is refused."""
    _, loop = odt_run
    out = run_experiment("dlgn-odt", "smoke", {"jobs": 2}, out=tmp_path / "run", progress=False)
    res = read_json(out / "results.json")
    assert _timeless(res) == _timeless(loop) and res["jobs"] == 2 and loop["jobs"] == 1
    epochs = lambda folder: sorted(
        (r["d"], r["model"], r["lr"], r["epoch"]) for r in read_jsonl(folder / "metrics.jsonl")
    )
    assert epochs(out) == epochs(odt_run[0])
    with pytest.raises(ConfigError, match="jobs must be an integer from 1 to 256; got 0"):
        run_experiment("dlgn-odt", "smoke", {"jobs": 0}, out=tmp_path / "zero", progress=False)


def test_odt_per_dim_settings_must_match_dims(tmp_path):
    with pytest.raises(ConfigError, match="dlgn_width has 2 values; give one, or one per d in dims"):
        run_experiment("dlgn-odt", "smoke", {"dlgn_width": (4, 5)}, out=tmp_path / "x", progress=False)
    with pytest.raises(ConfigError, match="models must be among"):
        run_experiment("dlgn-odt", "smoke", {"models": ("dlgn", "mlp")}, out=tmp_path / "y", progress=False)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_odt_paper_relu_baseline_is_sklearn_as_the_papers_code_ran_it(tmp_path):
    """``relu-sklearn``: grid search by cross-validation, refit, final iterate tested — the same numbers
    as scikit-learn called directly with the chosen settings."""
    from sklearn.neural_network import MLPClassifier

    from neuralpaths.experiments.dlgn_odt.run import dim_splits

    grid = {"sk_hidden": ("6x6", "4"), "sk_lr_grid": (0.01, 0.001), "sk_max_iter": (30,), "sk_cv": 2}
    over = {"models": ("relu", "relu-sklearn"), "lr_grid_models": ("relu",), **grid}
    out = run_experiment("dlgn-odt", "smoke", over, out=tmp_path / "r", progress=False)
    r = read_json(out / "results.json")
    sk = r["runs"]["20"]["models"]["relu-sklearn"]
    cv = sk["cv_search"]
    assert len(cv) == 4 and max(c["cv_acc"] for c in cv) == sk["cv_acc"]
    assert (sk["hidden"], sk["lr"]) in {(c["hidden"], c["lr"]) for c in cv if c["cv_acc"] == sk["cv_acc"]}
    assert sk["test_acc"] == sk["final_test_acc"] and "relu-sklearn" not in r["runs"]["20"]["attraction"]
    data, _ = dim_splits(make_config(get("dlgn-odt"), "smoke"), 0)
    hidden = tuple(int(v) for v in sk["hidden"].split("x"))
    direct = MLPClassifier(hidden, solver="adam", learning_rate_init=sk["lr"], max_iter=30, random_state=42)
    direct.fit(data.x_train.double().numpy(), data.y_train.numpy())
    want = 100 * float((direct.predict(data.x_test.double().numpy()) == data.y_test.numpy()).mean())
    assert sk["test_acc"] == want and sk["best_val_epoch"] == direct.n_iter_
    report = (out / "report.md").read_text()
    assert "The paper's ReLU baseline run as its code ran it" in report and "per grid point" in report
    for bad, match in (
        ({"sk_hidden": ("10x",)}, "sk_hidden entries are layer sizes"),
        ({"lr_grid_models": ("relu-sklearn",)}, "searches its own grid"),
        ({"sk_cv": 1}, "sk_cv >= 2"),
    ):
        with pytest.raises(ConfigError, match=match):
            run_experiment("dlgn-odt", "smoke", bad, out=tmp_path / "bad", progress=False)


# --- halfspace-2d -----------------------------------------------------------------------------
def test_halfspace_results_frames_and_gif(tmp_path):
    out = run_experiment("halfspace-2d", "smoke", out=tmp_path / "run", progress=False)
    r = read_json(out / "results.json")
    ds = r["datasets"]["tree"]
    for kind in ("dlgn", "relu"):
        m = ds["models"][kind]
        assert [f["epoch"] for f in m["frames"]] == [0, 1, 3] and 0 <= m["test_acc"] <= 100
        regions = unpack_grid(m["regions"])
        assert regions.shape == (24, 24) and len(np.unique(regions)) == m["n_regions"]
    assert len(ds["models"]["dlgn"]["frames"][0]["gating"]) == 2  # two hidden layers of lines
    assert len(ds["models"]["dlgn"]["paths"]) == 2
    embedded = _figures_embedded(out)
    for name in ("tree_training.gif", "tree_dlgn_gates.png", "tree_dlgn_paths.png", "tree_relu_regions.png"):
        assert name in embedded
    with Image.open(out / "figures" / "tree_training.gif") as gif:
        assert gif.n_frames == 3
    assert len(list((out / "figures" / "frames").glob("tree_*.png"))) == 3


def test_path_values_times_shares_add_up_to_the_mean_score():
    """Σ over all paths of value × (share of data in the path's region) = mean hard-gated score."""
    torch.manual_seed(0)
    model = DLGN(Arch.mlp(2, [3, 4], 2), gate="hard", gating_bias=True, seed=3)
    x = 2 * torch.rand(200, 2) - 1
    paths = top_paths(model, x, k=12, distinct=False)
    assert len(paths) == 12 and [p["path"] for p in paths] != sorted(p["path"] for p in paths)
    total = sum(p["value"] * p["share"] for p in paths)
    with torch.no_grad():
        out = model(x)
    assert math.isclose(total, float((out[:, 1] - out[:, 0]).mean()), rel_tol=1e-5, abs_tol=1e-6)
    distinct = top_paths(model, x, k=12)  # no two regions hold the same points
    inside = [
        tuple(Hyperplanes.from_dict(p["halfspaces"]).positive(x.double()).all(1).tolist()) for p in distinct
    ]
    assert len(set(inside)) == len(inside) <= 12


# --- dlgn-images ------------------------------------------------------------------------------
def test_images_mnist_and_cifar_skipped_without_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(CIFAR10_ENV, raising=False)
    out = run_experiment("dlgn-images", "smoke", out=tmp_path / "run", progress=False)
    r = read_json(out / "results.json")
    assert set(r["parts"]) == {"mnist"} and "no CIFAR-10 folder" in r["skipped"]["cifar10"]
    m = r["parts"]["mnist"]["models"]
    assert set(m) == {"dlgn", "dgn", "relu"} and math.isclose(m["relu"]["pct_of_relu"], 100.0)
    assert math.isclose(m["dlgn"]["pct_of_relu"], 100 * m["dlgn"]["test_acc"] / m["relu"]["test_acc"])
    report = (out / "report.md").read_text()
    assert "CIFAR-10, C4GAP**: skipped: no CIFAR-10 folder" in report
    assert _figures_embedded(out) == ["mnist_accuracy.png"]


def test_images_c4gap_on_a_fake_cifar_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(CIFAR10_ENV, raising=False)
    folder, _ = _write_cifar(tmp_path, per_batch=8, n_test=6)
    overrides = {"mnist": False, "cifar": "yes", "data_dir": str(folder)}
    out = run_experiment("dlgn-images", "smoke", overrides, out=tmp_path / "run", progress=False)
    r = read_json(out / "results.json")
    part = r["parts"]["cifar10"]
    assert part["arch"].startswith("C4GAP, 2 channels, 32x32") and set(part["models"]) == {
        "dlgn",
        "dgn",
        "relu",
    }
    assert "cifar10_accuracy.png" in _figures_embedded(out)
    with pytest.raises(DataNotFoundError, match="CIFAR-10 is not bundled"):
        run_experiment(
            "dlgn-images", "smoke", {"mnist": False, "cifar": "yes"}, out=tmp_path / "r2", progress=False
        )
