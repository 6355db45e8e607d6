"""dgn-depth: the protocol — per depth, width and seed, measure the kernels at initialisation, then
train by full-batch gradient descent and count the steps to the loss threshold."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from neuralpaths.data import DATASETS, load_dataset
from neuralpaths.errors import ConfigError
from neuralpaths.io import read_json_recorded
from neuralpaths.kernels import npk, npk_limit, ntk, value_ntk_constant
from neuralpaths.models import DGN, GATINGS, MLP, Arch, init_layers_
from neuralpaths.parallel import check_jobs, map_trials

from ..common import cached, resolve_device
from .descent import descend
from .measure import (
    condition,
    first_below,
    kernel_gd_losses,
    limit_errors,
    lr_rule,
    npk_summary,
    ntk_deviation,
    value_sigmas,
)

KINDS = ("dgn", "relu")
INITS = ("he", "pm")  # zero-mean weights of variance 2 / fan_in: Identity 3's σ_l² is known


@dataclass(frozen=True)
class Config:
    seed: int = 0
    dataset: str = "mnist"  # a load_dataset name; targets +1 for even labels, -1 for odd
    n: int = 200  # training points, class-balanced; inputs scaled to norm √d_in
    depths: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16)  # gated hidden layers (weight layers = depth + 1)
    widths: tuple[int, ...] = (16, 64, 256)  # kernels at init and training
    kernel_widths: tuple[int, ...] = (1024,)  # kernels at init only (for the limit check)
    seeds: int = 3
    gating: str = "relu"  # the frozen random gating network: "relu", "linear" (DLGN) or "shallow"
    init: str = "he"
    relu: bool = True  # also train ReLU nets (adaptive gates) for comparison
    lr_fraction: float = 0.5  # lr = lr_fraction · 2 / λ_max(initial NTK of the trained parameters)
    threshold: float = 0.01  # steps until loss ≤ threshold · initial loss
    max_steps: int = 3000
    centre: bool = True  # train f − f_0: every run starts from the residual −y
    tolerance: float = 2.0  # limit check: rel. Frobenius error ≤ tolerance · √(depth / width)
    margin: float = 0.2  # verdict: a change of steps counts when larger than this fraction
    smallest: int = 5  # least eigenvalues of H / tr H recorded
    top: int = 5  # leading eigenvalues compared with the limit
    threads: int = 1
    jobs: int = 1  # trials (kind, width, depth, seed) at once, in worker processes; the same numbers
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): where kernels and training run


def _check(cfg: Config) -> None:
    if cfg.dataset not in DATASETS:
        raise ConfigError(f"dataset={cfg.dataset!r}: use one of {', '.join(DATASETS)}")
    if not cfg.depths or min(cfg.depths) < 1 or len(set(cfg.depths)) != len(cfg.depths):
        raise ConfigError(f"depths must be distinct hidden-layer counts >= 1, got {cfg.depths}")
    if not cfg.widths or min(cfg.widths + cfg.kernel_widths) < 1:
        raise ConfigError(f"widths and kernel_widths must be >= 1, got {cfg.widths}, {cfg.kernel_widths}")
    if cfg.gating not in GATINGS:
        raise ConfigError(f"gating={cfg.gating!r}: use one of {GATINGS}")
    if cfg.init not in INITS:
        raise ConfigError(f"init={cfg.init!r}: use one of {INITS} (weights of variance 2 / fan_in)")
    if not 0 < cfg.lr_fraction < 1:
        raise ConfigError(f"lr_fraction must lie in (0, 1) (a fraction of 2 / λ_max), got {cfg.lr_fraction}")
    if not 0 < cfg.threshold < 1:
        raise ConfigError(
            f"threshold must lie in (0, 1) (a fraction of the initial loss), got {cfg.threshold}"
        )
    if cfg.seeds < 1 or cfg.max_steps < 1 or cfg.n < 2:
        raise ConfigError(
            f"need seeds >= 1, max_steps >= 1, n >= 2; got {cfg.seeds}, {cfg.max_steps}, {cfg.n}"
        )
    if min(cfg.smallest, cfg.top) < 1 or max(cfg.smallest, cfg.top) > cfg.n:
        raise ConfigError(f"smallest and top must lie in [1, n={cfg.n}], got {cfg.smallest}, {cfg.top}")
    check_jobs(cfg.jobs, "jobs")


def _data(cfg: Config) -> tuple[Tensor, Tensor, str]:
    """``n`` class-balanced training points, flattened, each scaled to norm ``√d_in``, float64, and
    targets ``±1`` (even / odd label)."""
    data = load_dataset(cfg.dataset, val_size=0, seed=cfg.seed, n_train=cfg.n, n_test=1, flatten=True)
    x = data.x_train.double()
    norms = x.norm(dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise ConfigError(
            f"{cfg.dataset}: an all-zero input cannot be scaled to norm √d_in; pick another seed"
        )
    x = x / norms * math.sqrt(x.shape[1])
    y = (data.y_train % 2 == 0).double() * 2 - 1
    return x, y, data.summary()


def _seed(cfg: Config, *keys: int) -> int:
    return int(np.random.SeedSequence([cfg.seed, *keys]).generate_state(1)[0])


def make_model(cfg: Config, kind: str, in_dim: int, width: int, depth: int, seed: int) -> nn.Module:
    """A DGN with a frozen random gating network (``"dgn"``) or a ReLU net (``"relu"``), float64."""
    widths = (width,) * depth
    if kind == "dgn":
        model = DGN(Arch.mlp(in_dim, widths), gating=cfg.gating, init=cfg.init, seed=seed).freeze_gating()
    else:
        model = MLP(in_dim, widths, 1, bias=False)
        init_layers_(model.layers, cfg.init, generator=torch.Generator().manual_seed(seed))
    return model.double()  # weights drawn on the CPU (same on every device); moved by the caller


def kernels(cfg: Config, model: nn.Module, x: Tensor, depth: int, width: int) -> tuple[dict, Tensor]:
    """NPK summary, its distance from the limit and the NTK's from ``c·H``; also the NTK itself."""
    h = npk(model, x)
    limit = npk_limit(Arch.mlp(x.shape[1], (1,) * depth), x, gating=cfg.gating)
    k = ntk(model, x, wrt="trainable")
    c = value_ntk_constant(value_sigmas(x.shape[1], width, depth))
    rec = {**npk_summary(h, cfg.smallest), **limit_errors(h, limit, cfg.top)}
    rec["ntk_deviation"] = ntk_deviation(k, h, c)
    rec["ntk_condition"] = condition(k)
    return rec, k


