"""npf-regimes: the protocol — train the five regimes, then read the ReLU net's gates and NPK."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neuralpaths import gates as gates_of
from neuralpaths.errors import ConfigError
from neuralpaths.kernels import npk, nu, one_hot, target_alignment

from ..common import load_data, resolve_device, train, train_config
from .models import REGIMES, Nets, arch_name, describe, flat_inputs, load_builder
from .report import LABELS


@dataclass(frozen=True)
class Config:
    seed: int = 0
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): training and the NPK
    dataset: str = "mnist"  # "mnist", "fashion-mnist", "cifar10" (with data_dir), "digits"
    data_dir: str = ""  # folder of the data set files (CIFAR-10: cifar-10-batches-py)
    arch: str = "fc"  # "fc" (widths), "vconv" / "gconv" (channels, dense), "resnet" (channels, blocks)
    model: str = ""  # "path/to/file.py:function", called as function(in_shape, num_classes); overrides arch
    widths: tuple[int, ...] = (128, 128, 128, 128, 128)  # fc: hidden widths
    channels: tuple[int, ...] = ()  # vconv/gconv: convs (() = 64,64,128,128); resnet: stages (() = 16,32)
    dense: tuple[int, ...] = (256, 256)  # vconv/gconv: dense widths after the convs
    blocks: tuple[int, ...] = ()  # resnet: residual blocks per stage (() = one each)
    bias: bool = False
    init: str = "glorot"  # the Keras default the official code used
    regimes: tuple[str, ...] = REGIMES
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 20
    n_train: int = 0  # 0: the whole training split
    n_test: int = 0  # 0: the whole test set (else a class-balanced subset)
    val_size: int = 5000
    beta: float = 4.0
    eps: float = 0.1
    npk_points: int = 500  # test points for the NPK / ν analysis
    threads: int = (
        1  # small FC nets gain little from a 2nd thread and lose much on a busy machine; 0 = default
    )


def _gate_analysis(
    cfg: Config, data, init: torch.nn.Module, trained: torch.nn.Module, dlnpf: torch.nn.Module | None
) -> dict:
    """Gates and NPK (bias paths included) of the ReLU net at init and trained (and of DLNPF), on
    ``npk_points`` test points; any architecture."""
    g = torch.Generator().manual_seed(cfg.seed)
    idx = torch.randperm(len(data.x_test), generator=g)[: cfg.npk_points]
    idx = idx[torch.argsort(data.y_test[idx], stable=True)]  # sorted by class for the pictures
    x, y = data.x_test[idx].double(), data.y_test[idx]
    nets = {"relu-init": init, "relu-trained": trained}
    if dlnpf is not None:
        nets["dlnpf-trained"] = dlnpf
    nets = {k: copy.deepcopy(m).double().eval() for k, m in nets.items()}
    out, kernels = {}, {}
    with torch.no_grad():
        gates = {k: gates_of(m, x) for k, m in nets.items()}
        dev = resolve_device(cfg.device)
        for k, m in nets.items():
            h = npk(m.to(dev), x.to(dev)).cpu()  # on the run's device, back on the CPU
            kernels[k] = h
            targets = one_hot(y, data.num_classes, off=-1.0, dtype=torch.float64)  # (n, classes) of ±1
            out[k] = {
                "nu": nu(h, targets) / data.num_classes,  # mean over the one-vs-rest problems
                "alignment": target_alignment(h, targets, centered=True),
            }
        changed = [(a != b).double().mean().item() for a, b in zip(gates["relu-init"], gates["relu-trained"])]
        active = [[g_.mean().item() for g_ in gates[k]] for k in ("relu-init", "relu-trained")]
    step = max(1, len(idx) // 100)
    small = {k: (v / v.trace()).float()[::step, ::step].tolist() for k, v in kernels.items()}  # thumbnail
    return {
        "models": out,
        "gates_changed_per_layer": changed,
        "gates_changed": float(np.mean(changed)),
        "active_init": active[0],
        "active_trained": active[1],
        "labels": y[::step].tolist(),
        "kernel_thumbnails": small,
        "points": len(idx),
    }


def _check(cfg: Config) -> None:
    if cfg.val_size <= 0:
        raise ConfigError("npf-regimes selects epochs on a validation split: set val_size > 0 (e.g. 5000)")
    if cfg.npk_points < 2:
        raise ConfigError(f"npk_points must be >= 2 test points for the NPK analysis, got {cfg.npk_points}")
    unknown = set(cfg.regimes) - set(REGIMES)
    if unknown or not cfg.regimes or ("relu" not in cfg.regimes and "flnpf" in cfg.regimes):
        raise ConfigError(f"regimes must be among {REGIMES} (flnpf needs relu); got {cfg.regimes}")
    if arch_name(cfg) == "model":
        load_builder(cfg.model)  # the file and function exist (before loading any data)


def _arch_record(cfg: Config, net: torch.nn.Module, data) -> dict:
    """Which architecture ran: its kind, name, one-line layer summary and paths per output."""
    kind = arch_name(cfg)
    return {"kind": kind, "name": cfg.model if kind == "model" else kind, **describe(net, data.in_shape)}


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    data = load_data(cfg, flatten=flat_inputs(cfg))
    nets = Nets(cfg, data)  # checks the architecture (and a user's builder) before training
    kind = arch_name(cfg)
    results: dict = {
        "regimes": {},
        "data": data.summary(),
        "paper_optimizer": cfg.optimizer,
        "setup": {"arch": kind, "dataset": data.name, "optimizer": cfg.optimizer},
    }
    relu, relu_init, dlnpf = None, None, None
    for name in [r for r in REGIMES if r in cfg.regimes]:
        model = nets.relu() if name == "relu" else nets.regime(name, relu)
        if name == "relu":
            relu_init = copy.deepcopy(model)
            results["arch"] = _arch_record(cfg, model, data)
        hist, record = train(
            model, data, train_config(cfg, loss="ce"), out, name, tags={"regime": name}, desc=LABELS[name]
        )
        if name == "relu":
            relu = model
        if name == "dlnpf":
            dlnpf = model
        record["seconds_per_epoch"] = float(np.mean([e["seconds"] for e in hist.epochs]))
        results["regimes"][name] = record
    if "arch" not in results:  # no ReLU regime: describe a freshly built net
        results["arch"] = _arch_record(cfg, nets.relu(), data)
    if relu is not None:
        results["gates"] = _gate_analysis(cfg, data, relu_init, relu, dlnpf)
    return results
