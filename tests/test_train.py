"""The training loop: exact resume, atomic checkpoints, frozen parameters, metrics against direct
computation, best-epoch bookkeeping, determinism, clear errors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import neuralpaths.io as npio
from neuralpaths import DGN, MLP, Arch
from neuralpaths.data import Splits, binary_subset, load_digits
from neuralpaths.errors import ConfigError, IntegrityError
from neuralpaths.io import load_checkpoint
from neuralpaths.progress import progress_enabled, set_progress
from neuralpaths.train import History, TrainConfig, best_state, evaluate, fit

METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "running_loss")


@pytest.fixture(scope="module")
def digits() -> Splits:
    return load_digits(val_size=200, n_train=400, flatten=True, seed=0)


def _cfg(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 4, "batch_size": 32, "lr": 1e-2, "progress": False, **kw})


def _metrics(h: History) -> list[tuple]:
    return [tuple(r[k] for k in ("epoch", *METRICS)) for r in h.epochs]


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _dropout_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))


MODELS = {
    "mlp": lambda seed: MLP(64, [32, 32], 10, seed=seed),
    "dlnpf": lambda seed: DGN.regime("dlnpf", Arch.mlp(64, [16, 16], 10), seed=seed),
    "dropout": _dropout_net,  # uses the torch RNG while training: resume must restore it
}


@pytest.mark.parametrize("opt", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("model", list(MODELS))
def test_resume_is_bitwise_identical(digits, tmp_path, opt, model):
    cfg = _cfg(optimizer=opt, momentum=0.0 if opt == "adam" else 0.9, lr=1e-2 if opt == "sgd" else 1e-3)
    whole = MODELS[model](0)
    h_whole = fit(whole, digits, cfg, checkpoint=tmp_path / "whole.pt")
    part = MODELS[model](0)
    h_part = fit(part, digits, cfg, checkpoint=tmp_path / "part.pt", stop_after=2)
    assert [r["epoch"] for r in h_part.epochs] == [1, 2]
    resumed = MODELS[model](123)  # different init: the checkpoint's weights must win
    h_resumed = fit(resumed, digits, cfg, checkpoint=tmp_path / "part.pt")
    assert _metrics(h_resumed) == _metrics(h_whole)
    assert _same_weights(resumed, whole)
    assert (h_resumed.best_val_epoch, h_resumed.best_test_epoch) == (
        h_whole.best_val_epoch,
        h_whole.best_test_epoch,
    )
    a, b = load_checkpoint(tmp_path / "part.pt"), load_checkpoint(tmp_path / "whole.pt")
    assert torch.equal(a["data_rng"], b["data_rng"]) and torch.equal(a["torch_rng"], b["torch_rng"])
    for k, v in b["optimizer"]["state"].items():
        assert all(torch.equal(v[s], a["optimizer"]["state"][k][s]) for s in v)


def test_finished_checkpoint_returns_at_once_with_final_weights(digits, tmp_path):
    cfg = _cfg(epochs=2)
    net = MLP(64, [32], 10, seed=0)
    h = fit(net, digits, cfg, checkpoint=tmp_path / "c.pt")
    calls = []
    again = MLP(64, [32], 10, seed=5)
    h2 = fit(again, digits, cfg, checkpoint=tmp_path / "c.pt", log=calls.append)
    assert calls == [] and _metrics(h2) == _metrics(h) and _same_weights(again, net)
    longer = fit(again, digits, dataclasses.replace(cfg, epochs=3), checkpoint=tmp_path / "c.pt")
    assert [r["epoch"] for r in longer.epochs] == [1, 2, 3]  # epochs may grow on resume
    with pytest.raises(ConfigError, match=r"different training config \(lr: 0\.01 -> 0\.5\)"):
        fit(again, digits, dataclasses.replace(cfg, epochs=5, lr=0.5), checkpoint=tmp_path / "c.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(IntegrityError, match=r"junk\.pt has no recorded SHA-256.*delete"):
        fit(again, digits, cfg, checkpoint=tmp_path / "junk.pt")
    npio.atomic_write_recorded(tmp_path / "junk.pt", b"not a checkpoint")  # recorded, yet not torch's
    with pytest.raises(ConfigError, match=r"cannot read checkpoint .*junk\.pt .*remove it to start over"):
        fit(again, digits, cfg, checkpoint=tmp_path / "junk.pt")
    with pytest.raises(ConfigError, match="does not fit this model"):
        fit(MLP(64, [8], 10), digits, dataclasses.replace(cfg, epochs=5), checkpoint=tmp_path / "c.pt")


def test_checkpoint_survives_a_failure_mid_write(digits, tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    cfg = _cfg(epochs=3)
    fit(MLP(64, [32], 10, seed=0), digits, cfg, checkpoint=path, stop_after=1)
    before = path.read_bytes()

    def torn_save(obj, f):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(npio.torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        fit(MLP(64, [32], 10, seed=0), digits, cfg, checkpoint=path)
    assert path.read_bytes() == before and load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "c.pt.sha256"]  # no temp file left
    monkeypatch.undo()
    resumed = fit(MLP(64, [32], 10, seed=0), digits, cfg, checkpoint=path)
    reference = fit(MLP(64, [32], 10, seed=0), digits, cfg)
    assert _metrics(resumed) == _metrics(reference)


def test_frozen_gating_is_left_alone(digits, tmp_path):
    model = DGN.regime("frnpf-ii", Arch.mlp(64, [16, 16], 10), seed=0)
    gating = [p.detach().clone() for p in model.gating_parameters()]
    value = [p.detach().clone() for p in model.value_parameters()]
    fit(model, digits, _cfg(epochs=1), checkpoint=tmp_path / "c.pt")
    assert all(torch.equal(a, b) for a, b in zip(gating, model.gating_parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(value, model.value_parameters()))
    n_trained = len(load_checkpoint(tmp_path / "c.pt")["optimizer"]["param_groups"][0]["params"])
    assert n_trained == len(model.value_parameters()) == 3


def test_learns_an_easy_problem_and_logs_each_epoch(digits):
    records = []
    h = fit(MLP(64, [32, 32], 10, seed=0), digits, _cfg(batch_size=16), log=records.append)
    assert records == h.epochs and [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert set(records[0]) == {"epoch", *METRICS, "seconds"}
    losses = [r["running_loss"] for r in records]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.5 * losses[0]
    assert h.final["test_acc"] > 0.85 and h.final["train_acc"] > 0.9


def test_metrics_match_direct_computation(digits):
    torch.manual_seed(0)
    model = MLP(64, [32], 10, seed=0).double()
    x, y = digits.x_test.double(), digits.y_test
    out = model(x)
    loss, acc = evaluate(model, digits.x_test, y, batch_size=7)  # float32 data, float64 model
    assert loss == pytest.approx(F.cross_entropy(out, y).item(), rel=1e-12)
    assert acc == (out.argmax(1) == y).double().mean().item()
    mse, _ = evaluate(model, x, y, loss="mse", batch_size=1000)
    assert mse == pytest.approx(((out - F.one_hot(y, 10)) ** 2).mean().item(), rel=1e-12)
    assert all(math.isnan(v) for v in evaluate(model, x[:0], y[:0]))  # no data


def test_scalar_output_with_pm1_targets(digits):
    """The NPF notebook's binary protocol: labels ±1, one output, squared loss, accuracy = sign agreement."""
    x, y = binary_subset(digits, classes=(4, 7), n_per_class=30)
    model = MLP(64, [16], 1, seed=0).double()
    out = model(x.double())[:, 0]
    loss, acc = evaluate(model, x, y, loss="mse")
    assert loss == pytest.approx(((out - y) ** 2).mean().item(), rel=1e-12)
    assert acc == ((out > 0) == (y > 0)).double().mean().item()
    data = Splits("4v7", x, y, x[:0], y[:0], x, y, num_classes=2)
    net = MLP(64, [16], 1, seed=0)
    before, _ = evaluate(net, x, y, loss="mse")
    h = fit(net, data, _cfg(loss="mse", epochs=5))
    assert h.final["train_loss"] < 0.5 * before and h.final["train_acc"] > 0.95
    assert h.best_val_epoch is None and h.final["val_acc"] is None
    with pytest.raises(TypeError, match="loss='ce' needs int64 class labels"):
        fit(MLP(64, [16], 1), data, _cfg())


