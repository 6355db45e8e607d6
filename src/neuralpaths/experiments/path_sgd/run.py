"""path-sgd: the protocol — choose each optimizer's learning rate, train it from a balanced and an
unbalanced (rescaled) initialisation with the path norm after every epoch, and measure in float64
how far each optimizer's trajectory moves when the initial net is rescaled."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from neuralpaths import path_norm
from neuralpaths.data import Splits, load_dataset
from neuralpaths.errors import ConfigError
from neuralpaths.io import atomic_write_json_recorded, read_json_recorded
from neuralpaths.models import MLP, SCHEMES
from neuralpaths.optim import rescale_units_
from neuralpaths.progress import progress_bar
from neuralpaths.train import make_optimizer

from ..common import DEVICES, cached, resolve_device, train, train_config

OPTIMIZERS = ("path-sgd", "sgd", "adam")
INITS = ("balanced", "unbalanced")


@dataclass(frozen=True)
class Config:
    seed: int = 0
    dataset: str = "mnist"
    n_train: int = 10_000  # 0: every training image left after the validation split
    val_size: int = 5000  # carved from the training set (learning-rate selection)
    n_test: int = 0  # 0: the whole test set
    width: int = 512  # hidden units per layer (the paper: 4000)
    depth: int = 2  # hidden layers
    init: str = "torch"  # the balanced initialisation: torch | glorot | he | pm
    unbalance: float = 10.0  # unbalanced init: hidden unit i × unbalance^u_i, u_i ~ U[-1, 1]
    optimizers: tuple[str, ...] = OPTIMIZERS
    lr_path_sgd: tuple[float, ...] = (3e-3,)  # several values: chosen on the validation split
    lr_sgd: tuple[float, ...] = (0.03,)
    lr_adam: tuple[float, ...] = (1e-3,)
    momentum: float = 0.9  # Path-SGD and SGD (Adam has its own)
    batch_size: int = 64
    epochs: int = 10
    select_epochs: int = 2  # epochs per learning rate of a grid (balanced init)
    invariance_steps: int = 20  # float64 steps of the rescaling check
    threads: int = 1  # small matrices: a second thread mostly waits on a shared machine
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): where training runs


def _check(cfg: Config) -> None:
    bad = set(cfg.optimizers) - set(OPTIMIZERS)
    if bad or not cfg.optimizers:
        raise ConfigError(f"optimizers must be among {OPTIMIZERS}, got {cfg.optimizers}")
    for name in cfg.optimizers:
        lrs = lr_grid(cfg, name)
        if not lrs or not all(math.isfinite(v) and v > 0 for v in lrs):
            raise ConfigError(f"learning rates of {name} must be positive numbers, got {lrs}")
    if min(cfg.width, cfg.depth, cfg.epochs, cfg.select_epochs, cfg.batch_size, cfg.invariance_steps) < 1:
        raise ConfigError("width, depth, epochs, select_epochs, batch_size and invariance_steps must be >= 1")
    if not (math.isfinite(cfg.unbalance) and cfg.unbalance >= 1):
        raise ConfigError(f"unbalance must be a number >= 1 (1: no rescaling), got {cfg.unbalance}")
    if cfg.init not in SCHEMES:
        raise ConfigError(f"init must be one of {SCHEMES}, got {cfg.init!r}")
    if min(cfg.n_train, cfg.n_test) < 0 or cfg.val_size < 1:
        raise ConfigError("n_train and n_test must be >= 0 (0: all) and val_size >= 1")
    if not (0 <= cfg.momentum < 1):
        raise ConfigError(f"momentum must be in [0, 1), got {cfg.momentum}")
    if cfg.device.split(":")[0] not in ("cpu", "cuda", "auto"):
        raise ConfigError(f"device must be {DEVICES}; got {cfg.device!r}")


def lr_grid(cfg: Config, name: str) -> tuple[float, ...]:
    return {"path-sgd": cfg.lr_path_sgd, "sgd": cfg.lr_sgd, "adam": cfg.lr_adam}[name]


def _data(cfg: Config) -> Splits:
    return load_dataset(
        cfg.dataset,
        val_size=cfg.val_size,
        seed=cfg.seed,
        n_train=cfg.n_train or None,
        n_test=cfg.n_test or None,
        flatten=True,
    )


def unit_factors(cfg: Config) -> list[torch.Tensor]:
    """The unbalanced init's factors: ``unbalance^u`` per hidden unit, ``u ~ U[-1, 1]`` (seeded)."""
    g = torch.Generator().manual_seed(10_000 + cfg.seed)
    return [
        cfg.unbalance ** (2 * torch.rand(cfg.width, generator=g, dtype=torch.float64) - 1)
        for _ in range(cfg.depth)
    ]


