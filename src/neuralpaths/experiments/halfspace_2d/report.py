"""halfspace-2d: tables, summary and figures, from the saved results alone.

Grids are stored in the results packed (:func:`pack_grid`): base64 of the little-endian array with
its shape and dtype, which keeps ``results.json`` around a megabyte instead of tens.

Shape:
    grids ``(resolution, resolution)``, rows = ``x_2``.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from neuralpaths.geometry import Hyperplanes, nearest_gating_distance
from neuralpaths.io import save_figure
from neuralpaths.plots import (
    draw_hyperplanes,
    extent,
    integer_ticks,
    plot_decision_function,
    plot_gating_hyperplanes,
    plot_linear_regions,
    plot_path_regions,
    render_frames,
    save_gif,
    scatter_classes,
    seed_curve,
    setup_axes,
    window,
)

LABELS = {"dlgn": "DLGN", "relu": "ReLU"}
LAYER_COLORS = ("tab:purple", "tab:green", "tab:brown", "tab:olive", "tab:cyan", "tab:pink")
ONTO = 0.1  # median target-to-gating distance (hyperplane_distance) that counts as "on" the targets
GOOD_ACC = 90.0  # test accuracy (%) the DLGN needs before its gating lines are said to have found them


def pack_grid(values: np.ndarray | torch.Tensor, dtype: str = "float16") -> dict:
    """A JSON-able packed array: ``{"shape", "dtype", "base64"}``; :func:`unpack_grid` inverts it."""
    a = np.ascontiguousarray(np.asarray(values), dtype=np.dtype(dtype).newbyteorder("<"))
    return {"shape": list(a.shape), "dtype": dtype, "base64": base64.b64encode(a.tobytes()).decode("ascii")}


def unpack_grid(d: dict) -> np.ndarray:
    raw = base64.b64decode(d["base64"])
    return np.frombuffer(raw, dtype=np.dtype(d["dtype"]).newbyteorder("<")).reshape(d["shape"]).copy()


def _planes(d: dict | None) -> Hyperplanes | None:
    return None if d is None else Hyperplanes.from_dict(d)


def _panel(ax, lim, snap: dict, X, y, targets: Hyperplanes | None, title: str) -> list:
    """Score heatmap with its zero level, data, a DLGN's gating lines by layer, target lines."""
    s = unpack_grid(snap["score"]).astype(np.float64)
    top = float(np.abs(s).max()) or 1.0
    ax.imshow(s, extent=extent(lim), origin="lower", cmap="RdBu_r", vmin=-top, vmax=top, alpha=0.5)
    if s.min() < 0 < s.max():
        ax.contour(s, levels=[0.0], extent=extent(lim), colors="black", linewidths=1.4, zorder=3)
    handles = scatter_classes(ax, X, y, max_points=400, alpha=0.45)
    handles.append(Line2D([], [], color="black", label="decision boundary"))
    for layer, h in enumerate(snap.get("gating", []), start=1):
        color = LAYER_COLORS[(layer - 1) % len(LAYER_COLORS)]
        draw_hyperplanes(ax, Hyperplanes.from_dict(h), color=color, lw=0.9, alpha=0.85, zorder=4)
        handles.append(Line2D([], [], color=color, label=f"gating lines, layer {layer}"))
    if targets is not None:
        draw_hyperplanes(ax, targets, color="black", lw=1.3, ls="--", zorder=5)
        handles.append(Line2D([], [], color="black", ls="--", label="target boundary lines"))
    setup_axes(ax, lim, title)
    return handles


