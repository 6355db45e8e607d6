"""kernel-regimes: tables, summary and figures from the saved results."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuralpaths.io import save_figure
from neuralpaths.plots import preset_label, seed_curve
from neuralpaths.report import gap_phrase

# line style per kernel: NPKs solid, NTKs dashed; trained kernels red / orange, random ones blue / green
STYLE = {
    "npk-random": ("C0", "-", "o"),
    "npk-trained": ("C3", "-", "o"),
    "npk-limit": ("C2", "-", "^"),
    "ntk-inf": ("C4", "--", "s"),
    "ntk-inf-ntkparam": ("C7", "--", "v"),
    "ntk-init": ("C9", "--", "D"),
    "ntk-trained": ("C1", "--", "D"),
}


def _acc(results: dict, name: str) -> list[float]:
    per = results["kernels"][name]["n"]
    return [per[str(n)]["test_acc"] for n in results["train_sizes"]]


def tables(results: dict) -> dict[str, list[dict]]:
    sizes = results["train_sizes"]
    acc = [
        {"kernel": k["label"], **{f"n={n}": k["n"][str(n)]["test_acc"] for n in sizes}}
        for k in results["kernels"].values()
    ]
    align = [
        {"kernel": k["label"], **{f"n={n}": k["n"][str(n)]["alignment"] for n in sizes}}
        for k in results["kernels"].values()
    ]
    net = results["net"]
    ref = [
        {
            "model": f"ReLU net {784}-{'-'.join(map(str, results['widths']))}-10, trained",
            "n_train": net["n_train"],
            "test_acc": net["test_acc"],
            "epoch": net["epoch"],
            "val_acc": net["val_acc"],
            "seconds": net["seconds"],
        }
    ]
    cost = [
        {
            "kernel": k["label"],
            "gram_seconds": k["n"][str(sizes[-1])]["seconds_gram"],
            "solve_seconds_largest_n": k["n"][str(sizes[-1])]["seconds_solve"],
            "lambda/(tr K/n)": results["ridge"],
            "jitter_added": max(r["jitter"] for r in k["n"].values()),
        }
        for k in results["kernels"].values()
    ]
    m = results["n_test"]
    out = {
        f"Test accuracy (%) of kernel regression on {m} MNIST test points, by training-set size n": acc,
        f"The trained net itself (on the same {m} test points)": ref,
        "Centred kernel–target alignment of K(X, X) with the one-hot labels": align,
    }
    if "alignment" in results:
        a = results["alignment"]
        labels = {k: results["kernels"][k]["label"] for k in a["names"]}
        out[f"Centred alignment between the kernels on the first {a['points']} training points"] = [
            {"kernel": labels[k], **{b: v for b, v in zip(a["names"], row)}}
            for k, row in zip(a["names"], a["matrix"])
        ]
    out["Cost (seconds; ridge relative to tr K / n)"] = cost
    return out


def summary(results: dict) -> str:
    sizes, ks = results["train_sizes"], results["kernels"]
    n = sizes[-1]
    at = {k: v["n"][str(n)]["test_acc"] for k, v in ks.items()}
    lines = [
        f"At n = {n}: "
        + ", ".join(f"{v['label']} {at[k]:.2f}%" for k, v in ks.items())
        + f"; the trained net itself (trained on {results['net']['n_train']} points) "
        + f"{results['net']['test_acc']:.2f}%."
    ]
    if "npk-trained" in at and "npk-random" in at:
        gaps = [
            ks["npk-trained"]["n"][str(s)]["test_acc"] - ks["npk-random"]["n"][str(s)]["test_acc"]
            for s in sizes
        ]
        wins = sum(g > 0 for g in gaps)
        verdict = (
            "beat random gates at every n"
            if wins == len(gaps)
            else "trail random gates at every n"
            if wins == 0
            else f"beat random gates at {wins} of {len(gaps)} training-set sizes"
        )
        lines.append(
            f"Trained gates {verdict}: the NPK of trained gates is "
            + ", ".join(f"{gap_phrase(g)} (n = {s})" for g, s in zip(gaps, sizes))
            + " the NPK of random gates."
        )
    base = [k for k in ("ntk-init", "ntk-inf", "ntk-inf-ntkparam", "npk-limit") if k in at]
    if "npk-trained" in at and base:
        best = max(base, key=lambda k: at[k])
        gap = at["npk-trained"] - at[best]
        lines.append(
            f"At n = {n} the NPK of trained gates is {gap_phrase(gap)} the best kernel of a random or "
            f"infinite-width net ({ks[best]['label']}, {at[best]:.2f}%)."
        )
    if "npk-trained" in at and "ntk-trained" in at:
        d = at["ntk-trained"] - at["npk-trained"]
        extra = ""
        if "alignment" in results:
            a = results["alignment"]
            i, j = a["names"].index("npk-trained"), a["names"].index("ntk-trained")
            extra = f"; their centred alignment on {a['points']} points is {a['matrix'][i][j]:.3f}"
        lines.append(f"The empirical NTK of the trained net is {gap_phrase(d)} the trained-gate NPK{extra}.")
    return "\n\n".join(lines)


def _style_plot(ax, results: dict, name: str, values: list[float]) -> None:
    color, ls, marker = STYLE.get(name, ("k", "-", "o"))
    ax.plot(
        results["train_sizes"],
        values,
        ls,
        color=color,
        marker=marker,
        ms=5,
        label=results["kernels"][name]["label"],
    )


def _accuracy_axes(ax, sizes, xlabel: str, title: str) -> None:
    """Log axis of training sizes (ticks at the measured sizes), test accuracy, legend."""
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set(xlabel=xlabel, ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")


def plot(results: dict, out: Path) -> list[Path]:
    figs, paths = out / "figures", []
    sizes = results["train_sizes"]
    net = results["net"]
    arch = f"FC 784-{'-'.join(map(str, results['widths']))}-10"
    fig = Figure(figsize=(8.5, 5.6), layout="constrained")
    ax = fig.subplots()
    for name in results["kernels"]:
        _style_plot(ax, results, name, _acc(results, name))
    ax.axhline(
        net["test_acc"], color="k", ls=":", lw=1.5, label=f"the trained net itself ({net['n_train']} points)"
    )
    _accuracy_axes(
        ax,
        sizes,
        "training points n (nested class-balanced subsets)",
        f"Kernel regression on MNIST ({results['n_test']} test points), kernels of a {arch} ReLU net",
    )
    paths.append(save_figure(fig, figs / "accuracy_vs_n.png"))

    with_matrix = "alignment" in results
    fig = Figure(figsize=(13.5 if with_matrix else 7, 5.2), layout="constrained")
    axes = fig.subplots(1, 2 if with_matrix else 1, squeeze=False)[0]
    a1 = axes[0]
    for name in results["kernels"]:
        per = results["kernels"][name]["n"]
        align = [per[str(n)]["alignment"] for n in sizes]  # None: an iterative solve (no whole K)
        _style_plot(a1, results, name, [math.nan if a is None else a for a in align])
    a1.set_xscale("log")
    a1.set_xticks(sizes, [str(s) for s in sizes])
    a1.minorticks_off()
    a1.set(
        xlabel="training points n",
        ylabel="centred alignment ⟨HKH, HYYᵀH⟩ / (‖HKH‖ ‖HYYᵀH‖)",
        title="Kernel–target alignment with the one-hot labels (higher = better aligned)",
    )
    a1.grid(alpha=0.3)
    a1.legend(fontsize=8)
    if with_matrix:
        a = results["alignment"]
        mat = np.array(a["matrix"])
        a2 = axes[1]
        im = a2.imshow(mat, vmin=min(0.0, mat.min()), vmax=1.0, cmap="viridis")
        ticks = range(len(a["names"]))
        a2.set_xticks(ticks, a["names"], rotation=40, ha="right")
        a2.set_yticks(ticks, a["names"])
        for i in ticks:
            for j in ticks:
                a2.text(
                    j,
                    i,
                    f"{mat[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="w" if mat[i, j] < 0.6 else "k",
                )
        a2.set_title(f"Centred alignment between the kernels ({a['points']} training points)")
        fig.colorbar(im, ax=a2, shrink=0.8)
    paths.append(save_figure(fig, figs / "alignment.png"))
    return paths


def plot_seeds(per_seed: dict[int, dict], out: Path) -> list[Path]:
    """Test accuracy of every kernel against the training-set size, mean ± std over seeds."""
    runs = list(per_seed.values())
    first = runs[0]
    sizes = first["train_sizes"]
    fig = Figure(figsize=(8.5, 5.6), layout="constrained")
    ax = fig.subplots()
    for name in first["kernels"]:
        color, ls, marker = STYLE.get(name, ("k", "-", "o"))
        curves = [_acc(r, name) for r in runs]
        seed_curve(
            ax, sizes, curves, color=color, ls=ls, marker=marker, label=first["kernels"][name]["label"]
        )
    nets = [r["net"]["test_acc"] for r in runs]
    ax.axhline(float(np.mean(nets)), color="k", ls=":", lw=1.5, label="the trained net itself (mean)")
    _accuracy_axes(
        ax,
        sizes,
        "training points n",
        f"Kernel regression on MNIST: mean ± std over {len(runs)} seeds ({preset_label(out)})",
    )
    return [save_figure(fig, out / "figures" / "accuracy_vs_n_seeds.png")]
