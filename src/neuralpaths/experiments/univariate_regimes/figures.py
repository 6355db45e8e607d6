"""Figures of the univariate-regimes experiment, drawn from its results alone.

Fits of the two ends of the scale-ratio sweep against the two splines, all fits by ratio, knot
trajectories, final knots weighted by their slope change, distances and knot movement against the
ratio, the crossover ratio against the gain (with the NTK and mean-field points), and the distance
curves on other datasets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from neuralpaths.io import save_figure
from neuralpaths.plots import plain_log_ticks
from neuralpaths.report import bracket
from neuralpaths.univariate import natural_cubic_spline

from .run import REFERENCES


def _ends(results: dict) -> list[tuple[str, dict]]:
    """The two ends of the sweep, named by their ratio and by the spline the trained net ended nearer
    (``"smallest ratio 0.001, nearer the cubic spline"``): what was measured, not what was expected."""
    out = []
    for end, r in (("smallest", results["runs"][0]), ("largest", results["runs"][-1])):
        near = "cubic spline" if r["dist_cubic"] < r["dist_linear"] else "linear interpolant"
        out.append((f"{end} ratio {r['ratio']:g}, nearer the {near}", r))
    return out


def _brackets(runs: list[dict]) -> list[tuple[float, float]]:
    """Measured neighbouring ratios between which the two distance curves swap order."""
    return bracket([r["ratio"] for r in runs], [r["dist_cubic"] - r["dist_linear"] for r in runs])


def _active(run: dict, x: np.ndarray) -> np.ndarray:
    """Knots inside the data carrying at least 1% of the largest |delta-slope| there."""
    k, mu = np.asarray(run["final_knots"], dtype=float), np.abs(run["final_delta_slopes"])
    inside = (k >= x.min()) & (k <= x.max())
    return inside & (mu >= 0.01 * mu[inside].max())


def _fits_figure(results: dict) -> Figure:
    x, y = (np.asarray(results["samples"][k]) for k in ("x", "y"))
    grid = results["plot_grid"]
    fig = Figure(figsize=(12, 4.2), layout="constrained")
    for ax, (label, r) in zip(fig.subplots(1, 2, sharey=True), _ends(results)):
        ax.plot(grid, results["cubic"], color="tab:blue", ls="--", lw=1.5, label="natural cubic spline")
        ax.plot(grid, results["linear"], color="tab:green", ls=":", lw=2, label="linear interpolant")
        if r is results["runs"][0]:
            limit = "frozen-knot min-norm (kernel limit)"
            ax.plot(grid, r["kernel_fit"], color="tab:orange", lw=3, alpha=0.5, label=limit)
        ax.plot(grid, r["fit"], color="k", lw=1, label="trained net")
        ax.plot(x, y, "o", color="tab:red", ms=6, zorder=5, label="samples")
        ax.set(
            xlabel="x",
            title=f"{label}\ndistance to cubic {r['dist_cubic']:.3f}, to linear {r['dist_linear']:.3f}",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.axes[0].set_ylabel("f(x)")
    fig.suptitle(f"Trained width-{results['width']} nets vs the two splines ({results['data']} data)")
    return fig


def _trajectory_figure(results: dict, max_lines: int = 150) -> Figure:
    x = np.asarray(results["samples"]["x"])
    fig = Figure(figsize=(12, 5), layout="constrained")
    for ax, (label, r) in zip(fig.subplots(1, 2, sharey=True), _ends(results)):
        steps = np.asarray(r["checkpoint_steps"]) + 1  # step 0 at 1 on the log axis
        traj, active = np.asarray(r["knot_trajectories"], dtype=float), _active(r, x)
        for units, color, lw in ((~active, "0.75", 0.4), (active, "tab:blue", 0.6)):
            idx = np.flatnonzero(units)
            idx = idx[:: max(1, -(-len(idx) // max_lines))]  # at most max_lines lines, evenly picked
            ax.plot(steps, traj[:, idx], color=color, lw=lw)
        for s in x:
            ax.axhline(s, color="tab:red", ls="--", lw=0.8)
        ax.set(xscale="log", xlabel="gradient-descent step + 1", ylim=(x.min() - 0.15, x.max() + 0.15))
        plain_log_ticks(ax, "x")
        ax.set_title(f"{label}\n{active.sum()} of {len(active)} knots active", fontsize=10)
    fig.axes[0].set_ylabel("knot position -b/a")
    handles = [
        Line2D([], [], color="tab:blue", label="active knot (final |δ-slope| ≥ 1% of max)"),
        Line2D([], [], color="0.75", label="inactive knot"),
        Line2D([], [], color="tab:red", ls="--", label="sample position"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9)
    fig.suptitle(f"Knot positions during training (at most {max_lines} of each kind drawn)")
    return fig


def _histogram_figure(results: dict) -> Figure:
    x = np.asarray(results["samples"]["x"])
    fig = Figure(figsize=(12, 4), layout="constrained")
    bins = np.linspace(x.min() - 0.1, x.max() + 0.1, 111)
    for ax, (label, r) in zip(fig.subplots(1, 2), _ends(results)):
        k, mu = np.asarray(r["final_knots"], dtype=float), np.abs(r["final_delta_slopes"])
        inside = (k >= bins[0]) & (k <= bins[-1])
        ax.hist(
            k[inside], bins=bins, weights=mu[inside] / mu[inside].sum(), color="tab:blue", label="final knots"
        )
        if r is results["runs"][0]:  # frozen uniform knots: |δ-slope| density ∝ |f''| of the cubic spline
            mid = (bins[1:] + bins[:-1]) / 2
            inside_data = (mid >= x.min()) & (mid <= x.max())
            curv = np.abs(natural_cubic_spline(x, results["samples"]["y"])(mid, 2)) * inside_data
            ax.plot(mid, curv / curv.sum(), color="tab:orange", lw=1.5, label="|S''| of the cubic spline")
        ax.vlines(
            x, 0, 1, transform=ax.get_xaxis_transform(), colors="tab:red", ls="--", lw=0.8, label="samples"
        )
        ax.set(
            xlabel="knot position",
            ylabel="share of total |δ-slope|",
            title=f"{label}\n{100 * r['knots_near_samples_weighted']:.0f}% "
            f"of |δ-slope| within {results['eps']:g} of a sample",
        )
        ax.legend(fontsize=8)
    fig.suptitle("Final knots weighted by their slope change |δ-slope|, against the sample positions")
    return fig


def _distance_figure(results: dict) -> Figure:
    runs, refs = results["runs"], results["references"]
    fig = Figure(figsize=(11 if refs else 7, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=(3, 1), sharey=True) if refs else [fig.add_subplot()]
    ax = axes[0]
    ratios = [r["ratio"] for r in runs]
    ax.plot(ratios, [r["dist_cubic"] for r in runs], "o-", color="tab:blue", label="to natural cubic spline")
    ax.plot(ratios, [r["dist_linear"] for r in runs], "s-", color="tab:green", label="to linear interpolant")
    ax.plot(
        ratios, [r["dist_kernel"] for r in runs], "^:", color="tab:orange", label="to frozen-knot min-norm"
    )
    for i, (a, b) in enumerate(_brackets(runs)):
        label = "curves cross between these measured ratios" if i == 0 else None
        ax.axvspan(a, b, color="0.85", zorder=0, label=label)
    ax.set(xscale="log", xlabel="scale ratio s_out / s_in", ylabel="normalised L2 distance")
    plain_log_ticks(ax, "x")
    ax.set_title(f"Distance of the trained net to the two splines ({results['data']} data)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if refs:
        pos = np.arange(len(refs))
        axes[1].bar(pos - 0.2, [r["dist_cubic"] for r in refs], 0.4, color="tab:blue", label="to cubic")
        axes[1].bar(pos + 0.2, [r["dist_linear"] for r in refs], 0.4, color="tab:green", label="to linear")
        axes[1].set_xticks(
            pos, [f"{REFERENCES[r['kind']]}\n(gain {r['gain']:.3g})" for r in refs], fontsize=8
        )
        for bars in axes[1].containers:
            axes[1].bar_label(bars, fmt="%.3f", fontsize=7)
        axes[1].set_title("reference parameterisations\n(= ratio 1 at the gain shown)", fontsize=10)
        axes[1].legend(fontsize=8)
    return fig


def _movement_figure(results: dict) -> Figure:
    runs = results["runs"]
    ratios = [r["ratio"] for r in runs]
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    ax.plot(ratios, [r["knot_movement"] for r in runs], "o-", label="mean |Δ knot|")
    ax.plot(ratios, [r["knot_movement_weighted"] for r in runs], "s--", label="weighted by final |δ-slope|")
    ax.set(xscale="log", yscale="log", xlabel="scale ratio s_out / s_in", ylabel="knot movement")
    plain_log_ticks(ax)
    ax.set_title("Total knot movement (units with initial knot in the data)")
    bx.plot(ratios, [r["knots_near_samples"] for r in runs], "o-", label="active knots near a sample")
    bx.plot(ratios, [r["knots_near_samples_weighted"] for r in runs], "s--", label="share of |δ-slope| near")
    bx.plot(ratios, [r["knots_near_chance"] for r in runs], ":", color="0.4", label="initial knots (chance)")
    bx.set(xscale="log", xlabel="scale ratio s_out / s_in", ylabel="fraction", ylim=(-0.02, 1.05))
    plain_log_ticks(bx, "x")
    bx.set_title(f"Knots within {results['eps']:g} of a sample after training")
    for a in (ax, bx):
        a.grid(alpha=0.3, which="both")
        a.legend(fontsize=8)
    return fig


def _datasets_figure(results: dict) -> Figure:
    main = {k: results[k] for k in ("data", "runs", "same_sign_kinks")}
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for i, d in enumerate([main, *results["datasets"]]):
        ratios = [r["ratio"] for r in d["runs"]]
        label = f"{d['data']} ({d['same_sign_kinks']} same-sign kink pairs)"
        ax.plot(ratios, [r["dist_cubic"] for r in d["runs"]], "o-", color=f"C{i % 10}", label=label)
        ax.plot(ratios, [r["dist_linear"] for r in d["runs"]], "s--", color=f"C{i % 10}")
    ax.set(xscale="log", xlabel="scale ratio s_out / s_in", ylabel="normalised L2 distance")
    plain_log_ticks(ax, "x")
    ax.set_title("Distances to the two splines per dataset (solid: cubic, dashed: linear)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), title="data")
    return fig


def _fits_by_ratio_figure(results: dict) -> Figure:
    x, y = (np.asarray(results["samples"][k]) for k in ("x", "y"))
    runs = results["runs"]
    norm = LogNorm(min(r["ratio"] for r in runs), max(r["ratio"] for r in runs))
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    grid = results["plot_grid"]
    for r in runs:
        ax.plot(grid, r["fit"], color=colormaps["viridis"](norm(r["ratio"])), lw=1.2)
    ax.plot(grid, results["cubic"], "k--", lw=1, label="natural cubic spline")
    ax.plot(grid, results["linear"], "k:", lw=1.5, label="linear interpolant")
    ax.plot(x, y, "o", color="tab:red", zorder=5, label="samples")
    fig.colorbar(ScalarMappable(norm, "viridis"), ax=ax, label="scale ratio s_out / s_in")
    ax.set(xlabel="x", ylabel="f(x)", title="Trained nets for every scale ratio (colour)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _gain_figure(results: dict) -> Figure:
    sweep = results["gain_sweep"]
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    for i, s in enumerate(sweep):
        ratios = [r["ratio"] for r in s["runs"]]
        cubic, linear = ([r[k] for r in s["runs"]] for k in ("dist_cubic", "dist_linear"))
        ax.plot(ratios, cubic, "o-", color=f"C{i}", label=f"gain {s['gain']:g}")
        ax.plot(ratios, linear, "s--", color=f"C{i}")
    ax.set(xscale="log", xlabel="scale ratio s_out / s_in", ylabel="normalised L2 distance")
    plain_log_ticks(ax, "x")
    ax.set_title("Distances to the two splines per gain (solid: cubic, dashed: linear)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    first = True
    for s in sweep:
        for lo, hi in _brackets(s["runs"]):
            label = "curves cross between these measured ratios" if first else None
            bx.plot([s["gain"]] * 2, [lo, hi], "k-", lw=3, solid_capstyle="butt", label=label)
            first = False
    for r, marker in zip(results["references"], "*Ds^"):
        near = "linear" if r["dist_linear"] < r["dist_cubic"] else "cubic"
        bx.plot([r["gain"]], [1.0], marker, ms=12, label=f"{REFERENCES[r['kind']]} run: nearer {near}")
    ratios = [r["ratio"] for r in sweep[0]["runs"]]
    bx.set(xscale="log", yscale="log", xlabel="gain = s_in s_out width", ylabel="scale ratio s_out / s_in")
    bx.set_ylim(min(ratios), max(ratios))
    plain_log_ticks(bx)
    bx.set_title(f"Regime boundary vs gain (width {results['width']})")
    bx.grid(alpha=0.3, which="both")
    bx.legend(fontsize=8, loc="lower right")
    return fig


def draw_all(results: dict, figs: Path) -> list[Path]:
    """Draw every figure into ``figs``."""
    drawers = {
        "fits": _fits_figure,
        "fits_by_ratio": _fits_by_ratio_figure,
        "knot_trajectories": _trajectory_figure,
        "knot_histograms": _histogram_figure,
        "distances": _distance_figure,
        "knot_movement": _movement_figure,
    }
    if len(results["gain_sweep"]) > 1:
        drawers["gains"] = _gain_figure
    if results["datasets"]:
        drawers["datasets"] = _datasets_figure
    return [save_figure(draw(results), figs / f"{name}.png") for name, draw in drawers.items()]