def test_best_epochs_and_best_weights(digits, tmp_path):
    h = fit(MLP(64, [32], 10, seed=1), digits, _cfg(epochs=5, lr=0.05), checkpoint=tmp_path / "c.pt")
    key = {r["epoch"]: (r["val_acc"], -r["val_loss"]) for r in h.epochs}
    assert h.best_val_epoch == max(key, key=lambda e: (key[e], -e))
    assert h.best_test_acc == max(r["test_acc"] for r in h.epochs)
    assert h.test_acc_at_best_val == h.at(h.best_val_epoch)["test_acc"]
    d = h.to_dict()
    assert d["best_val_acc"] == h.best_val_acc and d["epochs"] == h.epochs
    state = best_state(tmp_path / "c.pt")
    assert all(torch.equal(state[k], v) for k, v in h.best_state.items())
    best = MLP(64, [32], 10)
    best.load_state_dict(state)
    assert evaluate(best, digits.x_val, digits.y_val)[1] == h.best_val_acc
    fit(MLP(64, [32], 10), digits, _cfg(epochs=1), checkpoint=tmp_path / "nb.pt", keep_best=False)
    with pytest.raises(ValueError, match="holds no best-validation weights"):
        best_state(tmp_path / "nb.pt")


def test_deterministic_and_leaves_global_rng_alone(digits):
    a, b, c = _dropout_net(0), _dropout_net(0), _dropout_net(0)
    torch.manual_seed(7)
    outside = torch.get_rng_state()
    ha, hb = fit(a, digits, _cfg(epochs=2)), fit(b, digits, _cfg(epochs=2))
    fit(c, digits, _cfg(epochs=2, seed=1))
    assert torch.equal(torch.get_rng_state(), outside)  # training draws from its own forked RNG
    assert _metrics(ha) == _metrics(hb) and _same_weights(a, b)
    assert not _same_weights(a, c)


