"""ntk-vs-npk: tables, summary and figures from the saved results."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from neuralpaths.io import save_figure
from neuralpaths.plots import plain_log_ticks

KERNELS = {
    "npk": "c·H (NPK)",
    "shared": "c·H̄ (shift-summed NPK = E[K_v])",
    "unrolled": "c·H (unrolled NPK)",
}
NETS = {"fc": "FC", "gconv": "GCONV"}
SLOPE_OK = 0.15  # |slope + 1/2| below this counts as "about −1/2"


def _floor(single, draws: int) -> float:
    """Expected error of the mean of ``draws`` unbiased draws: ``E‖K̄ − EK‖² = E‖K − EK‖² / D``, so
    ``rms(single-draw error) / √D``."""
    return float(np.sqrt(np.mean(np.square(single))) / math.sqrt(draws))


def tables(results: dict) -> dict[str, list[dict]]:
    draws = results["draws"]
    rows = []
    for key, net in results["nets"].items():
        for r in net["rows"]:
            for name, errs in r["single"].items():
                single = np.asarray(errs)
                rows.append(
                    {
                        "net": NETS.get(key, key),
                        "width": r["width"],
                        "vs": KERNELS.get(name, name),
                        "single_draw": float(single.mean()),
                        "single_draw_std": float(single.std(ddof=1)),
                        f"mc_mean_{draws}": r["mc_curve"][name][-1],
                        "floor_rms/√D": _floor(single, draws),
                    }
                )
                if name == "unrolled":
                    rows[-1]["cos(H̄,H)"] = r["alignment_shared_unrolled"]
                    rows[-1]["tr H̄/tr H"] = r["scale_shared_unrolled"]
    slope_rows = [
        {
            "net": NETS.get(key, key),
            "vs": KERNELS.get(name, name),
            "slope_single": s["single_mean"],
            "slope_single_std": s["single_std"],
            "slope_of_mean_error": s["of_mean"],
            "slope_mc_mean": s["mc"],
        }
        for key, per in results["slopes"].items()
        for name, s in per.items()
    ]
    return {
        "Relative Frobenius error ‖K_v − c·H‖/‖c·H‖ vs width": rows,
        "Log–log slopes of the error vs width (single draw: mean ± std over draws)": slope_rows,
    }


def summary(results: dict) -> str:
    lines = []
    draws = results["draws"]
    for key, per in results["slopes"].items():
        rows = results["nets"][key]["rows"]
        target = "shared" if "shared" in per else "npk"
        if target not in per:
            continue
        s = per[target]
        single = [float(np.mean(r["single"][target])) for r in rows]
        mc = [r["mc_curve"][target][-1] for r in rows]
        ratio = float(
            np.exp(np.mean([np.log(m / _floor(r["single"][target], draws)) for m, r in zip(mc, rows)]))
        )
        ok = abs(s["single_mean"] + 0.5) < SLOPE_OK
        moves = "falls" if single[-1] < single[0] else "rises" if single[-1] > single[0] else "stays"
        lines.append(
            f"{NETS.get(key, key)} ({results['nets'][key]['label']}), against {KERNELS[target]}: the "
            f"single-draw error {moves} from {single[0]:.3g} (width {rows[0]['width']}) to {single[-1]:.3g} "
            f"(width {rows[-1]['width']}), fitted slope {s['single_mean']:.2f} ± {s['single_std']:.2f} "
            f"(over draws; {s['of_mean']:.2f} for the mean error) — "
            + ("about −1/2 as expected." if ok else "NOT the expected −1/2.")
            + f" The mean of {draws} draws has error {mc[0]:.3g} → {mc[-1]:.3g}, geometric mean {ratio:.2f}× "
            f"the sampling floor rms(single)/√{draws}"
            + (
                " (no bias beyond sampling noise: Identity 3 holds in expectation)."
                if ratio < 1.5
                else " (above the floor: a bias beyond sampling noise)."
            )
        )
        if "unrolled" in per:
            un = [float(np.mean(r["single"]["unrolled"])) for r in rows]
            mc_un = [r["mc_curve"]["unrolled"][-1] for r in rows]
            sc = [r["scale_shared_unrolled"] for r in rows]
            al = [r["alignment_shared_unrolled"] for r in rows]
            flat = abs(per["unrolled"]["of_mean"]) < SLOPE_OK
            lines.append(
                "Against the unrolled NPK c·H instead the conv net's error "
                + ("stays at" if flat else "ranges over")
                + f" {min(un):.3g}–{max(un):.3g} "
                f"(MC mean {min(mc_un):.3g}–{max(mc_un):.3g}, slope {per['unrolled']['of_mean']:.2f}): with "
                "weight sharing and global average pooling, translated paths share weights, so "
                "E[K_v] = c·H̄ (the NPK summed over shifts), not c·H. The two kernels differ in scale "
                f"(tr H̄ / tr H = {min(sc):.3g}–{max(sc):.3g}) and in shape (alignment cos(H̄, H) = "
                f"{min(al):.3f}–{max(al):.3f})."
            )
    return "\n\n".join(lines)


def _style(name: str) -> dict:
    return {"npk": "C0", "shared": "C0", "unrolled": "C3"}.get(name, "C2")


def plot(results: dict, out: Path) -> list[Path]:
    figs, paths, draws = out / "figures", [], results["draws"]
    nets = results["nets"]
    fig = Figure(figsize=(6 * len(nets), 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(nets)))
    for ax, (key, net) in zip(axes, nets.items()):
        rows = net["rows"]
        widths = np.array([r["width"] for r in rows], dtype=float)
        for name in rows[0]["single"]:
            color = _style(name)
            single = np.array([r["single"][name] for r in rows])  # (widths, draws)
            jitter = widths[:, None] * np.exp(np.linspace(-0.06, 0.06, single.shape[1]))[None]
            ax.scatter(jitter.ravel(), single.ravel(), s=4, color=color, alpha=0.15, lw=0)
            slope = results["slopes"].get(key, {}).get(name, {})
            lab = f"single draw vs {KERNELS[name]}"
            if slope:
                lab += f", slope {slope['single_mean']:.2f} ± {slope['single_std']:.2f}"
            ax.plot(widths, single.mean(1), "o-", color=color, label=lab)
            ax.plot(
                widths,
                [r["mc_curve"][name][-1] for r in rows],
                "s--",
                color=color,
                mfc="none",
                label=f"mean of {draws} draws",
            )
            if name != "unrolled":
                floor = [_floor(e, draws) for e in single]
                ax.plot(widths, floor, ":", color="gray", label=f"floor: rms(single)/√{draws}")
        if len(widths) > 1:
            ref = rows[0]["single"][next(iter(rows[0]["single"]))]
            ax.plot(
                widths,
                np.mean(ref) * (widths / widths[0]) ** -0.5,
                color="k",
                lw=0.8,
                alpha=0.5,
                label="∝ width^−1/2",
            )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="width (units / channels)",
            ylabel="relative Frobenius error",
            title=f"{NETS.get(key, key)}: value NTK vs const·NPK\n{net['label']}",
        )
        ax.set_xticks(widths, [f"{w:g}" for w in widths])
        ax.xaxis.set_minor_locator(NullLocator())
        plain_log_ticks(ax, "y")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    paths.append(save_figure(fig, figs / "identity3_vs_width.png"))

    fig = Figure(figsize=(6 * len(nets), 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(nets)))
    for ax, (key, net) in zip(axes, nets.items()):
        rows = net["rows"]
        cmap = colormaps["viridis"]
        for i, r in enumerate(rows):
            color = cmap(i / max(1, len(rows) - 1))
            for name, curve in r["mc_curve"].items():
                ls = "--" if name == "unrolled" else "-"
                ax.plot(r["mc_draws"], curve, ls, color=color, label=f"w={r['width']}" if ls == "-" else None)
        m = np.array(rows[0]["mc_draws"], dtype=float)
        first = rows[0]["mc_curve"][next(iter(rows[0]["mc_curve"]))][0]
        ax.plot(m, first * m**-0.5, color="k", lw=0.8, alpha=0.5, label="∝ draws^−1/2")
        title = f"{NETS.get(key, key)}: error of the mean of m draws"
        if "unrolled" in rows[0]["mc_curve"]:
            title += "\nsolid: vs c·H̄ (shift-summed), dashed: vs c·H (unrolled)"
        ax.set(xscale="log", yscale="log", xlabel="draws m", ylabel="relative Frobenius error", title=title)
        ax.set_xticks(m, [f"{v:g}" for v in m])
        ax.xaxis.set_minor_locator(NullLocator())
        plain_log_ticks(ax, "y")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
    paths.append(save_figure(fig, figs / "mc_vs_draws.png"))
    return paths
