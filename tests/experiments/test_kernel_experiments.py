"""ntk-vs-npk and npk-alignment: their smoke presets end to end, and the maths they rely on.

The shift-summed NPK ``H̄`` of a conv net is checked against brute force: enumerate the paths, label
each by the weights it uses, and sum ``φ_x(p) φ_x'(p')`` over pairs with the same weights; and
``E[K_v] = c·H̄`` exactly, by enumerating every ±σ sign pattern of a tiny conv net's value weights.
"""

import itertools

import pytest
import torch

from neuralpaths import runner
from neuralpaths.errors import ConfigError
from neuralpaths.io import read_json, read_jsonl
from neuralpaths.kernels import npk, ntk, shared_weight_npk, value_ntk_constant
from neuralpaths.models import DGN, Arch
from neuralpaths.paths import npf, path_index, unrolled_layers

D = torch.float64


def _frozen(arch: Arch, seed: int = 0) -> DGN:
    return DGN.regime("frnpf-ii", arch, seed=seed, init="pm").double()


def _brute_shared_npk(model: DGN, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """``Σ_{p, p' using the same weight in every layer} φ_x1(p) φ_x2(p')`` by enumeration."""
    with torch.no_grad():
        for m in model.value_layers:  # every weight gets a distinct id, so a connection's value names it
            m.weight.copy_(torch.arange(1, m.weight.numel() + 1, dtype=m.weight.dtype).view_as(m.weight))
        idx, _ = path_index(model)
        maps = unrolled_layers(model)
        ids = [w[idx[:, layer], idx[:, layer - 1]] for layer, (_, w) in enumerate(maps[:-1], start=1)]
        ids.append(maps[-1][1][0, idx[:, -1]])
        _, group = torch.unique(torch.stack(ids, 1), dim=0, return_inverse=True)  # weight sequence -> group
        onehot = torch.nn.functional.one_hot(group).double()  # (P, groups)
        return (npf(model, x1) @ onehot) @ (npf(model, x2) @ onehot).T


@pytest.mark.parametrize(
    "arch",
    [
        Arch((1, 4, 4), (2,), (3,), 1, "gap", 3),
        Arch((2, 3, 3), (2, 2), (), 1, "gap", 3),
        Arch((1, 3, 3), (2, 2), (2,), 1, "flatten", 3),
        Arch.mlp(5, [4, 3], 1),
    ],
    ids=["gap-1conv", "gap-2conv", "flatten", "fc"],
)
def test_shared_weight_npk_equals_path_pair_enumeration(arch):
    model = _frozen(arch)
    g = torch.Generator().manual_seed(1)
    x1 = torch.randn(3, *arch.in_shape, generator=g, dtype=D)
    x2 = torch.randn(2, *arch.in_shape, generator=g, dtype=D)
    expected = _brute_shared_npk(model, x1, x2)
    torch.testing.assert_close(shared_weight_npk(model, x1, x2), expected, rtol=1e-10, atol=1e-12)
    if arch.pool != "gap":  # no weight sharing across the readout: the ordinary NPK
        torch.testing.assert_close(shared_weight_npk(model, x1, x2), npk(model, x1, x2))
    else:
        assert not torch.allclose(shared_weight_npk(model, x1, x2), npk(model, x1, x2))


def test_value_ntk_expectation_is_shift_summed_npk_exactly():
    """All 2^10 sign patterns of a 1-channel conv + GAP net: the mean value NTK is c·H̄, not c·H."""
    arch = Arch((1, 3, 3), (1,), (), 1, "gap", 3)  # 9 conv taps + 1 output weight
    model = _frozen(arch, seed=3)
    x = torch.randn(3, 1, 3, 3, generator=torch.Generator().manual_seed(2), dtype=D)
    sigma = [0.7, 1.3]
    conv, out = model.value_layers
    total = torch.zeros(3, 3, dtype=D)
    for signs in itertools.product((-1.0, 1.0), repeat=10):
        s = torch.tensor(signs, dtype=D)
        with torch.no_grad():
            conv.weight.copy_(sigma[0] * s[:9].view_as(conv.weight))
            out.weight.copy_(sigma[1] * s[9:].view_as(out.weight))
        total += ntk(model, x, wrt="value")
    mean = total / 2**10
    c = value_ntk_constant(sigma)
    torch.testing.assert_close(mean, c * shared_weight_npk(model, x), rtol=1e-10, atol=1e-12)
    assert (mean - c * npk(model, x)).norm() > 0.1 * mean.norm()


def test_ntk_vs_npk_smoke(tmp_path):
    out = runner.run_experiment("ntk-vs-npk", "smoke", out=tmp_path / "run", progress=False)
    res = read_json(out / "results.json")
    fc, conv = res["nets"]["fc"]["rows"], res["nets"]["gconv"]["rows"]
    assert [r["width"] for r in fc] == [16, 64] and len(fc[0]["single"]["npk"]) == res["draws"] == 4
    assert set(conv[0]["single"]) == {"shared", "unrolled"}
    # the mean of the draws is closer to c·H than a typical single draw (sampling noise averages out)
    assert fc[-1]["mc_curve"]["npk"][-1] < sum(fc[-1]["single"]["npk"]) / 4
    assert set(res["slopes"]["fc"]["npk"]) == {"single_mean", "single_std", "of_mean", "mc"}
    assert {p.name for p in (out / "figures").iterdir()} == {"identity3_vs_width.png", "mc_vs_draws.png"}
    assert "Summary" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    "override, message",
    [
        ({"sigma": "he"}, "sigma must be one of"),
        ({"draws": 1}, "draws must be >= 2"),
        ({"fc_widths": (64, 32)}, "increasing"),
    ],
)
def test_ntk_vs_npk_rejects_bad_config(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        runner.run_experiment("ntk-vs-npk", "smoke", overrides=override, out=tmp_path / "run", progress=False)


@pytest.fixture(scope="module")
def alignment(tmp_path_factory):
    """The npk-alignment smoke run (one job): its folder."""
    return runner.run_experiment(
        "npk-alignment", "smoke", out=tmp_path_factory.mktemp("alignment") / "run", progress=False
    )


def test_npk_alignment_smoke(alignment):
    out = alignment
    res = read_json(out / "results.json")
    relu, di, ii = (res["regimes"][r]["runs"] for r in ("relu", "frnpf-di", "frnpf-ii"))
    assert len(relu) == 2 and [rec["epoch"] for rec in relu[0]] == res["epochs"] == [0, 2, 4]
    for a, b in zip(relu, di):  # FRNPF-DI at t = 0 is the ReLU net: same gates, NPK and NTK
        assert a[0]["nu_npk"] == pytest.approx(b[0]["nu_npk"], rel=1e-12)
        assert a[0]["nu_ntk"] == pytest.approx(b[0]["nu_ntk"], rel=1e-12)
    for runs in (di, ii):  # frozen gates: the NPK never changes
        for run in runs:
            assert {rec["nu_npk"] for rec in run} == {run[0]["nu_npk"]}
            assert all(rec["gates_changed"] == 0 for rec in run)
    assert all(rec["nu_npk"] > 0 for run in relu for rec in run)
    assert {p.name for p in (out / "figures").iterdir()} == {"nu_curves.png", "accuracy_and_gates.png"}


def test_npk_alignment_two_jobs_give_every_trials_numbers_unchanged(alignment, tmp_path):
    """``jobs=2``: the (regime, run) trials train in two worker processes, each seeding itself — the
    same measurements as the in-process loop, in the same order, and every epoch logged once."""
    out = runner.run_experiment("npk-alignment", "smoke", {"jobs": 2}, out=tmp_path / "run", progress=False)
    res, loop = read_json(out / "results.json"), read_json(alignment / "results.json")
    assert res["regimes"] == loop["regimes"] and res["final"] == loop["final"]
    assert res["epochs"] == loop["epochs"] and res["jobs"] == 2 and loop["jobs"] == 1
    epochs = lambda folder: sorted(
        (r["regime"], r["run"], r["epoch"]) for r in read_jsonl(folder / "metrics.jsonl")
    )
    assert epochs(out) == epochs(alignment)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"regimes": ("relu", "dlnpf")}, "regimes must be among"),
        ({"jobs": 0}, "jobs must be an integer from 1 to 256; got 0"),
    ],
)
def test_npk_alignment_rejects_bad_config(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        runner.run_experiment(
            "npk-alignment", "smoke", overrides=override, out=tmp_path / "run", progress=False
        )
