"""dgn-depth: the figures — steps to the threshold per depth, the NPK's spectrum per depth, and the NTK's
deviation from Identity 3 beside the NPK's distance from its infinite-width limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from neuralpaths.io import save_figure
from neuralpaths.plots import style

from .analysis import depth_curve, group, median_of, verdicts

TITLES = {"dgn": "DGN, frozen random gates", "relu": "ReLU net, adaptive gates"}


def _axes(ax: Axes, xlabel: str, ylabel: str, title: str, log: bool = False) -> None:
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if log:
        ax.set_yscale("log")
    style.integer_ticks(ax, "x")
    style.plain_log_ticks(ax, "y")
    ax.grid(alpha=0.3, which="both")


def _colors(widths: list[int]) -> dict[int, str]:
    return {w: f"C{i}" for i, w in enumerate(sorted(widths))}


def steps_figure(results: dict, path: Path, out: Path) -> Path:
    """Median steps to the threshold vs depth, one line per width (min–max over seeds as bars),
    seeds that never reached it as triangles at the cap; the infinite-width kernel's steps dashed."""
    s = results["settings"]
    vs = verdicts(results)
    kinds = [k for k in ("dgn", "relu") if any(v["kind"] == k for v in vs)]
    colors = _colors(s["widths"] + s["kernel_widths"])
    fig = Figure(figsize=(6.4 * len(kinds), 4.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(kinds), sharey=True))
    for ax, kind in zip(axes, kinds):
        for w in s["widths"]:
            curve = depth_curve(results, kind, w)
            d = np.array([c["depth"] for c in curve], dtype=float)
            med = np.array([np.nan if c["median"] is None else c["median"] for c in curve])
            lo = np.array([np.nan if c["min"] is None else c["min"] for c in curve])
            hi = np.array([s["max_steps"] if c["max"] is None else c["max"] for c in curve])
            yerr = np.nan_to_num(np.vstack([med - lo, hi - med]).clip(min=0))
            ax.errorbar(d, med, yerr=yerr, color=colors[w], marker="o", ms=4, capsize=3, label=f"width {w}")
            missed = [(c["depth"], c["seeds"] - c["reached"]) for c in curve if c["reached"] < c["seeds"]]
            if missed:
                ax.plot(
                    [m[0] for m in missed], [s["max_steps"]] * len(missed), "^", color=colors[w], mfc="none"
                )
        if kind == "dgn":
            lim = [(r["depth"], r["steps_linearised"]) for r in results["limit"] if r["steps_linearised"]]
            ax.plot(*zip(*lim), "k--", marker="s", ms=3, label="infinite width (kernel GD with H∞)")
        ax.axhline(s["max_steps"], color="0.5", lw=0.8, ls=":")
        shapes = "; ".join(f"w{v['width']}: {v['shape']}" for v in vs if v["kind"] == kind)
        _axes(
            ax,
            "depth (gated hidden layers)",
            f"GD steps to loss ≤ {s['threshold']:g} × initial",
            "",
            log=True,
        )
        ax.set_title(f"{TITLES[kind]}\n{shapes}", fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"{results['data'].split(':')[0]}, n = {s['n']}, ±1 parity targets; "
        f"lr = {s['lr_fraction']:g}·2/λ_max(initial NTK); median over {s['seeds']} seeds, bars min–max, "
        f"▲ = some seed not at threshold in {s['max_steps']} steps ({style.preset_label(out)})",
        fontsize=9,
    )
    return save_figure(fig, path)


def _dgn_median(results: dict, width: int, depth: int, key: str) -> float:
    pool = results["runs"] + results["kernels_only"]
    value = median_of(
        [r for r in pool if r["kind"] == "dgn" and r["width"] == width and r["depth"] == depth], key
    )
    return np.nan if value is None else value


