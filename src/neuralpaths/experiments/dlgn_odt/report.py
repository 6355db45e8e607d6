"""Tables, summary and figures of the dlgn-odt experiment, from its saved results alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuralpaths.io import save_figure
from neuralpaths.plots import (
    bars_from_zero,
    integer_ticks,
    label_error_bars,
    mean_std,
    plot_attraction_by_node,
    plot_distance_histogram,
    preset_label,
)
from neuralpaths.report import compare

LABELS = {"dlgn": "DLGN", "dlgn-sf": "DLGN-SF", "relu": "ReLU", "relu-sklearn": "ReLU (sklearn)"}
# ICLR 2025 DLGN paper, Table 2: test % on COB-ODT (depth-4 trees), by input dimension d.
PAPER = {
    "dlgn": {20: 96.1, 100: 94.3, 500: 65.1},
    "dlgn-sf": {20: 97.4, 100: 90.3, 500: 63.6},
    "relu": {20: 90.6, 100: 82.3, 500: 62.1},
}
PAPER["relu-sklearn"] = PAPER["relu"]  # the paper's ReLU column came from this baseline


def each_run(results: dict) -> Iterator[tuple[int, str, dict, dict | None]]:
    """``(d, model name, model record, attraction record or None)`` for every run in ``results``."""
    for d, run_d in results["runs"].items():
        for name, m in run_d["models"].items():
            yield int(d), name, m, run_d["attraction"].get(name)


def tables(results: dict) -> dict[str, list[dict]]:
    acc = [
        {
            "d": str(d),  # labels, not numbers (mean ± std over seeds would be meaningless)
            "model": LABELS[name],
            "arch": m["arch"],
            "params": str(m["params"]),
            "beta": None if m.get("beta") is None else f"{m['beta']:g}",
            "lr": m["lr"],
            "test_acc": m["test_acc"],
            "paper_test": PAPER[name].get(d),
            "val_acc": m["val_acc"],
            "best_val_epoch": m["best_val_epoch"],
            "final_test_acc": m["final_test_acc"],
            "train_acc": m["train_acc"],
        }
        for d, name, m, _ in each_run(results)
    ]
    radii = results["radii"]
    att = []
    for d, name, _, a in each_run(results):
        if a is None:
            continue
        root = a["rows"][0]
        row = {
            "d": str(d),
            "model": LABELS[name],
            "hyperplanes": f"{a['n_gating_hyperplanes']} ({a['what']})",
        }
        row |= {
            f"top_median_init (depth<={a['top_depth']})": a["top_median_init"],
            "top_median_final": a["top_median_final"],
            "median_init (all nodes)": a["median_init"],
            "median_final": a["median_final"],
        }
        row |= {f"root_within_{r:g}": root[f"within_{r:g}"] for r in radii}
        att.append(row)
    out = {"Test accuracy (%) at the best-validation epoch; paper: ICLR 2025 Table 2": acc}
    out["Hyperplane attraction: distance of tree nodes to the nearest gating hyperplane"] = att
    for d, name, _, a in each_run(results):
        if a is not None and name != "relu":
            rows = [{**r, "node": str(r["node"]), "depth": str(r["depth"])} for r in a["rows"]]
            out[f"Per tree node, {LABELS[name]}, d={d} (counts after training)"] = rows
    search = [
        {
            "d": str(d),
            "model": LABELS[name],
            **{k: r[k] for k in ("lr", "val_acc", "test_acc", "best_val_epoch")},
        }
        for d, name, m, _ in each_run(results)
        for r in m["lr_search"]
    ]
    if len(search) > len(acc):
        out["Learning-rate search (each model keeps the lr with the best validation accuracy)"] = search
    cv = [{"d": str(d), **r} for d, _, m, _ in each_run(results) for r in m.get("cv_search", [])]
    if cv:
        out["ReLU (sklearn), the paper's baseline: mean cross-validation accuracy (%) per grid point"] = cv
    return out


def summary(results: dict) -> str:
    lines = []
    for d, run_d in results["runs"].items():
        m = run_d["models"]
        accs = ", ".join(
            f"{LABELS[k]} {v['test_acc']:.2f}% (paper {PAPER[k].get(int(d), float('nan')):.1f})"
            + (" (final iterate)" if k == "relu-sklearn" else "")
            for k, v in m.items()
        )
        lines.append(
            f"**d = {d}** ({run_d['data']}). Test accuracy at the best-validation epoch of this "
            f"{results.get('preset', 'unknown')}-preset run, with ICLR 2025 Table 2 in brackets: {accs}."
        )
        if "dlgn" in m and "relu" in m:
            p, q = m["dlgn"]["test_acc"] / 100, m["relu"]["test_acc"] / 100
            se = 100 * np.sqrt((p * (1 - p) + q * (1 - q)) / run_d["n_test"])
            lines.append(
                compare("The DLGN", "the matched ReLU net", 100 * (p - q))
                + f" (one seed; the sampling error of this difference on {run_d['n_test']} test points "
                f"alone is ± {se:.2f})."
            )
        if "relu-sklearn" in m:
            sk = m["relu-sklearn"]
            lines.append(
                f"The paper's ReLU baseline run as its code ran it (scikit-learn MLPClassifier "
                f"{sk['hidden']}, lr {sk['lr']:g}, chosen by cross-validation; the final iterate after "
                f"{sk['best_val_epoch']} epochs, training accuracy {sk['train_acc']:.2f}%): "
                f"{sk['test_acc']:.2f}% (paper {PAPER['relu'].get(int(d), float('nan')):.1f})."
            )
            if "relu" in m:
                diff = m["relu"]["test_acc"] - sk["test_acc"]
                lines[-1] += " " + compare("Our matched ReLU net", "it", diff) + "."
        for k, a in run_d["attraction"].items():
            if k == "relu":
                continue
            root = a["rows"][0]
            within = ", ".join(f"{root[f'within_{r:g}']} within {r:g}" for r in results["radii"])
            lines.append(
                f"{LABELS[k]} hyperplane attraction: median distance of the top-level splits (depth ≤ "
                f"{a['top_depth']}) to the nearest gating hyperplane {a['top_median_init']:.3f} → "
                f"{a['top_median_final']:.3f}; all {len(a['rows'])} nodes {a['median_init']:.3f} → "
                f"{a['median_final']:.3f}; root: {within} (of {a['n_gating_hyperplanes']})."
            )
        if "relu" in run_d["attraction"]:
            a = run_d["attraction"]["relu"]
            lines.append(
                f"ReLU first-layer hyperplanes, for comparison: top-level {a['top_median_init']:.3f} → "
                f"{a['top_median_final']:.3f}, all nodes {a['median_init']:.3f} → {a['median_final']:.3f}."
            )
    return "\n\n".join(lines)


def plot(results: dict, out: Path) -> list[Path]:
    figs, paths = out / "figures", []
    rows = list(each_run(results))
    fig = Figure(figsize=(max(6.0, 1.6 * len(rows) + 1.5), 4.2), layout="constrained")
    ax = fig.subplots()
    xs = np.arange(len(rows))
    ours = [m["test_acc"] for _, _, m, _ in rows]
    ref = [PAPER[n].get(d, np.nan) for d, n, _, _ in rows]
    sk = {n == "relu-sklearn" for _, n, _, _ in rows}
    label = {
        frozenset({False}): "this run, best-validation epoch",
        frozenset({True}): "this run, final iterate (as the paper ran its ReLU baseline)",
        frozenset(
            {False, True}
        ): "this run, best-validation epoch (ReLU (sklearn): final iterate, as the paper ran it)",
    }[frozenset(sk)]
    ax.bar(xs - 0.2, ours, 0.4, label=label)
    ax.bar(xs + 0.2, ref, 0.4, label="ICLR 2025 Table 2")
    for x, v, p in zip(xs, ours, ref):
        ax.text(x - 0.2, v + 0.3, f"{v:.1f}", ha="center", fontsize=7)
        if np.isfinite(p):
            ax.text(x + 0.2, p + 0.3, f"{p:.1f}", ha="center", fontsize=7)
    ax.set(
        xticks=xs,
        xticklabels=[f"{LABELS[n]}\nd={d}" for d, n, _, _ in rows],
        ylabel="test accuracy (%)",
        title=f"COB-ODT (depth-4 trees): test accuracy, this run vs the paper\nthis run: {preset_label(out)}",
    )
    bars_from_zero(ax, [*ours, *ref], top=112)
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    paths.append(save_figure(fig, figs / "accuracy_vs_paper.png"))

    for d, run_d in results["runs"].items():
        if not any(m["curve_epochs"] for m in run_d["models"].values()):
            continue  # only relu-sklearn ran: no per-epoch curves
        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.subplots()
        for name, m in run_d["models"].items():
            if not m["curve_epochs"]:  # relu-sklearn: no per-epoch evaluation
                continue
            label = f"{LABELS[name]} (lr {m['lr']:g}) test"
            (line,) = ax.plot(m["curve_epochs"], m["test_curve"], lw=1.2, label=label)
            ax.plot(m["curve_epochs"], m["val_curve"], ls="--", lw=0.9, color=line.get_color(), alpha=0.7)
            ax.axvline(m["best_val_epoch"], color=line.get_color(), ls=":", lw=0.8)
        ax.set(
            xlabel="epoch",
            ylabel="accuracy (%)",
            title=f"d = {d}: test (solid), validation (dashed), best-validation epoch (dotted)",
        )
        integer_ticks(ax)
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
        paths.append(save_figure(fig, figs / f"accuracy_curves_d{d}.png"))
        for name, a in run_d["attraction"].items():
            if name == "relu":
                continue
            init = [r["dist_init"] for r in a["rows"]]
            final = [r["dist_final"] for r in a["rows"]]
            title = f"{LABELS[name]}, d = {d}: tree nodes to nearest gating hyperplane"
            fig = plot_distance_histogram(init, final, title=title, bins=20)
            paths.append(save_figure(fig, figs / f"attraction_hist_{name}_d{d}.png"))
            title = (
                f"{LABELS[name]}, d = {d}: attraction per tree node ({a['n_gating_hyperplanes']} hyperplanes)"
            )
            fig = plot_attraction_by_node(a["rows"], title=title, radius=results["radii"][0])
            paths.append(save_figure(fig, figs / f"attraction_nodes_{name}_d{d}.png"))
    return paths


def plot_seeds(per_seed: dict[int, dict], out: Path) -> list[Path]:
    """Test accuracy per (d, model), mean ± std over seeds, beside the paper's Table 2."""
    runs = [list(each_run(r)) for r in per_seed.values()]
    keys = [(d, n) for d, n, _, _ in runs[0]]
    acc = [[m["test_acc"] for _, _, m, _ in run] for run in runs]
    mean, std = mean_std(acc)
    ref = [PAPER[n].get(d, np.nan) for d, n in keys]
    xs = np.arange(len(keys))
    fig = Figure(figsize=(max(6.0, 1.6 * len(keys) + 1.5), 4.2), layout="constrained")
    ax = fig.subplots()
    label = f"this run ({preset_label(out)}), mean ± std over {len(runs)} seeds"
    ax.bar(xs - 0.2, mean, 0.4, yerr=std, capsize=3, label=label)
    label_error_bars(ax, xs - 0.2, mean, std)
    ax.bar(xs + 0.2, ref, 0.4, label="ICLR 2025 Table 2")
    ax.set(xticks=xs, xticklabels=[f"{LABELS[n]}\nd={d}" for d, n in keys], ylabel="test accuracy (%)")
    ax.set_title("COB-ODT (depth-4 trees): test accuracy at the best-validation epoch")
    bars_from_zero(ax, [*(mean + std), *ref], top=112)
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    return [save_figure(fig, out / "figures" / "accuracy_vs_paper_seeds.png")]