def one_run(cfg: Config, x: Tensor, y: Tensor, kind: str, width: int, depth: int, seed: int) -> dict:
    """Kernels at init, the linearised prediction, then gradient descent on the network itself."""
    start = time.perf_counter()
    model_seed = _seed(cfg, KINDS.index(kind), width, depth, seed)
    model = make_model(cfg, kind, x.shape[1], width, depth, model_seed).to(x.device)
    rec = {"kind": kind, "depth": depth, "width": width, "seed": seed, "weight_layers": depth + 1}
    measured, k0 = kernels(cfg, model, x, depth, width)
    rec.update(measured)
    lr, lam_max = lr_rule(k0, cfg.lr_fraction)
    with torch.no_grad():
        r0 = -y if cfg.centre else model(x)[:, 0] - y
    losses = kernel_gd_losses(k0, r0, lr, cfg.max_steps)
    rec.update(lr=lr, ntk_lambda_max=lam_max, steps_linearised=first_below(losses, cfg.threshold))
    rec.update(
        descend(
            model.float(),
            x.float(),
            y.float(),
            lr=lr,
            threshold=cfg.threshold,
            max_steps=cfg.max_steps,
            centre=cfg.centre,
        )
    )
    k1 = ntk(model.double(), x, wrt="trainable")
    change = float((k1 - k0).norm() / k0.norm())
    rec["ntk_change"] = None if rec["diverged"] or not math.isfinite(change) else change
    rec["seconds"] = time.perf_counter() - start
    return rec


def kernels_only(cfg: Config, x: Tensor, width: int, depth: int, seed: int) -> dict:
    """The DGN's kernels at init at a width too costly to train."""
    model = make_model(cfg, "dgn", x.shape[1], width, depth, _seed(cfg, 0, width, depth, seed)).to(x.device)
    rec, _ = kernels(cfg, model, x, depth, width)
    return {"kind": "dgn", "depth": depth, "width": width, "seed": seed, **rec}


def limit_record(cfg: Config, x: Tensor, y: Tensor, depth: int) -> dict:
    """The infinite-width NPK: its summary and kernel gradient descent with it from the residual −y."""
    h = npk_limit(Arch.mlp(x.shape[1], (1,) * depth), x, gating=cfg.gating)
    lr, _ = lr_rule(h, cfg.lr_fraction)
    steps = first_below(kernel_gd_losses(h, -y, lr, cfg.max_steps), cfg.threshold)
    return {"depth": depth, **npk_summary(h, cfg.smallest), "steps_linearised": steps}