def make_model(cfg: Config, init: str, in_dim: int, classes: int, dtype: torch.dtype = torch.float32) -> MLP:
    """The FC net (biases on) from the seed's balanced init, rescaled unit-wise (in ``dtype``) if
    ``unbalanced``: the same function either way."""
    model = MLP(in_dim, [cfg.width] * cfg.depth, classes, bias=True, init=cfg.init, seed=cfg.seed).to(dtype)
    if init == "unbalanced":
        rescale_units_(model, unit_factors(cfg))
    return model


def _train_cfg(cfg: Config, name: str, lr: float, epochs: int):
    momentum = 0.0 if name == "adam" else cfg.momentum
    return train_config(
        cfg, optimizer=name, lr=lr, momentum=momentum, epochs=epochs, loss="ce", progress=False
    )


def _path_norm(model: torch.nn.Module) -> float:
    with torch.no_grad():
        return float(path_norm(model, 2.0))


def train_run(cfg: Config, data: Splits, name: str, init: str, lr: float, epochs: int, out: Path) -> dict:
    """One (optimizer, init, lr) trained epoch by epoch, the path norm after each (resumable: the
    record and the training checkpoint are saved after every epoch). Divergence ends the run."""
    key = f"{name}-{init}-lr{lr:g}-e{epochs}"
    path = out / "checkpoints" / f"{key}.json"
    model = make_model(cfg, init, data.in_dim, data.num_classes).to(resolve_device(cfg.device))
    rec = (
        read_json_recorded(path)
        if path.exists()
        else {"lr": lr, "epochs": [], "path_norm": [_path_norm(model)], "diverged_epoch": None}
    )
    tcfg = _train_cfg(cfg, name, lr, epochs)
    start = len(rec["epochs"])
    for e in range(start + 1, epochs + 1):
        if rec["diverged_epoch"] is not None:
            break
        try:
            hist, _ = train(
                model, data, tcfg, out, key, tags={"optimizer": name, "init": init, "lr": lr},
                best=False, keep_best=False, stop_after=e,
            )  # fmt: skip
        except FloatingPointError:
            rec["diverged_epoch"] = e
        else:
            r = hist.at(e)
            rec["epochs"].append({k: r[k] for k in r if k.endswith(("_loss", "_acc")) or k == "epoch"})
            rec["path_norm"].append(_path_norm(model))
        atomic_write_json_recorded(path, rec)
    return rec


def select_lr(cfg: Config, data: Splits, name: str, out: Path) -> tuple[float, list[dict]]:
    """The learning rate of the grid with the best validation accuracy after ``select_epochs`` on the
    balanced init (ties: lower validation loss; diverged runs excluded); a single value is taken as is."""
    lrs = lr_grid(cfg, name)
    if len(lrs) == 1:
        return lrs[0], []
    rows = []
    for lr in lrs:
        rec = train_run(cfg, data, name, "balanced", lr, cfg.select_epochs, out)
        last = rec["epochs"][-1] if rec["epochs"] and rec["diverged_epoch"] is None else None
        rows.append({"lr": lr, "val_acc": last and last["val_acc"], "val_loss": last and last["val_loss"]})
    ok = [r for r in rows if r["val_acc"] is not None]
    if not ok:
        raise FloatingPointError(f"{name}: every learning rate in {lrs} diverged; try smaller ones")
    best = max(ok, key=lambda r: (r["val_acc"], -r["val_loss"]))
    return best["lr"], rows


