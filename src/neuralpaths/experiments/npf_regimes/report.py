"""npf-regimes: the official reference numbers, tables, summary and figures from the saved results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuralpaths.io import save_figure
from neuralpaths.plots import bars_from_zero, integer_ticks, label_error_bars, preset_label, seed_curve
from neuralpaths.report import compare

from .models import format_count

LABELS = {"relu": "ReLU", "frnpf-ii": "FRNPF-II", "frnpf-di": "FRNPF-DI", "flnpf": "FLNPF", "dlnpf": "DLNPF"}
ARCH_LABELS = {"fc": "FC", "vconv": "VCONV", "gconv": "GCONV", "resnet": "ResNet", "model": "your model"}


def _row(ii, di, dl, fl, relu) -> dict[str, tuple[float, float]]:
    return {"frnpf-ii": ii, "frnpf-di": di, "dlnpf": dl, "flnpf": fl, "relu": relu}


# Official NPF repository README, test % (mean ± std of 5 runs, best test epoch), keyed by
# (arch, data set, optimiser): FC = 5 hidden layers of 128; VCONV / GCONV = conv 64-64-128-128.
PAPER: dict[tuple[str, str, str], dict[str, tuple[float, float]]] = {
    ("fc", "mnist", "adam"): _row((96.02, 0.13), (96.09, 0.12), (98.22, 0.05), (97.82, 0.02), (98.14, 0.07)),
    ("fc", "mnist", "sgd"): _row((95.85, 0.10), (95.85, 0.17), (97.86, 0.11), (97.10, 0.09), (97.85, 0.09)),
    ("vconv", "cifar10", "sgd"): _row(
        (58.92, 0.62), (58.83, 0.27), (63.21, 0.07), (63.06, 0.73), (67.02, 0.43)
    ),
    ("vconv", "cifar10", "adam"): _row(
        (64.86, 1.18), (64.68, 0.84), (69.45, 0.76), (71.40, 0.47), (72.43, 0.54)
    ),
    ("gconv", "cifar10", "sgd"): _row(
        (67.36, 0.56), (66.86, 0.44), (74.57, 0.43), (78.52, 0.39), (78.90, 0.37)
    ),
    ("gconv", "cifar10", "adam"): _row(
        (67.09, 0.58), (67.08, 0.27), (77.12, 0.19), (79.68, 0.32), (80.32, 0.35)
    ),
}
PAPER_PROTOCOL = {
    ("fc", "mnist", "adam"): "FC 5x128, Adam 1e-4, 100 epochs",
    ("fc", "mnist", "sgd"): "FC 5x128, SGD 1e-2, 300 epochs",
    ("vconv", "cifar10", "sgd"): "VCONV, SGD 1e-2, 80 epochs",
    ("vconv", "cifar10", "adam"): "VCONV, Adam 3e-4, 80 epochs",
    ("gconv", "cifar10", "sgd"): "GCONV, SGD 1e-1, 100 epochs",
    ("gconv", "cifar10", "adam"): "GCONV, Adam 3e-4, 200 epochs",
}


def reference(results: dict) -> tuple[str, dict[str, tuple[float, float]]] | None:
    """``(protocol, {regime: (mean, std)})`` of the official row matching the run's (arch, data set,
    optimiser), or None. Older results without ``setup`` were FC on MNIST."""
    s = results.get("setup", {"arch": "fc", "dataset": "mnist"})
    key = (s["arch"], s["dataset"], s.get("optimizer", results.get("paper_optimizer", "adam")))
    return (PAPER_PROTOCOL[key], PAPER[key]) if key in PAPER else None


def _paper(results: dict, name: str) -> str:
    ref = reference(results)
    v = ref[1].get(name) if ref else None
    return f"{v[0]:.2f} ± {v[1]:.2f}" if v else "no reference"


def tables(results: dict) -> dict[str, list[dict]]:
    acc = [
        {
            "regime": LABELS[name],
            "test_acc": r["test_acc"],
            "best_test_acc": r["best_test_acc"],
            "paper_best_test": _paper(results, name),
            "val_acc": r["val_acc"],
            "best_val_epoch": r["best_val_epoch"],
            "s_per_epoch": r["seconds_per_epoch"],
        }
        for name, r in results["regimes"].items()
    ]
    out = {"Test accuracy (%)": acc}
    if "arch" in results:
        a = results["arch"]
        out["Architecture"] = [
            {"arch": a["name"], "layers": a["summary"], "paths_per_output": format_count(a["paths"])}
        ]
    if "gates" in results:
        g = results["gates"]
        rows = [
            {"model": k, "nu": v["nu"], "centred_alignment": v.get("alignment")}
            for k, v in g["models"].items()
        ]
        rows[1]["gates_changed"] = g["gates_changed"]
        out["Gates and NPK (ν = yᵀ(H/tr H)⁻¹y, mean over classes; centred kernel-target alignment)"] = rows
    return out


def _arch_line(results: dict) -> str | None:
    if "arch" not in results:
        return None
    a = results["arch"]
    return (
        f"Architecture: {a['name']} — {a['summary']}; {format_count(a['paths'])} paths per output "
        "(bias paths included)."
    )


def summary(results: dict) -> str:
    r = {k: v["test_acc"] for k, v in results["regimes"].items()}
    lines = [line] if (line := _arch_line(results)) else []
    lines.append(
        "Test accuracy at the best-validation epoch: "
        + ", ".join(f"{LABELS[k]} {v:.2f}%" for k, v in r.items())
        + "."
    )
    ref = reference(results)
    if ref:
        lines.append(
            f"Reference row: the official NPF table, {ref[0]} (best test epoch, 5 runs); this run used "
            f"the {results.get('preset', 'unknown')} preset."
        )
    else:
        s = results.get("setup", {})
        lines.append(
            f"No reference: the official NPF table has no row for {s.get('arch')} on {s.get('dataset')} "
            f"with {s.get('optimizer')}."
        )
    frozen = [r[k] for k in ("frnpf-ii", "frnpf-di") if k in r]
    learned = [r[k] for k in ("relu", "flnpf", "dlnpf") if k in r]
    if frozen and learned:
        gap = min(learned) - max(frozen)
        verdict = "holds" if gap > 0 else "does not hold"
        lines.append(
            f"Expected ordering (frozen random gates below learned gates) {verdict}: "
            + compare("the worst learned-gate regime", "the best random-gate regime", gap)
            + "."
        )
    if "gates" in results:
        g = results["gates"]["models"]
        lines.append(
            f"Training flipped {100 * results['gates']['gates_changed']:.1f}% of the ReLU net's gates "
            f"on {results['gates']['points']} test points; ν went from {g['relu-init']['nu']:.1f} "
            f"(init) to {g['relu-trained']['nu']:.1f} (trained); the centred alignment of H with the "
            f"one-vs-rest labels went from {g['relu-init'].get('alignment', float('nan')):.3f} to "
            f"{g['relu-trained'].get('alignment', float('nan')):.3f} (higher is better aligned)."
        )
    return "\n\n".join(lines)


def _arch_title(results: dict) -> str:
    a = results.get("arch")
    return f" — {ARCH_LABELS.get(a['kind'], a['name'])}" if a else ""


def plot(results: dict, out: Path) -> list[Path]:
    figs = out / "figures"
    paths = []
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    for name, r in results["regimes"].items():
        epochs = np.arange(1, len(r["test_curve"]) + 1)
        (line,) = ax.plot(epochs, r["test_curve"], marker="o", ms=3, label=f"{LABELS[name]} test")
        ax.plot(epochs, r["val_curve"], ls="--", color=line.get_color(), alpha=0.6)
    ax.set(
        xlabel="epoch",
        ylabel="accuracy (%)",
        title="Test (solid) and validation (dashed) accuracy per regime" + _arch_title(results),
    )
    integer_ticks(ax)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    paths.append(save_figure(fig, figs / "accuracy_curves.png"))

    fig = Figure(figsize=(7, 4.4), layout="constrained")
    ax = fig.add_subplot()
    names = list(results["regimes"])
    xs = np.arange(len(names))
    ours = [results["regimes"][n]["test_acc"] for n in names]
    best = [results["regimes"][n]["best_test_acc"] for n in names]
    ref = reference(results)
    if ref:
        vals = [ref[1].get(n, (np.nan, 0.0)) for n in names]
        means, stds = [v[0] for v in vals], [v[1] for v in vals]
        bars = [
            ax.bar(xs - 0.27, ours, 0.27, label="ours, best-val epoch"),
            ax.bar(xs, best, 0.27, label="ours, best test epoch"),
            ax.bar(xs + 0.27, means, 0.27, yerr=stds, label="paper (best test, 5 runs)"),
        ]
        top = max(*ours, *best, *(np.nan_to_num(np.add(means, stds))))
        title = f"Accuracy per regime, this run ({preset_label(out)}) vs the official NPF table ({ref[0]})"
    else:
        bars = [
            ax.bar(xs - 0.2, ours, 0.4, label="ours, best-val epoch"),
            ax.bar(xs + 0.2, best, 0.4, label="ours, best test epoch"),
        ]
        top = max(*ours, *best)
        title = "Accuracy per regime" + _arch_title(results) + " (no reference row in the NPF table)"
    ax.set(xticks=xs, xticklabels=[LABELS[n] for n in names], ylabel="test accuracy (%)")
    for b in bars:  # bars start at 0, so the values are written on them
        ax.bar_label(b, fmt="%.1f", fontsize=6, padding=1)
    bars_from_zero(ax, [top], top=max(100.0, top) * 1.05)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
    paths.append(save_figure(fig, figs / "accuracy_vs_paper.png"))

    if "gates" in results:
        g = results["gates"]
        thumbs = g["kernel_thumbnails"]
        fig = Figure(figsize=(4 * len(thumbs) + 4, 4.2), layout="constrained")
        axes = fig.subplots(1, len(thumbs) + 1)
        for ax, (k, mat) in zip(axes, thumbs.items()):
            im = ax.imshow(np.asarray(mat), cmap="viridis")
            ax.set(title=f"H/tr H, {k}\nν = {g['models'][k]['nu']:.1f}", xticks=[], yticks=[])
            fig.colorbar(im, ax=ax, fraction=0.046)
        layers = np.arange(1, len(g["gates_changed_per_layer"]) + 1)
        axes[-1].bar(layers, 100 * np.asarray(g["gates_changed_per_layer"]))
        axes[-1].set(
            xlabel="gated layer (ReLU or max-pool, in forward order)",
            ylabel="% of gates flipped",
            title="ReLU net's gates changed by training",
        )
        a0, a1 = (g["models"][k]["alignment"] for k in ("relu-init", "relu-trained"))
        fig.suptitle(
            f"NPK on {g['points']} test points sorted by class{_arch_title(results)}: centred alignment "
            f"with the labels {a0:.3f} (init) → {a1:.3f} (trained)"
        )
        paths.append(save_figure(fig, figs / "npk_init_vs_trained.png"))
    return paths


def plot_seeds(per_seed: dict[int, dict], out: Path) -> list[Path]:
    """Test accuracy per epoch of each regime and at the best-validation epoch, mean ± std over
    seeds, beside the official table's row if the run matches one."""
    runs = list(per_seed.values())
    names = list(runs[0]["regimes"])
    fig = Figure(figsize=(12, 4.4), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    for name in names:
        curves = [r["regimes"][name]["test_curve"] for r in runs]
        seed_curve(ax, np.arange(1, min(map(len, curves)) + 1), curves, label=LABELS[name])
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy per epoch" + _arch_title(runs[0]))
    integer_ticks(ax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    xs = np.arange(len(names))
    acc = np.array([[r["regimes"][n]["test_acc"] for n in names] for r in runs])
    mean, std = acc.mean(0), acc.std(0, ddof=1) if len(acc) > 1 else np.zeros(len(names))
    bx.bar(xs - 0.2, mean, 0.4, yerr=std, capsize=3, label=f"this run, {len(runs)} seeds, best-val")
    label_error_bars(bx, xs - 0.2, mean, std)
    ref = reference(runs[0])
    if ref:
        vals = [ref[1].get(n, (np.nan, 0.0)) for n in names]
        bx.bar(xs + 0.2, [v[0] for v in vals], 0.4, yerr=[v[1] for v in vals], label="paper (5 runs)")
    bx.set(xticks=xs, xticklabels=[LABELS[n] for n in names], ylabel="test accuracy (%)")
    bars_from_zero(bx, [100.0], top=110)
    bx.legend(fontsize=8, loc="upper center", ncol=2)
    fig.suptitle(f"mean ± std over {len(runs)} seeds ({preset_label(out)})")
    return [save_figure(fig, out / "figures" / "accuracy_seeds.png")]