def test_eval_every(digits):
    h = fit(MLP(64, [16], 10, seed=0), digits, _cfg(epochs=5), eval_every=2)
    assert [r["epoch"] for r in h.epochs] == [2, 4, 5]


def test_progress_switch(digits, capsys):
    fit(MLP(64, [16], 10, seed=0), digits, _cfg(epochs=1))
    assert capsys.readouterr().err == ""
    before = progress_enabled()
    set_progress(True)  # the suite may run with NEURALPATHS_PROGRESS=0
    try:
        fit(MLP(64, [16], 10, seed=0), digits, _cfg(epochs=1, progress=True), desc="digits-mlp")
    finally:
        set_progress(before)
    assert "digits-mlp" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"optimizer": "adagrad"}, "unknown optimizer 'adagrad'; use one of sgd, adam, rmsprop"),
        ({"loss": "hinge"}, "unknown loss 'hinge'; use one of ce, mse"),
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"lr": -1.0}, "lr must be a finite positive number"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"optimizer": "adam", "momentum": 0.9}, "momentum applies to sgd and rmsprop"),
    ],
)
def test_bad_config(kw, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kw)


def test_bad_arguments(digits):
    with pytest.raises(TypeError, match="fit needs a neuralpaths.data.Splits"):
        fit(MLP(64, [16], 10), (digits.x_train, digits.y_train), _cfg())
    with pytest.raises(ConfigError, match="eval_every must be a positive integer"):
        fit(MLP(64, [16], 10), digits, _cfg(), eval_every=0)
    frozen = MLP(64, [16], 10).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(frozen, digits, _cfg())
    with pytest.raises(FloatingPointError, match="training diverged in epoch 1"):
        fit(nn.Linear(64, 10), digits, _cfg(optimizer="sgd", lr=1e4, loss="mse"))
