"""dgn-depth: the smoke preset end to end, the acceptance check (the NPK at init agrees with
``npk_limit`` within ``2·√(depth/width)``, with the Monte-Carlo ``1/√width`` scaling), and the maths
the experiment relies on: the closed-form kernel-GD loss curve against iterating it, the value
weights' scale against Identity 3's constant, and training against its linearised prediction."""

import math

import pytest
import torch

from neuralpaths import runner
from neuralpaths.errors import ConfigError
from neuralpaths.experiments.dgn_depth import analysis, descent, measure
from neuralpaths.experiments.dgn_depth.run import Config, make_model
from neuralpaths.io import read_json
from neuralpaths.kernels import npk, npk_limit, ntk, value_ntk_constant
from neuralpaths.models import Arch

D = torch.float64
KEYS = {"depth", "width", "steps_to_threshold", "npk_condition", "npk_effective_rank", "ntk_deviation"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = runner.run_experiment(
        "dgn-depth", "smoke", out=tmp_path_factory.mktemp("dgn") / "run", progress=False
    )
    return out, read_json(out / "results.json")


def test_smoke_results_have_the_issue_keys_and_a_stated_outcome(smoke):
    out, res = smoke
    cfg = Config(**{k: v for k, v in read_json(out / "config.json")["config"].items()})
    assert len(res["runs"]) == 2 * len(cfg.widths) * len(cfg.depths) * cfg.seeds  # DGN and ReLU
    for rec in res["runs"]:
        assert KEYS <= set(rec)
        steps = rec["steps_to_threshold"]
        assert steps is None or 0 < steps <= cfg.max_steps
        assert rec["ntk_deviation"] > 0 and rec["npk_effective_rank"] >= 1
    assert [r["depth"] for r in res["limit"]] == list(cfg.depths)
    report = (out / "report.md").read_text()
    assert "helps, then hurts' appeared" in report or "helps, then hurts' did NOT appear" in report
    assert "within the tolerance" in report or "NOT within the tolerance" in report
    names = {p.name for p in (out / "figures").iterdir()}
    assert names == {"steps_vs_depth.png", "npk_spectrum.png", "ntk_deviation_and_limit.png"}


def test_smoke_with_two_jobs_gives_every_trials_numbers_unchanged(smoke, tmp_path):
    """``jobs=2``: the grid's trials run in two worker processes, each seeding itself — the same
    numbers as the in-process loop (wall times aside), in the same order; the record says 2 jobs."""
    out = runner.run_experiment("dgn-depth", "smoke", {"jobs": 2}, out=tmp_path / "run", progress=False)
    res, (_, loop) = read_json(out / "results.json"), smoke
    timeless = lambda records: [{k: v for k, v in r.items() if k != "seconds"} for r in records]
    for key in ("runs", "kernels_only", "limit"):
        assert timeless(res[key]) == timeless(loop[key]), key
    assert res["limit_check"] == loop["limit_check"]
    assert res["settings"]["jobs"] == 2 and loop["settings"]["jobs"] == 1
    assert read_json(out / "config.json")["config"]["jobs"] == 2


def test_smoke_limit_check_passes_at_the_largest_width(smoke):
    _, res = smoke
    check = res["limit_check"]
    assert check["widths"] == sorted(check["widths"]) and len(check["widths"]) == 2
    assert check["passed"]
    for row in check["rows"]:
        assert row["tolerance"] == pytest.approx(
            check["tolerance_factor"] * math.sqrt(row["depth"] / row["width"])
        )


def test_npk_at_init_agrees_with_the_limit_and_its_error_scales_like_one_over_sqrt_width():
    """Acceptance 3 at a larger width than the smoke run: ``‖Ĥ − H∞‖_F/‖H∞‖_F ≤ 2·√(depth/w)`` at
    ``w = 1024``, and the error falls by about ``√16 = 4`` from ``w = 64`` (geometric mean over
    depths and seeds; accepted within a factor 1.5 either way)."""
    cfg = Config()
    x = torch.randn(24, 20, generator=torch.Generator().manual_seed(0), dtype=D) + 0.8  # correlated inputs
    errors: dict[int, list[float]] = {64: [], 1024: []}
    for depth in (1, 2, 4):
        limit = npk_limit(Arch.mlp(20, (1,) * depth), x, gating="relu")
        for width in errors:
            for seed in range(3):
                model = make_model(cfg, "dgn", 20, width, depth, seed)
                err = measure.limit_errors(npk(model, x), limit, top=3)["limit_rel_frobenius"]
                errors[width].append(err)
                if width == 1024:
                    assert err <= 2 * math.sqrt(depth / width), (depth, seed, err)
    ratio = math.exp(sum(math.log(a / b) for a, b in zip(errors[64], errors[1024])) / len(errors[64]))
    assert 4 / 1.5 < ratio < 4 * 1.5


def test_kernel_gd_loss_curve_equals_iterating_the_update():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(7, 7, generator=g, dtype=D)
    k = a @ a.T + 0.1 * torch.eye(7, dtype=D)
    r0 = torch.randn(7, generator=g, dtype=D)
    lr, _ = measure.lr_rule(k, 0.9)
    losses = measure.kernel_gd_losses(k, r0, lr, 400)
    r, brute = r0.clone(), []
    for _ in range(401):
        brute.append(0.5 * float(r @ r))
        r = r - lr * (k @ r)
    torch.testing.assert_close(losses, torch.tensor(brute, dtype=D), rtol=1e-10, atol=1e-14)
    t = measure.first_below(losses, 0.5)
    assert t is not None and losses[t] <= 0.5 * losses[0] < losses[t - 1]
    assert measure.first_below(losses, 1e-300) is None


@pytest.mark.parametrize("init", ["pm", "he"])
def test_value_weights_have_identity3_sigmas(init):
    """``value_sigmas`` is the scale the models are drawn at, so ``c·H`` is the value NTK's expectation."""
    model = make_model(Config(init=init), "dgn", 300, 400, 2, seed=5)
    sigmas = measure.value_sigmas(300, 400, 2)
    for layer, sigma in zip(model.value_layers, sigmas):
        w = layer.weight
        if init == "pm":
            assert torch.allclose(w.abs(), torch.full_like(w, sigma))
        else:
            assert float(w.detach().std()) == pytest.approx(sigma, rel=0.05)
    s0, s1 = 2 / 300, 2 / 400  # squared: Σ_l Π_{l'≠l} σ_l'² over three layers
    assert value_ntk_constant(sigmas) == pytest.approx(s1 * s1 + 2 * s0 * s1, rel=1e-12)


def test_value_ntk_mean_over_draws_approaches_c_times_npk():
    """Average the value NTK over 400 draws of ±σ value weights (gates fixed): it tends to ``c·H``,
    while a single draw deviates by much more."""
    cfg = Config(init="pm")
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(3), dtype=D)
    model = make_model(cfg, "dgn", 5, 6, 2, seed=0)
    h = npk(model, x)
    c = value_ntk_constant(measure.value_sigmas(5, 6, 2))
    g = torch.Generator().manual_seed(4)
    total, single = torch.zeros(6, 6, dtype=D), None
    for _ in range(400):
        with torch.no_grad():
            for layer in model.value_layers:
                signs = torch.randint(0, 2, layer.weight.shape, generator=g, dtype=D) * 2 - 1
                layer.weight.copy_(layer.weight.abs() * signs)
        k = ntk(model, x, wrt="value")
        single = single if single is not None else measure.ntk_deviation(k, h, c)
        total += k
    assert measure.ntk_deviation(total / 400, h, c) < 0.1 < single


