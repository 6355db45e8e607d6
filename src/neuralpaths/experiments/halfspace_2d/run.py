"""halfspace-2d: the protocol — the DLGN and the ReLU net trained on each 2-D set, pictured as they learn."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neuralpaths.data import TOY2D, Splits, make_toy2d, toy2d_boundaries
from neuralpaths.errors import ConfigError
from neuralpaths.geometry import (
    gating_hyperplanes,
    linear_regions,
    path_halfspaces,
    path_value,
    unit_path_values,
)
from neuralpaths.losses import evaluate
from neuralpaths.models import DLGN, MLP, Arch
from neuralpaths.plots import grid_points, window

from ..common import accuracy_record, cached, train, train_config
from .report import LABELS, pack_grid

MODELS = ("dlgn", "relu")


@dataclass(frozen=True)
class Config:
    seed: int = 0
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): where training runs
    datasets: tuple[str, ...] = ("tree", "checkerboard")
    n_points: int = 3000  # split 60/20/20 into train / validation / test
    noise: float = 0.0
    cells: int = 4  # checkerboard cells per side
    widths: tuple[int, ...] = (12, 12, 12)  # hidden layers of both nets
    beta: float = 4.0
    lr: float = 0.01
    batch_size: int = 100
    epochs: int = 200
    frames: tuple[int, ...] = (0, 1, 3, 10, 30, 100)  # epochs pictured during training (+ the last)
    lim: float = 1.25  # pictures cover [-lim, lim]^2
    resolution: int = 120  # grid of the final pictures
    frame_resolution: int = 72  # grid of the training frames
    plot_points: int = 600  # data points drawn
    n_paths: int = 6
    threads: int = 1  # torch threads while running; 0 leaves torch's setting


def _check(cfg: Config) -> None:
    bad = set(cfg.datasets) - set(TOY2D)
    if bad or not cfg.datasets:
        raise ConfigError(f"datasets must be among {TOY2D}, got {cfg.datasets}")
    if any(e < 0 or e > cfg.epochs for e in cfg.frames):
        raise ConfigError(f"frames must be epochs in 0..epochs={cfg.epochs}, got {cfg.frames}")
    if cfg.n_points < 20 or cfg.resolution < 8 or cfg.frame_resolution < 8:
        raise ConfigError("need n_points >= 20 and resolutions >= 8")


def make_data(cfg: Config, name: str) -> Splits:
    x, y = make_toy2d(name, cfg.n_points, seed=cfg.seed, noise=cfg.noise, cells=cfg.cells)
    a, b = int(0.6 * len(y)), int(0.8 * len(y))  # the points are shuffled: split in order
    return Splits(f"toy2d-{name}", x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], 2)


def make_model(cfg: Config, kind: str) -> torch.nn.Module:
    seed = 1000 * cfg.seed + MODELS.index(kind)
    if kind == "relu":
        return MLP(2, list(cfg.widths), 2, bias=True, seed=seed)
    return DLGN(Arch.mlp(2, cfg.widths, 2), beta=cfg.beta, gating_bias=True, seed=seed)


def _round(t: torch.Tensor | np.ndarray, digits: int = 4) -> list:
    return np.round(np.asarray(t, dtype=np.float64), digits).tolist()


@torch.no_grad()
def snapshot(model: torch.nn.Module, pts: torch.Tensor, res: int) -> dict:
    """Score of class 1 (logit difference) on the grid, and a DLGN's gating hyperplanes per layer.

    Shape:
        ``pts: (res * res, 2)`` -> score ``(res, res)`` (packed); hyperplanes ``(w_l, 2)`` per layer.
    """
    out = model(pts.float())
    snap = {"score": pack_grid((out[:, 1] - out[:, 0]).reshape(res, res))}  # (res*res,) -> (res, res)
    if isinstance(model, DLGN):
        snap["gating"] = [
            {k: None if v is None else _round(v) for k, v in h.to_dict().items()}
            for h in gating_hyperplanes(model)
        ]
    return snap


@torch.no_grad()
def top_paths(model: DLGN, x: torch.Tensor, k: int, distinct: bool = True) -> list[dict]:
    """The ``k`` paths contributing most to the class-1 score on ``x``: |value| × share of data in
    the path's region (hard gates); with ``distinct``, a path whose region holds the same points of
    ``x`` as a path already chosen is skipped. Each with its half-spaces, value and share.

    Shape:
        ``x: (n, 2)``; a path is one unit per hidden layer; its half-spaces ``(L, 2)``.
    """
    values = unit_path_values(model)  # (w_1, ..., w_L, 2)
    score = values[..., 1] - values[..., 0]
    gates = [(q > 0).double() for q in model.preactivations(x.float())]
    inside = gates[0]
    for g in gates[1:]:
        inside = (inside[:, :, None] * g[:, None, :]).flatten(1)  # (n, P) x (n, w) -> (n, P * w)
    share = inside.mean(0).view(score.shape)
    contrib = (score.abs() * share).flatten()
    out, regions = [], []
    for flat in torch.argsort(contrib, descending=True, stable=True).tolist():
        members = inside[:, flat] > 0
        if len(out) == k:
            break
        if distinct and any(torch.equal(members, r) for r in regions):
            continue
        regions.append(members)
        path = [int(i) for i in np.unravel_index(flat, score.shape)]
        v = path_value(model, path)
        h = path_halfspaces(model, path)
        out.append(
            {
                "path": path,
                "value": float(v[1] - v[0]),
                "share": float(share.flatten()[flat]),
                "halfspaces": {"normals": _round(h.normals), "offsets": _round(h.offsets_or_zeros())},
            }
        )
    return out


def _frame(model: torch.nn.Module, data: Splits, hist, pts: torch.Tensor, cfg: Config) -> dict:
    """The training frame of the model as it is now: its snapshot and test accuracy."""
    epoch = hist.final["epoch"] if hist is not None else 0
    snap = {"epoch": epoch, **snapshot(model, pts, cfg.frame_resolution)}
    snap["test_acc"] = 100 * evaluate(model, data.x_test, data.y_test)[1]
    return snap


def _train(cfg: Config, name: str, kind: str, data: Splits, out: Path) -> dict:
    lim = window(None, cfg.lim)
    frame_pts, final_pts = grid_points(lim, cfg.frame_resolution), grid_points(lim, cfg.resolution)
    model = make_model(cfg, kind)
    train_cfg = train_config(cfg, optimizer="adam")
    cache = out / "snapshots"
    frames, hist, start = [], None, time.perf_counter()
    for stop in sorted({*cfg.frames, cfg.epochs}):
        if stop > 0:  # the pictures show the model as it is: no best-validation weights reloaded
            hist, _ = train(
                model,
                data,
                train_cfg,
                out,
                f"{name}-{kind}",
                tags={"dataset": name, "model": kind},
                desc=f"{LABELS[kind]} {name}",
                best=False,
                stop_after=stop,
            )
        frames.append(cached(cache / f"{name}-{kind}-{stop}.json", _frame, model, data, hist, frame_pts, cfg))
    final = snapshot(model, final_pts, cfg.resolution)
    ids, n_regions = linear_regions(model, final_pts.float())
    ids = ids.reshape(cfg.resolution, cfg.resolution)  # (res*res,) -> (res, res)
    record = {
        "frames": frames,
        "final": final,
        "regions": pack_grid(ids, "int32"),
        "n_regions": n_regions,
        **accuracy_record(hist, time.perf_counter() - start),
        "final_test_acc": 100 * hist.final["test_acc"],
        "curve_epochs": [e["epoch"] for e in hist.epochs],
    }
    if isinstance(model, DLGN):
        record["paths"] = top_paths(model, data.x_train, cfg.n_paths)
    return record


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    results: dict = {"lim": cfg.lim, "datasets": {}}
    for name in cfg.datasets:
        data = make_data(cfg, name)
        targets = toy2d_boundaries(name, cfg.cells)
        n = cfg.plot_points
        results["datasets"][name] = {
            "data": data.summary(),
            "x": _round(data.x_train[:n]),
            "y": data.y_train[:n].tolist(),
            "targets": None if targets is None else {k: _round(v) for k, v in targets.to_dict().items()},
            "models": {kind: _train(cfg, name, kind, data, out) for kind in MODELS},
        }
    return results
