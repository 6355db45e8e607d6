"""halfspace-2d: watch a DLGN's half-space features form on 2-D toy data, next to a ReLU net.

In a DLGN every gate is a half-space of the input (layer ``l``: ``⟨V_l x⟩ + b_l > 0`` with
``V_l = W_l ⋯ W_1``), so on 2-D data everything it learns can be drawn: the gating lines of every
layer, the region of a path (the intersection of its half-spaces, one per layer) with the path's
value, and the decision function as the sum of path values over the regions containing a point. A
ReLU net of the same widths is trained beside it; its features are not global half-spaces, so it
is shown by its decision function and its linear regions (one colour per activation pattern).

The DLGN is bias-free in its value network (so paths have values) and has gating biases (so its
lines need not pass through the origin); its value network is fed the all-ones input. The ReLU
net has biases. Both have two output logits trained with cross-entropy (Adam).

Command:  ``neuralpaths run halfspace-2d`` (default preset: the depth-2 tree and the checkerboard
sets; under a minute on 2 CPU cores). The report shows, per data set, the DLGN and ReLU decision
functions at several epochs (and an animated GIF of them), the trained DLGN's gating lines per
layer, its most important path regions with their values, and the linear regions of both nets.
Expected: the DLGN's gating lines gather on the target's discontinuities (dashed) as it trains;
both nets reach ≈99% on the tree set and ≈95% on the checkerboard (default preset, seed 0: DLGN
99.3 / 96.0, ReLU 99.8 / 95.7 test %).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.splits import Splits
from ..data.toy2d import TOY2D, make_toy2d, toy2d_boundaries
from ..errors import ConfigError
from ..geometry import gating_hyperplanes, linear_regions, path_halfspaces, path_value, unit_path_values
from ..io import atomic_write_json, metrics_logger, read_json
from ..models import DLGN, MLP, Arch
from ..plots.planar import grid_points, window
from ..train import TrainConfig, evaluate, fit
from ._halfspace_2d_figures import pack_grid, plot  # noqa: F401 (plot: the experiment protocol)
from .dlgn_odt import num_threads

NAME = "halfspace-2d"
DESCRIPTION = "DLGN vs ReLU on 2-D toy sets: gating lines, path regions, decision functions, linear regions"
RUNTIME = "~1 min on 2 CPU cores"

MODELS = ("dlgn", "relu")
LABELS = {"dlgn": "DLGN", "relu": "ReLU"}


@dataclass(frozen=True)
class Config:
    seed: int = 0
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


def _train(cfg: Config, name: str, kind: str, data: Splits, out: Path) -> dict:
    lim = window(None, cfg.lim)
    frame_pts, final_pts = grid_points(lim, cfg.frame_resolution), grid_points(lim, cfg.resolution)
    model = make_model(cfg, kind)
    train_cfg = TrainConfig(
        epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adam", lr=cfg.lr, seed=cfg.seed
    )
    ckpt = out / "checkpoints" / f"{name}-{kind}.pt"
    cache = out / "snapshots"
    frames, hist, start = [], None, time.perf_counter()
    for stop in sorted({*cfg.frames, cfg.epochs}):
        if stop > 0:
            hist = fit(
                model,
                data,
                train_cfg,
                checkpoint=ckpt,
                stop_after=stop,
                log=metrics_logger(out, dataset=name, model=kind),
                desc=f"{LABELS[kind]} {name}",
            )
        path = cache / f"{name}-{kind}-{stop}.json"
        if path.exists():  # a resumed run: the model is past this epoch already
            frames.append(read_json(path))
            continue
        epoch = hist.final["epoch"] if hist is not None else 0
        snap = {"epoch": epoch, **snapshot(model, frame_pts, cfg.frame_resolution)}
        snap["test_acc"] = 100 * evaluate(model, data.x_test, data.y_test)[1]
        atomic_write_json(path, snap)
        frames.append(snap)
    final = snapshot(model, final_pts, cfg.resolution)
    ids, n_regions = linear_regions(model, final_pts.float())
    ids = ids.reshape(cfg.resolution, cfg.resolution)  # (res*res,) -> (res, res)
    record = {
        "frames": frames,
        "final": final,
        "regions": pack_grid(ids, "int32"),
        "n_regions": n_regions,
        "test_acc": 100 * hist.test_acc_at_best_val,
        "final_test_acc": 100 * hist.final["test_acc"],
        "best_val_epoch": hist.best_val_epoch,
        "curve_epochs": [e["epoch"] for e in hist.epochs],
        "test_curve": [100 * e["test_acc"] for e in hist.epochs],
        "train_curve": [100 * e["train_acc"] for e in hist.epochs],
        "seconds": time.perf_counter() - start,
    }
    if isinstance(model, DLGN):
        record["paths"] = top_paths(model, data.x_train, cfg.n_paths)
    return record


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    results: dict = {"lim": cfg.lim, "datasets": {}}
    with num_threads(cfg.threads):
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


def tables(results: dict) -> dict[str, list[dict]]:
    rows = [
        {
            "dataset": name,
            "model": LABELS[kind],
            "test_acc": m["test_acc"],
            "best_val_epoch": m["best_val_epoch"],
            "final_test_acc": m["final_test_acc"],
            "regions_in_window": m["n_regions"],
            "s": m["seconds"],
        }
        for name, ds in results["datasets"].items()
        for kind, m in ds["models"].items()
    ]
    paths = [
        {  # text, not numbers: the paths of different seeds are not comparable row by row
            "dataset": name,
            "path (unit per layer)": str(p["path"]),
            "value": f"{p['value']:+.4g}",
            "share": f"{p['share']:.3f}",
        }
        for name, ds in results["datasets"].items()
        for p in ds["models"]["dlgn"].get("paths", [])
    ]
    return {
        "Test accuracy (%) at the best-validation epoch (the pictures show the last epoch)": rows,
        "DLGN paths drawn (value: the path's class-1 score; share: training data in its region)": paths,
    }


def summary(results: dict) -> str:
    lines = []
    for name, ds in results["datasets"].items():
        d, r = ds["models"]["dlgn"], ds["models"]["relu"]
        lines.append(
            f"**{name}** ({ds['data']}): DLGN {d['test_acc']:.1f}% vs ReLU {r['test_acc']:.1f}% test "
            "accuracy; "
            f"the window holds {d['n_regions']} cells of the DLGN's gating arrangement and {r['n_regions']} "
            "linear regions of the ReLU net."
        )
    return "\n\n".join(lines)
