"""resnet-ensemble: the protocol — the sub-architectures' kernels of a residual net at init and trained."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from neuralpaths import count_paths, sub_architecture_paths
from neuralpaths.errors import ConfigError
from neuralpaths.graph import describe
from neuralpaths.io import atomic_torch_save, load_checkpoint
from neuralpaths.kernels import (
    KernelRegressor,
    accuracy,
    effective_rank,
    npk,
    npk_parts,
    nu,
    one_hot,
    target_alignment,
)
from neuralpaths.losses import evaluate
from neuralpaths.models import init_layers_, resnet

from ..common import cached, load_data, resolve_device, train, train_config


@dataclass(frozen=True)
class Config:
    seed: int = 0
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): training and kernels
    dataset: str = "mnist"  # "mnist", "fashion-mnist", "cifar10" (with data_dir), "digits"
    data_dir: str = ""
    channels: tuple[int, ...] = (8, 16, 16)  # per stage (layer1, layer2, ...)
    blocks: tuple[int, ...] = (1, 1, 1)  # BasicBlocks per stage: 2^sum(blocks) sub-architectures
    stem_stride: int = 2  # 28x28 -> 14x14 after the stem: the pairwise kernels cost ∝ positions
    maxpool: bool = False
    bias: bool = True
    init: str = "torch"
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 10
    n_train: int = 0  # 0: the whole training split
    val_size: int = 5000
    points: int = 400  # class-balanced test subset for the kernels (half fits kernel regression)
    regression: bool = True  # kernel regression with each part's kernel
    threads: int = 1  # small convs lose much from a 2nd thread on a busy machine; 0 = torch default


def _check(cfg: Config) -> None:
    if len(cfg.channels) != len(cfg.blocks) or not cfg.channels:
        raise ConfigError(f"channels and blocks need one entry per stage, got {cfg.channels}, {cfg.blocks}")
    if sum(cfg.blocks) > 6:
        raise ConfigError(
            f"{sum(cfg.blocks)} blocks make 2^{sum(cfg.blocks)} sub-architectures: use at most 6"
        )
    if cfg.val_size <= 0:
        raise ConfigError("resnet-ensemble keeps the best-validation epoch: set val_size > 0")
    if cfg.points < 4:
        raise ConfigError(f"points must be at least 4 (two per half of the subset), got {cfg.points}")


def _net(cfg: Config, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The residual net, weights drawn by ``cfg.init`` from ``1000·seed``."""
    net = resnet(
        in_shape,
        num_classes,
        channels=cfg.channels,
        blocks=cfg.blocks,
        bias=cfg.bias,
        stem_stride=cfg.stem_stride,
        maxpool=cfg.maxpool,
    )
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    init_layers_(layers, cfg.init, generator=torch.Generator().manual_seed(1000 * cfg.seed))
    return net