def kernel_figure(results: dict, path: Path) -> Path:
    """Condition number, effective rank, mean off-diagonal cosine and least eigenvalue of H / tr H vs
    depth, per width (DGN, median over seeds) and in the infinite-width limit."""
    s = results["settings"]
    widths = s["widths"] + s["kernel_widths"]
    colors = _colors(widths)
    depths = s["depths"]
    panels = [
        ("npk_condition", "λ_max / λ_min", "Condition number", True),
        ("npk_effective_rank", "effective rank (entropy)", "Effective rank", False),
        ("npk_offdiag_ratio", "mean of H_ij / √(H_ii H_jj), i ≠ j", "Off-diagonal / diagonal", False),
        ("npk_smallest", "λ_min of H / tr H", "Least eigenvalue", True),
    ]
    fig = Figure(figsize=(17, 4.4), layout="constrained")
    for ax, (key, label, title, log) in zip(fig.subplots(1, 4), panels):
        pick = (lambda v: v[0]) if key == "npk_smallest" else (lambda v: v)
        for w in widths:
            vals = []
            for d in depths:
                recs = [
                    r
                    for r in results["runs"] + results["kernels_only"]
                    if r["kind"] == "dgn" and r["width"] == w and r["depth"] == d
                ]
                got = [pick(r[key]) for r in recs if r[key] is not None]
                vals.append(float(np.median(got)) if got else np.nan)
            ax.plot(depths, vals, marker="o", ms=3, color=colors[w], label=f"width {w}")
        lim = [np.nan if r[key] is None else pick(r[key]) for r in results["limit"]]
        ax.plot([r["depth"] for r in results["limit"]], lim, "k--", marker="s", ms=3, label="infinite width")
        _axes(ax, "depth (gated hidden layers)", label, title, log=log)
        ax.legend(fontsize=7)
    fig.suptitle(
        f"NPK H / tr H at initialisation, {results['data'].split(':')[0]} ({s['gating']} gating, frozen)"
    )
    return save_figure(fig, path)


def limit_figure(results: dict, path: Path) -> Path:
    """(a) ``‖K − c·H‖_F/‖c·H‖_F`` vs depth per width; (b) steps of the network over steps of the
    infinite-width kernel; (c) the NPK's relative distance from its limit at the two largest widths,
    with the Monte-Carlo ``√(depth/width)`` and the tolerance."""
    s = results["settings"]
    widths = s["widths"] + s["kernel_widths"]
    colors = _colors(widths)
    depths = s["depths"]
    fig = Figure(figsize=(17, 4.6), layout="constrained")
    a, b, c = fig.subplots(1, 3)
    for w in widths:
        a.plot(
            depths,
            [_dgn_median(results, w, d, "ntk_deviation") for d in depths],
            marker="o",
            ms=3,
            color=colors[w],
            label=f"width {w}",
        )
    _axes(
        a,
        "depth (gated hidden layers)",
        "‖K_value − c·H‖_F / ‖c·H‖_F",
        "Value NTK vs its expectation c·H (Identity 3)",
        log=True,
    )
    a.legend(fontsize=8)
    limit = {r["depth"]: r["steps_linearised"] for r in results["limit"]}
    for w in s["widths"]:
        ratio = []
        for d in depths:
            med = median_of(group(results["runs"], "dgn", w, d), "steps_to_threshold")
            ratio.append(np.nan if med is None or not limit.get(d) else med / limit[d])
        b.plot(depths, ratio, marker="o", ms=3, color=colors[w], label=f"width {w}")
    b.axhline(1, color="k", lw=0.8, ls="--")
    _axes(
        b,
        "depth (gated hidden layers)",
        "steps (network) / steps (infinite-width kernel)",
        "DGN training vs its infinite-width limit",
        log=True,
    )
    b.legend(fontsize=8)
    check = results["limit_check"]
    for w in check["widths"]:
        rows = [r for r in check["rows"] if r["width"] == w]
        x = [r["depth"] for r in rows]
        c.plot(
            x,
            [r["rel_frobenius"] for r in rows],
            marker="o",
            ms=4,
            color=colors[w],
            label=f"width {w}: measured",
        )
        c.plot(x, [r["predicted"] for r in rows], ls="--", color=colors[w], label=f"√(depth/{w})")
        if w == check["widths"][-1]:
            c.plot(
                x,
                [r["tolerance"] for r in rows],
                ls=":",
                color="k",
                label=f"tolerance {check['tolerance_factor']:g}·√(depth/{w})",
            )
    verdict = "within" if check["passed"] else "NOT within"
    _axes(
        c,
        "depth (gated hidden layers)",
        "‖Ĥ − H∞‖_F / ‖H∞‖_F (each over its trace)",
        f"NPK vs npk_limit: {verdict} tolerance at width {check['widths'][-1]}",
        log=True,
    )
    c.legend(fontsize=7)
    return save_figure(fig, path)
