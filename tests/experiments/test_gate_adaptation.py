"""gate-adaptation end to end on the smoke preset (real MNIST), and its measurements against brute force."""

from types import SimpleNamespace

import pytest
import torch

from neuralpaths import experiments, runner
from neuralpaths.errors import ConfigError
from neuralpaths.experiments.gate_adaptation.models import build, gate_state, measure, regime_names
from neuralpaths.experiments.gate_adaptation.report import final_accs, summary, verdict
from neuralpaths.io import read_json, read_jsonl
from neuralpaths.models import Arch

EXP = experiments.get("gate-adaptation")
CFG = SimpleNamespace(init="glorot", dlnpf_beta=4.0, dlnpf_eps=0.1)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("gate") / "run"
    runner.run_experiment("gate-adaptation", "smoke", out=out, progress=False)
    return out


def test_smoke_run_has_the_issue_keys_and_figures(smoke):
    res = read_json(smoke / "results.json")
    cfg = runner.make_config(EXP, "smoke")
    names = regime_names(cfg.regimes, cfg.betas)
    assert list(res["regimes"]) == names == ["relu", "frnpf", "soft-b1", "soft-b16", "dlnpf", "flnpf"]
    for r in res["regimes"].values():
        assert {"test_acc", "gates_changed", "alignment_init", "alignment_final"} <= set(r)
        assert 0 <= r["test_acc"] <= 100 and 0 <= r["gates_changed"] <= 1
        assert -1 <= r["alignment_final"] <= 1
    # frozen random gates never change, so neither does their NPK; every adaptive regime's gates move
    assert res["regimes"]["frnpf"]["gates_changed"] == 0
    assert res["regimes"]["frnpf"]["alignment_init"] == res["regimes"]["frnpf"]["alignment_final"]
    for name in ("relu", "soft-b1", "soft-b16", "dlnpf"):
        assert res["regimes"][name]["gates_changed"] > 0
    # FLNPF's frozen gates are the trained ReLU net's: counted from the ReLU init, constant in training
    relu = [r for r in res["runs"] if r["regime"] == "relu"]
    flnpf = [r for r in res["runs"] if r["regime"] == "flnpf"]
    for a, b in zip(relu, flnpf):
        assert {e["gates_changed"] for e in b["epochs"]} == {a["epochs"][-1]["gates_changed"]}
        assert b["epochs"][0]["alignment"] == pytest.approx(a["epochs"][-1]["alignment"], rel=1e-12)
    assert all(len(r["epochs"]) == cfg.epochs + 1 for r in res["runs"])
    assert len(res["runs"]) == len(names) * cfg.runs
    assert {p.name for p in (smoke / "figures").iterdir()} == {"per_epoch.png", "scatter.png"}
    assert {(r["regime"], r["run"]) for r in read_jsonl(smoke / "metrics.jsonl")} == {
        (n, k) for n in names for k in range(cfg.runs)
    }


def test_two_jobs_give_every_runs_numbers_unchanged(smoke, tmp_path):
    """``jobs=2``: the (data set, run) trials train in two worker processes, each seeding itself — the
    same per-epoch numbers as the in-process loop, in the same order, and every epoch logged once."""
    out = runner.run_experiment("gate-adaptation", "smoke", {"jobs": 2}, out=tmp_path / "run", progress=False)
    res, loop = read_json(out / "results.json"), read_json(smoke / "results.json")
    assert res["runs"] == loop["runs"] and res["regimes"] == loop["regimes"]
    assert res["setup"]["jobs"] == 2 and loop["setup"]["jobs"] == 1
    epochs = lambda folder: sorted(
        (r["regime"], r["run"], r["epoch"]) for r in read_jsonl(folder / "metrics.jsonl")
    )
    assert epochs(out) == epochs(smoke)
    with pytest.raises(ConfigError, match="jobs must be an integer from 1 to 256; got 0"):
        EXP.check(runner.make_config(EXP, "smoke", {"jobs": 0}))


def test_report_states_the_outcome_with_the_numbers(smoke):
    res = read_json(smoke / "results.json")
    text = (smoke / "report.md").read_text()
    accs = final_accs(res, "mnist")
    held, _ = verdict(res["regimes"], accs)
    assert held == all(min(accs[n]) > max(accs["frnpf"]) for n in accs if n != "frnpf")
    assert ("The claim held" in text) == held and ("did NOT hold" in text) == (not held)
    assert f"{res['regimes']['frnpf']['test_acc']:.2f} %" in text
    # the verdict follows the numbers: lift every adaptive regime's runs above FRNPF's and it holds
    fake = {k: [50.0, 51.0] if k == "frnpf" else [90.0, 91.0] for k in accs}
    assert verdict(res["regimes"], fake)[0]
    fake["dlnpf"] = [90.0, 50.5]  # one run below FRNPF's best
    assert not verdict(res["regimes"], fake)[0]
    runs = [dict(r, epochs=[*r["epochs"][:-1], dict(r["epochs"][-1], test_acc=fake[r["regime"]][r["run"]])])
            for r in res["runs"]]  # fmt: skip
    assert "did NOT hold" in summary({**res, "runs": runs})


def test_measure_matches_brute_force():
    torch.manual_seed(0)
    arch = Arch.mlp(16, [6, 5], 3)
    x, y = torch.randn(12, 16), torch.arange(12) % 3
    for name in ("relu", "frnpf", "soft-b4", "dlnpf"):
        model = build(name, arch, 3, CFG)
        init = gate_state(model, x)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.3 * torch.randn_like(p))
        got = measure(model, x, y, 3, init)
        m, xd = model.double(), x.double()
        q = m.preactivations(xd)
        flips = sum(((a > 0) != b).sum().item() for a, b in zip(q, init[0]))
        assert got["gates_changed"] == flips / sum(a.numel() for a in q)
        gates = m.gates(xd)
        h = xd @ xd.T
        for g in gates:
            h = h * (g @ g.T)  # NPK = (X Xᵀ) ⊙ Π_l G_l G_lᵀ (no biases)
        t = torch.full((12, 3), -1.0, dtype=torch.float64)
        t[torch.arange(12), y] = 1.0
        c = torch.eye(12, dtype=torch.float64) - 1.0 / 12
        hc, tc = c @ h @ c, c @ t @ t.T @ c
        align = (hc * tc).sum() / (hc.norm() * tc.norm())
        assert got["alignment"] == pytest.approx(align.item(), rel=1e-9)
        nu = torch.trace(t.T @ torch.linalg.solve(h / h.trace(), t)) / 3
        assert got["nu"] == pytest.approx(nu.item(), rel=1e-6) and got["nu_ridge"] == 0


def test_soft_regimes_use_their_beta_and_bad_settings_are_refused():
    arch = Arch.mlp(4, [3], 2)
    m = build("soft-b16", arch, 0, CFG).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    (q,) = m.preactivations(x)
    assert torch.allclose(m.gates(x)[0], torch.sigmoid(16 * q))
    assert not m.gating_frozen and build("frnpf", arch, 0, CFG).gating_frozen
    with pytest.raises(ConfigError, match="flnpf"):
        regime_names(("flnpf",), ())
    with pytest.raises(ConfigError, match="regimes must be among"):
        regime_names(("relu", "galu"), ())
    cfg = runner.make_config(EXP, "smoke", {"datasets": "fashion-mnist,mnist", "data_dir": "/x"})
    with pytest.raises(ConfigError, match="data_dir names one data set"):
        EXP.check(cfg)