def _subset(cfg: Config, y: Tensor, num_classes: int) -> tuple[Tensor, Tensor, Tensor]:
    """Seeded class-balanced test indices sorted by class, and the two class-balanced halves
    (positions in the subset) for kernel regression."""
    g = torch.Generator().manual_seed(cfg.seed)
    per = max(2, cfg.points // num_classes)
    idx, fit_mask = [], []
    for c in range(num_classes):
        members = torch.nonzero(y == c).flatten()
        pick = members[torch.randperm(len(members), generator=g)[:per]]
        idx.append(pick)
        fit_mask.append(torch.arange(len(pick)) % 2 == 0)  # alternate: half fits, half tests
    idx, fit_mask = torch.cat(idx), torch.cat(fit_mask)
    pos = torch.arange(len(idx))
    return idx, pos[fit_mask], pos[~fit_mask]


def _nu(h: Tensor, targets: Tensor) -> tuple[float, float]:
    """``(ν, ridge)``: ν of ``H / tr H`` (a tiny ridge only if it is numerically singular)."""
    for ridge in (0.0, 1e-10, 1e-8, 1e-6):
        try:
            return nu(h, targets, ridge=ridge) / targets.shape[1], ridge
        except ValueError:
            continue
    return float("nan"), float("nan")


def kernel_stats(h: Tensor, total: Tensor, y: Tensor, num_classes: int, split) -> dict:
    """Share, alignment, ν, effective rank (and kernel regression accuracy) of one kernel ``h``."""
    targets = one_hot(y, num_classes, off=-1.0, dtype=torch.float64)  # (n, classes) of ±1
    nu_value, ridge = _nu(h, targets)
    out = {
        "trace": float(h.trace()),
        "inner_with_total": float((h * total).sum()),
        "trace_share": float(h.trace() / total.trace()),
        "frobenius_share": float((h * total).sum() / (total * total).sum()),
        "alignment": target_alignment(h, targets, centered=True),
        "nu": nu_value,
        "nu_ridge": ridge,
        "effective_rank": effective_rank(h),
    }
    if split is not None:
        tr, te = split
        reg = KernelRegressor(ridge=0.0, kernel="precomputed", jitter="auto").fit(h[tr][:, tr], targets[tr])
        out["regression_acc"] = 100 * accuracy(reg.predict(h[te][:, tr]), y[te])
    return out


@torch.no_grad()
def measure(
    net: nn.Module, x: Tensor, y: Tensor, num_classes: int, split, device: str | torch.device = "cpu"
) -> tuple[dict, dict]:
    """Per-part and total statistics, and the kernels (``{label: H_p}``, ``"total"``)."""
    m = copy.deepcopy(net).double().eval().to(device)
    x = x.double().to(device)
    parts = {key: h.cpu() for key, h in npk_parts(m, x).items()}  # on ``device``, back on the CPU
    total = npk(m, x).cpu()
    err = float((sum(parts.values()) - total).norm() / total.norm())
    stats = {
        "parts": {k: kernel_stats(h, total, y, num_classes, split) for k, h in parts.items()},
        "total": kernel_stats(total, total, y, num_classes, split),
        "sum_rel_error": err,
    }
    return stats, {**parts, "total": total}


def path_shares(net: nn.Module, in_shape: tuple[int, ...]) -> dict[str, float]:
    """Each sub-architecture's fraction of the network's paths (bias paths included)."""
    counts = sub_architecture_paths(net, in_shape=in_shape)
    total = sum(counts.values())
    return {k: n / total for k, n in counts.items()}


def _stage(
    out: Path, net: nn.Module, x: Tensor, y: Tensor, k: int, split, name: str, device: str = "cpu"
) -> dict:
    """Measure the kernels at stage ``name``: their statistics, thumbnails, and (saved beside them in
    ``kernels_<name>.pt``) the kernels themselves."""
    start = time.perf_counter()
    stats, kernels = measure(net, x, y, k, split, resolve_device(device))
    stats["seconds"] = time.perf_counter() - start
    step = max(1, len(x) // 100)
    stats["thumbnails"] = {
        key: (h / h.trace()).float()[::step, ::step].tolist() for key, h in kernels.items()
    }
    atomic_torch_save(out / f"kernels_{name}.pt", {key: h.clone() for key, h in kernels.items()})
    return stats


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    data = load_data(cfg)
    if len(data.in_shape) != 3:
        raise ConfigError(f"resnet-ensemble needs image inputs (C, H, W), got {data.in_shape}")
    net = _net(cfg, data.in_shape, data.num_classes)
    arch = {
        "summary": describe(net),
        "paths": int(count_paths(net, in_shape=data.in_shape)),
        "blocks": sum(cfg.blocks),
    }
    arch["path_share"] = path_shares(net, data.in_shape)
    idx, fit_pos, test_pos = _subset(cfg, data.y_test, data.num_classes)
    x, y = data.x_test[idx], data.y_test[idx]
    split = (fit_pos, test_pos) if cfg.regression else None
    init_loss, init_acc = evaluate(net, data.x_test, data.y_test)

    def stage(name: str) -> dict:  # the kernels of the net as it is now (a resumed run loads them)
        return cached(
            out / f"kernels_{name}.json", _stage, out, net, x, y, data.num_classes, split, name, cfg.device
        )

    init = stage("init")
    _, trained_record = train(
        net, data, train_config(cfg, loss="ce"), out, "resnet", tags={"model": "resnet"}, desc="ResNet"
    )
    trained = stage("trained")

    labels = list(init["parts"])
    return {
        "data": data.summary(),
        "arch": arch,
        "points": len(idx),
        "regression_split": [len(fit_pos), len(test_pos)] if cfg.regression else None,
        "labels": y[:: max(1, len(idx) // 100)].tolist(),
        "parts": {k: {"init": init["parts"][k], "trained": trained["parts"][k]} for k in labels},
        "total": {"init": init["total"], "trained": trained["total"]},
        "sum_rel_error": {"init": init["sum_rel_error"], "trained": trained["sum_rel_error"]},
        "thumbnails": {"init": init["thumbnails"], "trained": trained["thumbnails"]},
        **{k: v for k, v in trained_record.items() if k != "seconds"},
        "test_acc_init": 100 * init_acc,
        "init_loss": init_loss,
        "seconds_kernels": {"init": init["seconds"], "trained": trained["seconds"]},
        "seconds_training": trained_record["seconds"],
    }


def saved_kernels(out: Path, stage: str) -> dict[str, Tensor]:
    """The kernels a run saved for ``stage`` (``"init"`` / ``"trained"``): ``{label: H_p, "total": H}``."""
    return load_checkpoint(out / f"kernels_{stage}.pt")
