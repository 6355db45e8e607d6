"""npk-alignment: the protocol — train each regime in stages, measuring ν of the NPK and NTK after each."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from neuralpaths.data import Splits, binary_subset, load_dataset
from neuralpaths.errors import ConfigError
from neuralpaths.io import atomic_write_json_recorded, read_json_recorded
from neuralpaths.kernels import KernelRegressor, accuracy, npk, ntk, nu
from neuralpaths.models import DGN, MLP, init_layers_
from neuralpaths.parallel import check_jobs, map_trials
from neuralpaths.progress import progress_bar

from ..common import resolve_device, train, train_config

REGIMES = ("relu", "frnpf-di", "frnpf-ii")


@dataclass(frozen=True)
class Config:
    seed: int = 0
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): training and kernels
    classes: tuple[int, ...] = (4, 7)  # labels -1, +1
    n_per_class: int = 100  # the first n training examples of each class
    widths: tuple[int, ...] = (100, 100, 100, 100, 100)  # "depth 6, width 100"
    sigma: float = 0.0  # weights ±sigma; 0: √(2/width) (the notebook's ±√(2/w)) in every layer
    regimes: tuple[str, ...] = REGIMES
    runs: int = 5
    optimizer: str = "rmsprop"
    lr: float = 1e-4
    batch_size: int = 64
    epochs: int = 50
    every: int = 2  # epochs between kernel measurements
    ntk: bool = True  # also track ν of the empirical NTK
    threads: int = 1
    jobs: int = 1  # trials (regime, run) at once, in worker processes; the same numbers


def _check(cfg: Config) -> None:
    if len(cfg.classes) != 2:
        raise ConfigError(f"classes must be two digits (labels -1, +1), got {cfg.classes}")
    bad = set(cfg.regimes) - set(REGIMES)
    if bad or not cfg.regimes:
        raise ConfigError(f"regimes must be among {REGIMES}, got {cfg.regimes}")
    if cfg.runs < 1 or cfg.every < 1 or cfg.epochs < 1:
        raise ConfigError(f"runs, every and epochs must be >= 1, got {cfg.runs}, {cfg.every}, {cfg.epochs}")
    if not cfg.widths or min(cfg.widths) < 1:
        raise ConfigError(f"widths must be positive hidden widths, got {cfg.widths}")
    check_jobs(cfg.jobs, "jobs")


def _data(cfg: Config) -> Splits:
    """The 2·n_per_class training points (first per class, data order) and all test points of the
    two classes, labels ±1."""
    full = load_dataset("mnist", val_size=0, seed=cfg.seed, flatten=True)  # original training order
    x, y = binary_subset(full, tuple(cfg.classes), cfg.n_per_class)
    keep = (full.y_test == cfg.classes[0]) | (full.y_test == cfg.classes[1])
    x_test, y_test = full.x_test[keep], (full.y_test[keep] == cfg.classes[1]).float() * 2 - 1
    empty = x.new_empty(0, x.shape[1])
    return Splits(f"mnist-{cfg.classes[0]}v{cfg.classes[1]}", x, y, empty, y.new_empty(0), x_test, y_test, 2)


def _model(cfg: Config, regime: str, run: int) -> torch.nn.Module:
    """The ReLU net of ``run`` (±σ init), or a frozen-gate regime built from its initial weights."""
    net = MLP(784, cfg.widths, 1, bias=False)
    sigma = cfg.sigma or math.sqrt(2.0 / cfg.widths[0])
    init_layers_(
        net.layers, "pm", generator=torch.Generator().manual_seed(1000 * cfg.seed + run), sigma=sigma
    )
    if regime == "relu":
        return net
    # frnpf-ii draws a fresh gating net (±√(2/fan_in): its scale does not change the hard gates)
    return DGN.from_relu(net, regime, seed=1000 * cfg.seed + 500 + run, init="pm")


def _kernel_stats(k: torch.Tensor, k_test: torch.Tensor, y: torch.Tensor, y_test: torch.Tensor) -> tuple:
    """``(ν, test accuracy of ridge-less kernel regression)`` (sign of the prediction)."""
    pred = KernelRegressor(ridge=0.0, kernel="precomputed", jitter="auto").fit(k, y).predict(k_test)
    return nu(k, y), 100 * accuracy(pred, y_test)


@torch.no_grad()
def measure(
    model: torch.nn.Module, data: Splits, gates0: list, with_ntk: bool, device: str | torch.device = "cpu"
) -> dict:
    """On the training points: ν of the NPK (and NTK), the test accuracy of kernel regression with
    each kernel, and the fraction of gates changed since ``gates0``. Kernels are computed on
    ``device`` and brought back to the CPU."""
    m = copy.deepcopy(model).double().to(device)
    x, xt = data.x_train.double().to(device), data.x_test.double().to(device)
    y, yt = data.y_train.double(), data.y_test.double()
    gates = [g.cpu() for g in m.gates(x)]
    changed = sum(int((a != b).sum()) for a, b in zip(gates, gates0)) / sum(a.numel() for a in gates)
    out = {"gates_changed": changed}
    out["nu_npk"], out["kr_acc_npk"] = _kernel_stats(npk(m, x).cpu(), npk(m, xt, x).cpu(), y, yt)
    if with_ntk:
        k, kt = ntk(m, x, wrt="trainable").cpu(), ntk(m, xt, x, wrt="trainable").cpu()
        out["nu_ntk"], out["kr_acc_ntk"] = _kernel_stats(k, kt, y, yt)
    return out


def _stages(cfg: Config) -> list[int]:
    """The epochs after which the kernels are measured (besides epoch 0)."""
    return sorted({*range(cfg.every, cfg.epochs + 1, cfg.every), cfg.epochs})


def _one_run(cfg: Config, data: Splits, regime: str, run: int, out: Path, bar) -> list[dict]:
    """Train one (regime, run) in stages of ``every`` epochs, measuring after each (resumable)."""
    record_path = out / "checkpoints" / f"{regime}-run{run}.kernels.json"
    records: list[dict] = read_json_recorded(record_path) if record_path.exists() else []
    model = _model(cfg, regime, run)
    gates0 = [g.double() for g in copy.deepcopy(model).double().gates(data.x_train.double())]
    stages = _stages(cfg)
    if not records:
        records.append({"epoch": 0, **measure(model, data, gates0, cfg.ntk, resolve_device(cfg.device))})
        records[0]["test_acc"] = _test_acc(model, data)
        atomic_write_json_recorded(record_path, records)
    train_cfg = train_config(cfg, loss="mse", seed=1000 * cfg.seed + run, progress=False)
    done = {r["epoch"] for r in records}
    bar.update(sum(1 for e in stages if e in done))
    for e in (e for e in stages if e not in done):
        hist, _ = train(
            model,
            data,
            train_cfg,
            out,
            f"{regime}-run{run}",
            tags={"regime": regime, "run": run},
            best=False,
            keep_best=False,
            stop_after=e,
        )
        rec = hist.at(e)
        records.append(
            {
                "epoch": e,
                **measure(model, data, gates0, cfg.ntk, resolve_device(cfg.device)),
                "test_acc": 100 * rec["test_acc"],
                "train_loss": rec["train_loss"],
                "train_acc": 100 * rec["train_acc"],
            }
        )
        atomic_write_json_recorded(record_path, records)
        bar.update()
    return records


def _test_acc(model: torch.nn.Module, data: Splits) -> float:
    with torch.no_grad():
        return 100 * float(((model(data.x_test)[:, 0] > 0) == (data.y_test > 0)).double().mean())


def trial(cfg: Config, data: Splits, out: str, item: tuple[str, int]) -> list[dict]:
    """One regime's run, trained and measured stage by stage (:func:`_one_run`; its finished stages
    come back from their checkpoint files). Every regime builds its net from the ReLU net's *initial*
    weights, seeded by ``1000 · seed + run``, and training is seeded the same way: no trial needs
    another's. A top-level function, so that worker processes can run it.

    Args:
        data: the training and test points (:func:`_data`).
        out: the run folder (checkpoints, ``metrics.jsonl``).
        item: ``(regime, run)``.

    Returns:
        The measurements, one record per measured epoch (epoch 0 first).
    """
    regime, run_ = item
    with progress_bar(total=len(_stages(cfg)), desc=f"{regime} run {run_}", unit="stage") as bar:
        return _one_run(cfg, data, regime, run_, Path(out), bar)


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    data = _data(cfg)
    order = [r for r in REGIMES if r in cfg.regimes]
    results: dict = {"data": data.summary(), "regimes": {}, "ntk": cfg.ntk, "jobs": cfg.jobs}
    start = time.perf_counter()
    items = [(regime, r) for regime in order for r in range(cfg.runs)]
    trials = map_trials(partial(trial, cfg, data, str(out)), items, cfg.jobs, desc="regime x run trials")
    for regime in order:
        results["regimes"][regime] = {"runs": [t for (reg, _), t in zip(items, trials) if reg == regime]}
    results["epochs"] = [r["epoch"] for r in results["regimes"][order[0]]["runs"][0]]
    results["seconds_training_and_kernels"] = time.perf_counter() - start
    results["final"] = {k: _final(v["runs"]) for k, v in results["regimes"].items()}
    return results


def _final(runs: list[list[dict]]) -> dict:
    """Mean and std over runs of the first and last measurements."""
    out = {}
    for key in ("nu_npk", "nu_ntk", "kr_acc_npk", "kr_acc_ntk", "gates_changed", "test_acc", "train_acc"):
        for when, idx in (("init", 0), ("final", -1)):
            vals = [r[idx][key] for r in runs if key in r[idx]]
            if vals:
                out[f"{key}_{when}"] = float(np.mean(vals))
                out[f"{key}_{when}_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    return out