def _frame_figure(name: str, ds: dict, lim, i: int, X, y, targets) -> Figure:
    """Frame ``i``: the DLGN and the ReLU net side by side at the same epoch."""
    fig = Figure(figsize=(10.5, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, kind in zip(axes, ("dlgn", "relu")):
        snap = ds["models"][kind]["frames"][i]
        title = f"{LABELS[kind]}, epoch {snap['epoch']} (test {snap['test_acc']:.1f}%)"
        handles = _panel(ax, lim, snap, X, y, targets, title)
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    fig.suptitle(f"{name}: decision function (red: class 1) while training")
    return fig


def _montage(name: str, ds: dict, lim, X, y, targets) -> Figure:
    """All frames: DLGN on top (with its gating lines), ReLU below."""
    n = len(ds["models"]["dlgn"]["frames"])
    fig = Figure(figsize=(2.9 * n + 1.8, 6.4), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for row, kind in enumerate(("dlgn", "relu")):
        for i in range(n):
            snap = ds["models"][kind]["frames"][i]
            title = f"{LABELS[kind]}, epoch {snap['epoch']}\ntest {snap['test_acc']:.1f}%"
            handles = _panel(axes[row, i], lim, snap, X, y, targets, title)
        axes[row, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7)
    fig.suptitle(montage_title(name, ds, targets))
    return fig


def median_distance(snap: dict, targets: Hyperplanes) -> float | None:
    """Median over the target lines of the distance to the nearest gating line of a DLGN snapshot
    (None without gating lines)."""
    gating = [Hyperplanes.from_dict(h) for h in snap.get("gating", [])]
    if not gating:
        return None
    return float(nearest_gating_distance(targets, gating).median())


def montage_title(name: str, ds: dict, targets: Hyperplanes | None) -> str:
    """The training montage's title, from what the run measured: the median distance of the target
    lines to the DLGN's nearest gating line at the first and last frame, and the DLGN's test accuracy
    there. "moved onto the target's discontinuities" only when the last frame is within ``ONTO`` and
    the DLGN reaches ``GOOD_ACC``; otherwise the numbers with a plain verb."""
    frames = ds["models"]["dlgn"]["frames"]
    head = f"{name}: the DLGN's gating lines (coloured by layer)"
    d = [median_distance(f, targets) for f in (frames[0], frames[-1])] if targets is not None else [None]
    if None in d:
        return f"{head} while training"
    (d0, d1), acc = d, frames[-1]["test_acc"]
    if d1 <= ONTO and d1 < d0 and acc >= GOOD_ACC:
        verb = "moved onto the target's discontinuities"
    elif d1 < 0.9 * d0:
        verb = "moved toward the target's lines"
    elif d1 > 1.1 * d0:
        verb = "moved away from the target's lines"
    else:
        verb = "stayed about as far from the target's lines"
    return (
        f"{head} {verb}\nmedian distance of a target line to the nearest gating line {d0:.3f} "
        f"(epoch {frames[0]['epoch']}) → {d1:.3f} (epoch {frames[-1]['epoch']}, DLGN test {acc:.1f}%)"
    )


def _curves(results: dict) -> Figure:
    names = list(results["datasets"])
    fig = Figure(figsize=(5.0 * len(names), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        for kind, m in results["datasets"][name]["models"].items():
            (line,) = ax.plot(m["curve_epochs"], m["test_curve"], label=f"{LABELS[kind]} test")
            ax.plot(
                m["curve_epochs"],
                m["train_curve"],
                ls="--",
                color=line.get_color(),
                label=f"{LABELS[kind]} train",
            )
        ax.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{name}: accuracy during training")
        integer_ticks(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    return fig


def plot(results: dict, out: Path) -> list[Path]:
    figs, paths = out / "figures", []
    lim = window(None, results["lim"])
    for name, ds in results["datasets"].items():
        X, y = torch.tensor(ds["x"]), torch.tensor(ds["y"])
        targets = _planes(ds["targets"])
        dlgn = ds["models"]["dlgn"]
        paths.append(save_figure(_montage(name, ds, lim, X, y, targets), figs / f"{name}_training.png"))
        frames = [_frame_figure(name, ds, lim, i, X, y, targets) for i in range(len(dlgn["frames"]))]
        render_frames(frames, figs / "frames", stem=name, dpi=90)
        paths.append(save_gif(figs / f"{name}_training.gif", frames, duration_ms=900, dpi=80))
        gating = [Hyperplanes.from_dict(h) for h in dlgn["final"]["gating"]]
        fig = plot_gating_hyperplanes(
            gating,
            X,
            y,
            targets=targets,
            lim=lim,
            title=f"{name}: the DLGN's gating lines per layer, last epoch",
        )
        paths.append(save_figure(fig, figs / f"{name}_dlgn_gates.png"))
        if dlgn.get("paths"):
            regions = [Hyperplanes.from_dict(p["halfspaces"]) for p in dlgn["paths"]]
            labels = [f"path {tuple(p['path'])}" for p in dlgn["paths"]]
            fig = plot_path_regions(
                regions,
                [p["value"] for p in dlgn["paths"]],
                labels=labels,
                X=X,
                y=y,
                lim=lim,
                title=f"{name}: the DLGN's most important paths (value = its class-1 score)",
            )
            paths.append(save_figure(fig, figs / f"{name}_dlgn_paths.png"))
        for kind, m in ds["models"].items():
            score = unpack_grid(m["final"]["score"]).astype(np.float64)
            fig = plot_decision_function(
                score,
                X,
                y,
                lim=lim,
                gating=Hyperplanes.cat(gating) if kind == "dlgn" else None,
                targets=targets,
                resolution=len(score),
                title=f"{name}: {LABELS[kind]} at the last epoch (test {m['final_test_acc']:.1f}%)",
            )
            paths.append(save_figure(fig, figs / f"{name}_{kind}_decision.png"))
            what = "cells of the gating arrangement" if kind == "dlgn" else "linear regions"
            regions = unpack_grid(m["regions"])
            fig = plot_linear_regions(
                regions,
                X,
                y,
                lim=lim,
                resolution=len(regions),
                title=f"{name}: {LABELS[kind]} at the last epoch, {what}",
            )
            paths.append(save_figure(fig, figs / f"{name}_{kind}_regions.png"))
    paths.append(save_figure(_curves(results), figs / "accuracy_curves.png"))
    return paths


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


def plot_seeds(per_seed: dict[int, dict], out: Path) -> list[Path]:
    """Test accuracy during training per data set and model, mean ± std over seeds."""
    runs = list(per_seed.values())
    names = list(runs[0]["datasets"])
    fig = Figure(figsize=(5.0 * len(names), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        for kind in runs[0]["datasets"][name]["models"]:
            models = [r["datasets"][name]["models"][kind] for r in runs]
            curves = [m["test_curve"] for m in models]
            seed_curve(ax, models[0]["curve_epochs"], curves, marker="", label=f"{LABELS[kind]} test")
        ax.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"{name}: mean ± std over {len(runs)} seeds")
        integer_ticks(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    return [save_figure(fig, out / "figures" / "accuracy_curves_seeds.png")]