def invariance(cfg: Config, data: Splits, name: str, lr: float) -> dict:
    """Float64: ``invariance_steps`` mini-batch steps of ``name`` from the balanced and the unbalanced
    init (the same function) on the same batches; the largest gap between their outputs on 256 test
    images after each step, absolute and relative to the outputs' largest magnitude."""
    nets = [make_model(cfg, init, data.in_dim, data.num_classes, torch.float64) for init in INITS]
    opts = [make_optimizer(list(m.parameters()), _train_cfg(cfg, name, lr, 1), m) for m in nets]
    n = cfg.invariance_steps * cfg.batch_size
    x, y = data.x_train[:n].double(), data.y_train[:n]
    probe = data.x_test[:256].double()
    gaps, rel = [], []
    for k in range(cfg.invariance_steps):
        xb, yb = (
            x[k * cfg.batch_size : (k + 1) * cfg.batch_size],
            y[k * cfg.batch_size : (k + 1) * cfg.batch_size],
        )
        for m, opt in zip(nets, opts):
            opt.zero_grad()
            F.cross_entropy(m(xb), yb).backward()
            opt.step()
        with torch.no_grad():
            a, b = (m(probe) for m in nets)
        gap = float((a - b).abs().max())
        gaps.append(gap)
        rel.append(gap / float(a.abs().max()) if math.isfinite(gap) else math.inf)
    finite = [g for g in gaps if math.isfinite(g)]
    return {
        "lr": lr,
        "steps": cfg.invariance_steps,
        "gap_per_step": [g if math.isfinite(g) else None for g in gaps],
        "max_output_diff": max(finite) if len(finite) == len(gaps) else None,
        "relative_diff": max(rel) if len(finite) == len(gaps) else None,
    }


def _summary(rec: dict) -> dict:
    """The headline numbers of a run: last epoch's training loss (the fixed subset's full pass) and
    test accuracy (%), the final path norm, plus the per-epoch curves."""
    eps = rec["epochs"]
    last = eps[-1] if eps and rec["diverged_epoch"] is None else None
    return {
        "lr": rec["lr"],
        "diverged_epoch": rec["diverged_epoch"],
        "final_train_loss": last and last["train_loss"],
        "test_acc": last and 100 * last["test_acc"],
        "path_norm_init": rec["path_norm"][0],
        "path_norm_final": rec["path_norm"][-1] if last else None,
        "epoch": [r["epoch"] for r in eps],
        "train_loss": [r["train_loss"] for r in eps],
        "test_acc_curve": [100 * r["test_acc"] for r in eps],
        "path_norm": rec["path_norm"],
    }


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    data = _data(cfg)
    order = [n for n in OPTIMIZERS if n in cfg.optimizers]
    setup = ("width", "depth", "init", "unbalance", "momentum", "batch_size", "epochs", "invariance_steps")
    results: dict = {
        "data": data.summary(),
        "setup": {k: getattr(cfg, k) for k in setup},
        "optimizers": {},
        "invariance": {},
    }
    start = time.perf_counter()
    with progress_bar(total=len(order), desc="optimizers", unit="opt") as bar:
        for name in order:
            lr, grid = select_lr(cfg, data, name, out)
            by_init = {
                init: _summary(train_run(cfg, data, name, init, lr, cfg.epochs, out)) for init in INITS
            }
            results["optimizers"][name] = {
                **{
                    k: by_init["balanced"][k]
                    for k in ("lr", "final_train_loss", "test_acc", "path_norm_final")
                },
                "lr_grid": grid,
                "by_init": by_init,
            }
            inv = out / "checkpoints" / f"invariance-{name}.json"
            results["invariance"][name] = cached(inv, invariance, cfg, data, name, lr)
            bar.update()
    results["seconds"] = time.perf_counter() - start
    return results
