"""continuous-npf: the protocol — train a ReLU net in stages; after each, train an FLNPF on its gates."""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from neuralpaths.data import Splits, load_dataset
from neuralpaths.errors import ConfigError, DataNotFoundError
from neuralpaths.losses import evaluate
from neuralpaths.models import DGN, Arch, ReLUNet
from neuralpaths.train import best_state

from ..common import cached, resolve_device, train, train_config

ARCHS = ("fc", "gconv")
CIFAR10_ENV = "NEURALPATHS_CIFAR10_DIR"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    setups: tuple[str, ...] = ("fc/mnist", "gconv/fashion-mnist")  # "arch/dataset", arch fc or gconv
    fallback_dataset: str = "mnist"  # runs a setup whose data set is not installed ("": fail instead)
    data_dir: str = ""  # folder of the data set files (CIFAR-10: cifar-10-batches-py)
    widths: tuple[int, ...] = (128, 128, 128, 128)  # fc hidden widths
    channels: tuple[int, ...] = (16, 16, 32, 32)  # gconv: 3x3 same convs, then global average pooling
    dense: tuple[int, ...] = (64, 64)  # gconv: dense widths after the pooling
    image_pool: int = 4  # gconv: images average-pooled by this factor first (CPU-sized); 1: full size
    bias: bool = True  # the paper's Keras layers had biases
    init: str = "glorot"
    stage_epochs: tuple[int, ...] = (0, 2, 4, 8, 16)  # ReLU epochs after which its gates are copied
    flnpf_epochs: int = 5  # value-network training per stage
    copy_from: str = "last"  # "last": the ReLU weights at the stage's end; "best": best validation so far
    optimizer: str = "adam"
    lr: float = 3e-3
    batch_size: int = 64
    n_train: int = 5000  # class-balanced training subset (0: all)
    n_test: int = 2000  # class-balanced test subset (0: all)
    val_size: int = 0  # validation examples (needed by copy_from="best")
    threads: int = 1
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): where training runs


def parse_setup(text: str) -> tuple[str, str]:
    """``"gconv/mnist"`` -> ``("gconv", "mnist")`` (a ConfigError naming the form otherwise)."""
    arch, sep, dataset = str(text).partition("/")
    if not sep or arch not in ARCHS or not dataset:
        raise ConfigError(f"setups entries must be 'arch/dataset' with arch in {ARCHS}, got {text!r}")
    return arch, dataset


def check(cfg: Config) -> None:
    if not cfg.setups:
        raise ConfigError("setups is empty: name at least one, e.g. setups=fc/mnist")
    setups = [parse_setup(s) for s in cfg.setups]
    stages = list(cfg.stage_epochs)
    if not stages or stages != sorted(set(stages)) or stages[0] < 0:
        raise ConfigError(f"stage_epochs must be increasing epochs >= 0, got {cfg.stage_epochs}")
    if cfg.image_pool < 1:
        raise ConfigError(f"image_pool must be >= 1 (1: full-size images), got {cfg.image_pool}")
    if cfg.flnpf_epochs < 1:
        raise ConfigError(f"flnpf_epochs must be >= 1, got {cfg.flnpf_epochs}")
    if cfg.copy_from not in ("last", "best"):
        raise ConfigError(f"copy_from must be 'last' or 'best', got {cfg.copy_from!r}")
    if cfg.copy_from == "best" and cfg.val_size <= 0:
        raise ConfigError("copy_from='best' selects ReLU checkpoints on a validation split: set val_size > 0")
    cifar = any(d in ("cifar10", "cifar-10", "cifar") for _, d in setups)
    if cifar and not (cfg.data_dir or os.environ.get(CIFAR10_ENV)):
        raise ConfigError(
            "this preset trains on CIFAR-10, which is not bundled: give its folder with "
            "--set data_dir=/path/to/cifar-10-batches-py"
        )


def _load(cfg: Config, arch: str, dataset: str) -> tuple[Splits, str]:
    """The data set (or the fallback when it is not installed) and a note saying which ran."""
    kw = dict(val_size=cfg.val_size, seed=cfg.seed, n_train=cfg.n_train or None, n_test=cfg.n_test or None)
    try:
        return load_dataset(dataset, data_dir=cfg.data_dir or None, flatten=arch == "fc", **kw), ""
    except DataNotFoundError:
        if not cfg.fallback_dataset or cfg.fallback_dataset == dataset:
            raise
        note = f"{dataset} is not installed, ran on {cfg.fallback_dataset}"
        return load_dataset(cfg.fallback_dataset, flatten=arch == "fc", **kw), note