def test_training_follows_the_linearised_prediction_when_wide_and_shallow():
    """Width 1024, one gated layer: the network's steps to the threshold are within 25 % of what its
    initial NTK predicts (checks the loss and learning-rate conventions agree)."""
    cfg = Config()
    x = torch.randn(20, 16, generator=torch.Generator().manual_seed(2), dtype=D)
    x = x / x.norm(dim=1, keepdim=True) * 4
    y = torch.sign(x[:, 0])
    model = make_model(cfg, "dgn", 16, 1024, 1, seed=1)
    k = ntk(model, x, wrt="trainable")
    lr, _ = measure.lr_rule(k, 0.5)
    predicted = measure.first_below(measure.kernel_gd_losses(k, -y, lr, 2000), 0.01)
    got = descent.descend(model, x, y, lr=lr, threshold=0.01, max_steps=2000)
    assert predicted is not None and got["steps_to_threshold"] is not None and not got["diverged"]
    assert abs(got["steps_to_threshold"] - predicted) <= 0.25 * predicted
    assert [s for s, _ in got["loss_curve"]][:4] == [0, 1, 2, 5]


def _curve(medians):
    return [{"depth": d, "median": m, "min": m, "max": m, "reached": 1, "seeds": 1} for d, m in medians]


@pytest.mark.parametrize(
    "medians, shape, best",
    [
        ([(1, 100), (2, 50), (4, 80)], "helps, then hurts", 2),
        ([(1, 100), (2, 50), (4, 45)], "helps", 4),
        ([(1, 100), (2, 90), (4, 95)], "no clear effect", 2),
        ([(1, 50), (2, 55), (4, 90)], "hurts", 1),
        ([(1, None), (2, 50), (4, None)], "helps, then hurts", 2),
        ([(1, None), (2, None)], "no clear effect", None),
    ],
)
def test_verdict_reads_the_depth_curve(medians, shape, best):
    v = analysis.verdict(_curve(medians), margin=0.2)
    assert v["shape"] == shape and v["best_depth"] == best


@pytest.mark.parametrize(
    "override, message",
    [
        ({"lr_fraction": 1.5}, "lr_fraction must lie in"),
        ({"init": "torch"}, "init='torch'"),
        ({"depths": (0, 2)}, "depths must be"),
        ({"dataset": "nope"}, "dataset='nope'"),
        ({"jobs": 0}, "jobs must be an integer from 1 to 256; got 0"),
    ],
)
def test_rejects_bad_config(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        runner.run_experiment("dgn-depth", "smoke", overrides=override, out=tmp_path / "run", progress=False)