def limit_check(cfg: Config, records: list[dict]) -> dict:
    """Acceptance: at the largest width, ``‖Ĥ − H∞‖_F / ‖H∞‖_F`` (both over their trace) is at most
    ``tolerance · √(depth / width)``; and at the two largest widths its ratio is near the Monte-Carlo
    ``√(w_large / w_small)``."""
    dgn = [r for r in records if r["kind"] == "dgn"]
    widths = sorted({r["width"] for r in dgn})[-2:]
    rows = []
    for width in widths:
        for depth in cfg.depths:
            errs = [r["limit_rel_frobenius"] for r in dgn if r["width"] == width and r["depth"] == depth]
            tops = [r["limit_top_rel_error"] for r in dgn if r["width"] == width and r["depth"] == depth]
            predicted = math.sqrt(depth / width)
            rows.append(
                {
                    "width": width,
                    "depth": depth,
                    "rel_frobenius": float(np.mean(errs)),
                    "top_rel_error": float(np.mean(tops)),
                    "predicted": predicted,
                    "tolerance": cfg.tolerance * predicted,
                    "constant": float(np.mean(errs)) / predicted,
                }
            )
    largest = [r for r in rows if r["width"] == widths[-1]]
    out = {
        "widths": widths,
        "tolerance_factor": cfg.tolerance,
        "rows": rows,
        "passed": all(r["rel_frobenius"] <= r["tolerance"] for r in largest),
        "max_rel_frobenius": max(r["rel_frobenius"] for r in largest),
        "max_top_rel_error": max(r["top_rel_error"] for r in largest),
    }
    if len(widths) == 2:
        small = {r["depth"]: r["rel_frobenius"] for r in rows if r["width"] == widths[0]}
        ratios = [small[r["depth"]] / r["rel_frobenius"] for r in largest if r["rel_frobenius"] > 0]
        out["scaling_ratio"] = float(np.exp(np.mean(np.log(ratios)))) if ratios else None
        out["scaling_expected"] = math.sqrt(widths[1] / widths[0])
    return out


def trial(cfg: Config, x: Tensor, y: Tensor, item: tuple[str, str, int, int, int]) -> dict:
    """One trial of the grid, saved at its stage file (a top-level function: worker processes run it).

    Args:
        item: ``(stage file, kind, width, depth, seed)``; kind ``"dgn"`` or ``"relu"``: kernels at
            init, then training (:func:`one_run`); ``"init"``: the DGN's kernels only
            (:func:`kernels_only`). Each trial draws its model from its own seed.

    Shape:
        ``x: (n, d_in)``, ``y: (n,)``, on any device (moved to ``cfg.device``).
    """
    path, kind, w, d, s = item
    device = resolve_device(cfg.device)
    x, y = x.to(device), y.to(device)
    if kind == "init":
        return cached(Path(path), kernels_only, cfg, x, w, d, s)
    return cached(Path(path), one_run, cfg, x, y, kind, w, d, s)


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    device = resolve_device(cfg.device)
    x, y, summary = _data(cfg)
    kinds = ["dgn", "relu"] if cfg.relu else ["dgn"]
    stages = out / "checkpoints"
    grid = [(k, w, d, s) for k in kinds for w in cfg.widths for d in cfg.depths for s in range(cfg.seeds)]
    extra = [(w, d, s) for w in cfg.kernel_widths for d in cfg.depths for s in range(cfg.seeds)]
    items = [(str(stages / f"{k}-w{w}-depth{d}-seed{s}.json"), k, w, d, s) for k, w, d, s in grid]
    items += [(str(stages / f"init-w{w}-depth{d}-seed{s}.json"), "init", w, d, s) for w, d, s in extra]
    start = time.perf_counter()
    todo = [item for item in items if not Path(item[0]).exists()]  # the rest finished earlier (resume)
    done = map_trials(partial(trial, cfg, x, y), todo, cfg.jobs, desc="depth x width runs")
    fresh = dict(zip((item[0] for item in todo), done))
    records = [fresh[path] if path in fresh else read_json_recorded(path) for path, *_ in items]
    runs, init_only = records[: len(grid)], records[len(grid) :]
    x, y = x.to(device), y.to(device)
    limit = [cached(stages / f"limit-depth{d}.json", limit_record, cfg, x, y, d) for d in cfg.depths]
    return {
        "data": summary,
        "settings": {
            "n": cfg.n,
            "depths": list(cfg.depths),
            "widths": list(cfg.widths),
            "kernel_widths": list(cfg.kernel_widths),
            "seeds": cfg.seeds,
            "gating": cfg.gating,
            "threshold": cfg.threshold,
            "max_steps": cfg.max_steps,
            "lr_fraction": cfg.lr_fraction,
            "margin": cfg.margin,
            "centre": cfg.centre,
            "jobs": cfg.jobs,
        },
        "runs": runs,
        "kernels_only": init_only,
        "limit": limit,
        "limit_check": limit_check(cfg, runs + init_only),
        "seconds": time.perf_counter() - start,
    }