def _pooled(data: Splits, k: int) -> Splits:
    """Images average-pooled by ``k`` (``(n, C, H, W) -> (n, C, H // k, W // k)``)."""
    if k == 1:
        return data
    pool = {f: F.avg_pool2d(getattr(data, f), k) for f in ("x_train", "x_val", "x_test")}
    return dataclasses.replace(data, name=f"{data.name} ({k}x{k} pooled)", **pool)


def _arch(cfg: Config, kind: str, data: Splits) -> Arch:
    if kind == "fc":
        return Arch.mlp(data.in_shape[0], cfg.widths, data.num_classes, bias=cfg.bias)
    c, h, w = data.in_shape
    if h != w:
        raise ConfigError(f"gconv needs square images, got {h}x{w}")
    return Arch.gconv(c, h, data.num_classes, cfg.channels, cfg.dense, cfg.bias)


def _record(hist) -> dict:
    curve = [100 * e["test_acc"] for e in hist.epochs]
    return {"test_acc": curve[-1], "best_test_acc": max(curve), "test_curve": curve}


def _setup(cfg: Config, name: str, out: Path) -> dict:
    """One setup: the ReLU net trained stage by stage, an FLNPF trained on each stage's gates."""
    kind, dataset = parse_setup(name)
    data, note = _load(cfg, kind, dataset)
    data = _pooled(data, cfg.image_pool) if kind == "gconv" else data
    arch, device = _arch(cfg, kind, data), resolve_device(cfg.device)
    tag = name.replace("/", "-")
    relu = ReLUNet(arch, init=cfg.init, seed=1000 * cfg.seed).to(device)
    seed = 1000 * cfg.seed
    rcfg = train_config(cfg, loss="ce", epochs=cfg.stage_epochs[-1] or 1, seed=seed, progress=False)
    fcfg = train_config(cfg, loss="ce", epochs=cfg.flnpf_epochs, seed=seed + 1, progress=False)
    ckpt = out / "checkpoints" / f"{tag}-relu.pt"
    stages, relu_acc = [], {}
    for s, epochs in enumerate(cfg.stage_epochs):
        if epochs == 0:
            x, y = data.x_test.to(device), data.y_test.to(device)
            relu_acc[0] = 100 * evaluate(relu, x, y, "ce", 2048)[1]
        else:
            hist, _ = train(
                relu, data, rcfg, out, f"{tag}-relu", tags={"setup": name, "model": "relu"},
                best=False, keep_best=cfg.copy_from == "best", stop_after=epochs,
            )  # fmt: skip
            chosen = hist.best_val_epoch if cfg.copy_from == "best" else epochs  # whose gates are copied
            relu_acc[epochs] = 100 * hist.at(chosen)["test_acc"]
        gates_of = copy.deepcopy(relu)
        if epochs > 0 and cfg.copy_from == "best":
            gates_of.load_state_dict(best_state(ckpt))

        def stage(s=s, epochs=epochs, gates_of=gates_of) -> dict:
            flnpf = DGN.regime("flnpf", arch, seed=1000 * cfg.seed + 1, init=cfg.init, relu_net=gates_of)
            hist, _ = train(
                flnpf, data, fcfg, out, f"{tag}-stage{s}", tags={"setup": name, "model": f"flnpf-stage{s}"},
                best=False, keep_best=False,
            )  # fmt: skip
            return {"stage": s, "relu_epochs": epochs, **_record(hist)}

        stages.append(cached(out / "checkpoints" / f"{tag}-stage{s}.json", stage))
    final = relu_acc[cfg.stage_epochs[-1]]
    for rec in stages:
        rec["relu_stage_acc"] = relu_acc[rec["relu_epochs"]]  # the ReLU net whose gates were copied
        rec["relu_test_acc"] = final
        rec["setup"] = name
    return {
        "arch": kind,
        "dataset": data.name,
        "requested_dataset": dataset,
        "note": note,
        "data": data.summary(),
        "relu_test_acc": final,
        "stages": stages,
    }


def run(cfg: Config, out: Path) -> dict:
    check(cfg)
    setups = {name: _setup(cfg, name, out) for name in cfg.setups}
    return {
        "setups": setups,
        "stages": [rec for s in setups.values() for rec in s["stages"]],
        "copy_from": cfg.copy_from,
        "flnpf_epochs": cfg.flnpf_epochs,
        "device": str(torch.device(resolve_device(cfg.device))),
    }
