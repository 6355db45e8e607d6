"""dlgn-images: the protocol — the DLGN, DGN and ReLU net on MNIST (FC) and CIFAR-10 (C4GAP)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from neuralpaths.data import Splits, load_dataset
from neuralpaths.errors import ConfigError, DataNotFoundError
from neuralpaths.models import DGN, DLGN, Arch, ReLUNet

from ..common import train, train_config
from .report import LABELS

MODELS = ("dlgn", "dgn", "relu")


@dataclass(frozen=True)
class Config:
    seed: int = 0
    models: tuple[str, ...] = MODELS
    beta: float = 4.0  # soft gates sigmoid(beta q) of the DLGN and DGN
    value_input: str = "ones"  # what the DLGN's and DGN's value networks are fed: "ones" or "x"
    batch_size: int = 128
    val_size: int = 5000
    # part 1: MNIST, fully connected
    mnist: bool = True
    fc_widths: tuple[int, ...] = (128, 128, 128, 128)
    mnist_n_train: int = 0  # 0: all 55000 after the validation split
    mnist_n_test: int = 0  # 0: all 10000
    mnist_epochs: int = 20
    mnist_lr: float = 1e-3
    # part 2: CIFAR-10, C4GAP
    cifar: str = "auto"  # "auto": run if the folder is found; "yes": required; "no": skip
    data_dir: str = ""  # the cifar-10-batches-py folder (else $NEURALPATHS_CIFAR10_DIR)
    conv_width: int = 16
    cifar_val_size: int = 1000
    cifar_n_train: int = 10000  # 0: all
    cifar_n_test: int = 2000  # 0: all 10000
    cifar_epochs: int = 6
    cifar_lr: float = 1e-3
    train_eval_size: int = 2000  # training points evaluated each epoch for the train accuracy
    threads: int = 1  # torch threads while running; 0 leaves torch's setting
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): where training runs


def _check(cfg: Config) -> None:
    if set(cfg.models) - set(MODELS) or not cfg.models:
        raise ConfigError(f"models must be among {MODELS}, got {cfg.models}")
    if cfg.cifar not in ("auto", "yes", "no"):
        raise ConfigError(f"cifar must be 'auto', 'yes' or 'no', got {cfg.cifar!r}")
    if cfg.device != "auto" and cfg.device.split(":")[0] not in ("cpu", "cuda"):
        raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {cfg.device!r}")
    if cfg.value_input not in ("ones", "x"):
        raise ConfigError(f"value_input must be 'ones' or 'x', got {cfg.value_input!r}")


def make_model(cfg: Config, kind: str, arch: Arch):
    seed = 1000 * cfg.seed + MODELS.index(kind)
    if kind == "relu":
        return ReLUNet(arch, seed=seed)
    if kind == "dlgn":
        return DLGN(arch, beta=cfg.beta, value_input=cfg.value_input, seed=seed)
    return DGN(
        arch, gating="relu", gate="soft", beta=cfg.beta, eps=0.0, value_input=cfg.value_input, seed=seed
    )


def _cifar_data(cfg: Config) -> tuple[Splits | None, str]:
    """CIFAR-10 splits, or ``None`` and why it was skipped."""
    if cfg.cifar == "no":
        return None, "skipped: cifar='no'"
    try:
        data = load_dataset(
            "cifar10",
            data_dir=cfg.data_dir or None,
            val_size=cfg.cifar_val_size,
            seed=cfg.seed,
            n_train=cfg.cifar_n_train or None,
            n_test=cfg.cifar_n_test or None,
        )
    except DataNotFoundError as e:
        if cfg.cifar == "yes":
            raise
        return None, f"skipped: no CIFAR-10 folder ({e})"
    return data, ""


def run_part(cfg: Config, part: str, data: Splits, arch: Arch, epochs: int, lr: float, out: Path) -> dict:
    """Train every model on one data set; records at the best-validation epoch."""
    train_cfg = train_config(cfg, epochs=epochs, optimizer="adam", lr=lr)
    models = {}
    for kind in cfg.models:
        model = make_model(cfg, kind, arch).to(_device(cfg))
        _, record = train(
            model,
            data,
            train_cfg,
            out,
            f"{part}-{kind}",
            tags={"part": part, "model": kind},
            desc=f"{LABELS[kind]} {part}",
        )
        models[kind] = {**record, "params": sum(p.numel() for p in model.parameters())}
    if "relu" in models:
        for m in models.values():
            m["pct_of_relu"] = 100 * m["test_acc"] / models["relu"]["test_acc"]
    return {"data": data.summary(), "arch": _arch_text(arch), "models": models}


def _device(cfg: Config) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def _arch_text(arch: Arch) -> str:
    if arch.is_conv:
        return f"C4GAP, {arch.conv[0]} channels, {arch.in_shape[1]}x{arch.in_shape[2]} input"
    return f"FC {arch.in_dim}-" + "-".join(map(str, arch.dense)) + f"-{arch.out_dim}"


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    results: dict = {"parts": {}, "skipped": {}}
    if cfg.mnist:
        data = load_dataset(
            "mnist",
            val_size=cfg.val_size,
            seed=cfg.seed,
            n_train=cfg.mnist_n_train or None,
            n_test=cfg.mnist_n_test or None,
            flatten=True,
        )
        arch = Arch.mlp(data.in_dim, cfg.fc_widths, data.num_classes)
        results["parts"]["mnist"] = run_part(cfg, "mnist", data, arch, cfg.mnist_epochs, cfg.mnist_lr, out)
    else:
        results["skipped"]["mnist"] = "skipped: mnist=false"
    data, why = _cifar_data(cfg)
    if data is None:
        results["skipped"]["cifar10"] = why
    else:
        c, h, _ = data.in_shape
        arch = Arch.c4gap(c, h, data.num_classes, cfg.conv_width)
        results["parts"]["cifar10"] = run_part(
            cfg, "cifar10", data, arch, cfg.cifar_epochs, cfg.cifar_lr, out
        )
    return results
