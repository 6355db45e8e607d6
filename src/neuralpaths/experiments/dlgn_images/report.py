"""dlgn-images: tables, summary and figures from the saved results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuralpaths.io import save_figure
from neuralpaths.plots import bars_from_zero, integer_ticks, preset_label, seed_bars, seed_curve

LABELS = {"dlgn": "DLGN", "dgn": "DGN", "relu": "ReLU"}
PARTS = {"mnist": "MNIST, FC", "cifar10": "CIFAR-10, C4GAP"}
PAPER_RATIO = 83.5  # arXiv 2110.03403: the DLGN recovers > 83.5% of a ReLU net's CIFAR accuracy


def tables(results: dict) -> dict[str, list[dict]]:
    rows = [
        {
            "data": PARTS[part],
            "model": LABELS[kind],
            "test_acc": m["test_acc"],
            "pct_of_relu": m.get("pct_of_relu"),
            "val_acc": m["val_acc"],
            "best_val_epoch": m["best_val_epoch"],
            "best_test_acc": m["best_test_acc"],
            "params": m["params"],
            "s": m["seconds"],
        }
        for part, r in results["parts"].items()
        for kind, m in r["models"].items()
    ]
    skipped = [{"data": PARTS[p], "status": why} for p, why in results["skipped"].items()]
    out = {"Test accuracy (%) at the best-validation epoch, and as a % of the ReLU net's": rows}
    if skipped:
        out["Skipped parts"] = skipped
    return out


def summary(results: dict) -> str:
    lines = []
    for part, r in results["parts"].items():
        m = r["models"]
        accs = ", ".join(f"{LABELS[k]} {v['test_acc']:.2f}%" for k, v in m.items())
        line = f"**{PARTS[part]}** ({r['arch']}; {r['data']}): {accs}."
        if "dlgn" in m and "pct_of_relu" in m["dlgn"]:
            pct = m["dlgn"]["pct_of_relu"]
            line += f" The DLGN recovers {pct:.1f}% of the ReLU net's test accuracy"
            if part == "cifar10":
                verdict = "meets" if pct >= PAPER_RATIO else "falls short of"
                run = f"this {results.get('preset', 'unknown')}-preset run"
                line += f" ({run} {verdict} the papers' ≥ {PAPER_RATIO}% on CIFAR)"
            line += "."
        lines.append(line)
    for part, why in results["skipped"].items():
        lines.append(f"**{PARTS[part]}**: {why}.")
    return "\n\n".join(lines)


def plot(results: dict, out: Path) -> list[Path]:
    paths = []
    for part, r in results["parts"].items():
        fig = Figure(figsize=(11, 4), layout="constrained")
        ax, bx = fig.subplots(1, 2)
        for kind, m in r["models"].items():
            epochs = np.arange(1, len(m["test_curve"]) + 1)
            (line,) = ax.plot(epochs, m["test_curve"], marker="o", ms=3, label=f"{LABELS[kind]} test")
            ax.plot(epochs, m["train_curve"], ls="--", color=line.get_color(), label=f"{LABELS[kind]} train")
        ax.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{PARTS[part]}: accuracy per epoch")
        integer_ticks(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        kinds = list(r["models"])
        acc = [r["models"][k]["test_acc"] for k in kinds]
        bars = bx.bar([LABELS[k] for k in kinds], acc, color=[f"C{i}" for i in range(len(kinds))])
        for b, k in zip(bars, kinds):
            pct = r["models"][k].get("pct_of_relu")
            text = f"{b.get_height():.1f}%" + (f"\n({pct:.1f}% of ReLU)" if pct is not None else "")
            inside = b.get_height() > 25  # the label inside a tall bar, above a short one
            xy = (b.get_x() + b.get_width() / 2, b.get_height() + (-2 if inside else 1))
            style = {"color": "white", "fontweight": "bold"} if inside else {}
            bx.annotate(text, xy, ha="center", va="top" if inside else "bottom", fontsize=8, **style)
        title = f"{PARTS[part]}: best-validation epoch"
        if part == "cifar10" and "relu" in r["models"]:
            ref = PAPER_RATIO / 100 * r["models"]["relu"]["test_acc"]
            bx.axhline(ref, color="black", ls=":", label=f"{PAPER_RATIO}% of ReLU (papers' claim)")
            bx.legend(fontsize=8, loc="upper right")
            title += f"\nthis run: {preset_label(out)}"
        bx.set(ylabel="test accuracy (%)", title=title)
        bars_from_zero(bx, acc, top=105)
        paths.append(save_figure(fig, out / "figures" / f"{part}_accuracy.png"))
    return paths


def plot_seeds(per_seed: dict[int, dict], out: Path) -> list[Path]:
    """Per data set: test accuracy per epoch and at the best-validation epoch, mean ± std over seeds."""
    paths = []
    first = next(iter(per_seed.values()))
    for part, r in first["parts"].items():
        runs = [res["parts"][part] for res in per_seed.values() if part in res["parts"]]
        fig = Figure(figsize=(11, 4), layout="constrained")
        ax, bx = fig.subplots(1, 2)
        for kind in r["models"]:
            curves = [run["models"][kind]["test_curve"] for run in runs]
            epochs = np.arange(1, min(map(len, curves)) + 1)
            seed_curve(ax, epochs, curves, label=f"{LABELS[kind]} test")
        ax.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"{PARTS[part]}: test accuracy per epoch")
        integer_ticks(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        kinds = list(r["models"])
        acc = [[run["models"][k]["test_acc"] for k in kinds] for run in runs]
        seed_bars(bx, [LABELS[k] for k in kinds], acc, top=105)
        bx.set(ylabel="test accuracy (%)", title=f"{PARTS[part]}: best-validation epoch")
        fig.suptitle(f"mean ± std over {len(runs)} seeds ({preset_label(out)})")
        paths.append(save_figure(fig, out / "figures" / f"{part}_accuracy_seeds.png"))
    return paths
