"""gate-adaptation: tables, summary and figures from the saved results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuralpaths.io import save_figure
from neuralpaths.plots import style

from .models import ADAPTIVE, family

LABELS = {
    "relu": "ReLU (gates adapt)",
    "frnpf": "FRNPF (random gates, frozen)",
    "dlnpf": "DLNPF (soft gates, ε=0.1, adapt)",
    "flnpf": "FLNPF (learned gates, frozen)",
}
MARKERS = {"relu": "o", "frnpf": "X", "soft": "^", "dlnpf": "s", "flnpf": "D"}


def label(name: str) -> str:
    return LABELS.get(name) or f"soft DGN β={name.split('-b', 1)[1]} (adapt)"


def _colors(names: list[str]) -> dict[str, str]:
    return {n: f"C{i % 10}" for i, n in enumerate(names)}


def _curves(results: dict, ds: str, name: str, key: str) -> np.ndarray:
    """``(runs, epochs + 1)`` array of ``key`` from epoch 0."""
    rows = [r["epochs"] for r in results["runs"] if r["dataset"] == ds and r["regime"] == name]
    return np.array([[e[key] for e in rec] for rec in rows], dtype=float)


def _fmt(x: float | None, spec: str = "+.2f") -> str:
    return "n/a (too few distinct points)" if x is None else format(x, spec)


def tables(results: dict) -> dict[str, list[dict]]:
    rows = []
    for ds, regimes in results["by_dataset"].items():
        for name, s in regimes.items():
            rows.append(
                {
                    "dataset": ds,
                    "regime": name,
                    "runs": s["runs"],
                    "test_acc": s["test_acc"],
                    "test_acc_std": s["test_acc_std"],
                    "gates_changed_%": 100 * s["gates_changed"],
                    "gate_value_change": s["gate_value_change"],
                    "alignment_init": s["alignment_init"],
                    "alignment_final": s["alignment_final"],
                    "nu_init": s["nu_init"],
                    "nu_final": s["nu_final"],
                }
            )
    rel = []
    for ds, r in results["relation"].items():
        for key, v in r.items():
            rel.append({"dataset": ds, "runs": key.split("_", 1)[0], "x": key.split("_", 1)[1], **v})
    return {
        f"Final epoch ({results['setup']['epochs']}): test accuracy (%), gates changed since init and NPK "
        "centred alignment / ν on the fixed test subset (mean over runs)": rows,
        "Across runs: correlation with final test accuracy": rel,
    }


def final_accs(results: dict, ds: str) -> dict[str, list[float]]:
    """Final test accuracy of every run, per regime, on data set ``ds``."""
    out: dict[str, list[float]] = {}
    for r in results["runs"]:
        if r["dataset"] == ds:
            out.setdefault(r["regime"], []).append(r["epochs"][-1]["test_acc"])
    return out


def verdict(regimes: dict, accs: dict[str, list[float]]) -> tuple[bool, list[str]]:
    """Whether every run of every adaptive regime and of FLNPF beats every FRNPF run (final test
    accuracy), and the lines that say so; ``regimes`` the per-regime summaries, ``accs`` the runs'."""
    if "frnpf" not in regimes:
        return False, ["No FRNPF regime ran: nothing to compare adapting gates against."]
    base, top = regimes["frnpf"], max(accs["frnpf"])
    lines, held = [], True
    for name, s in regimes.items():
        if name == "frnpf":
            continue
        gap, low = s["test_acc"] - base["test_acc"], min(accs[name])
        beats = low > top
        held &= beats
        lines.append(
            f"{label(name)}: {s['test_acc']:.2f} % ({gap:+.2f} vs FRNPF; worst run {low:.2f} % "
            f"{'above' if beats else 'NOT above'} FRNPF's best {top:.2f} %), "
            f"{100 * s['gates_changed']:.1f} % of gates changed since init, centred alignment "
            f"{s['alignment_init']:.3f} → {s['alignment_final']:.3f}."
        )
    return held, lines


def summary(results: dict) -> str:
    parts = []
    for ds, regimes in results["by_dataset"].items():
        held, lines = verdict(regimes, final_accs(results, ds))
        base = regimes.get("frnpf")
        head = f"**{ds}**" + (
            f" — FRNPF (frozen random gates): {base['test_acc']:.2f} % test accuracy, gates changed "
            f"{100 * base['gates_changed']:.1f} %, alignment {base['alignment_final']:.3f}."
            if base
            else ""
        )
        rel = results["relation"][ds]
        corr = (
            f"Across all {rel['all_gates_changed']['points']} runs, Spearman ρ(gates changed, test accuracy) "
            f"= {_fmt(rel['all_gates_changed']['spearman'])}; among the adaptive regimes alone "
            f"{_fmt(rel['adaptive_gates_changed']['spearman'])}; ρ(alignment gain, test accuracy) = "
            f"{_fmt(rel['all_alignment_gain']['spearman'])}."
        )
        claim = (
            "The claim held in this run: in every run, every regime whose gates adapt, and the "
            "learned-then-frozen gates, beat every run of frozen random gates."
            if held
            else "The claim did NOT hold cleanly in this run: some run of a regime with adapted (or "
            "learned) gates did not beat the best run of frozen random gates."
        )
        parts.append("\n".join([head, "", *[f"- {line}" for line in lines], "", corr, "", claim]))
    if results["skipped"]:
        skipped = "; ".join(f"{k}: {v}" for k, v in results["skipped"].items())
        parts.append(f"Skipped (not installed): {skipped}")
    return "\n\n".join(parts)


def plot(results: dict, out: Path) -> list[Path]:
    figs, paths = out / "figures", []
    names, datasets = results["names"], results["datasets"]
    colors, epochs = _colors(names), np.arange(results["setup"]["epochs"] + 1)
    panels = [
        ("test_acc", "test accuracy (%)", 1.0),
        ("gates_changed", "gates changed since init (%)", 100.0),
        ("alignment", "NPK centred alignment with labels", 1.0),
        ("nu", "ν per class = yᵀ(H/tr H)⁻¹y / classes", 1.0),
    ]
    fig = Figure(figsize=(5.2 * len(panels), 4.2 * len(datasets)), layout="constrained")
    axes = np.array(fig.subplots(len(datasets), len(panels), squeeze=False))
    for row, ds in enumerate(datasets):
        for col, (key, ylabel, scale) in enumerate(panels):
            ax = axes[row, col]
            for name in names:
                c = scale * _curves(results, ds, name, key)
                start = 1 if key == "test_acc" else 0  # an untrained net's accuracy squashes the axis
                style.seed_curve(ax, epochs[start:], c[:, start:], color=colors[name], label=label(name))
            ax.set(xlabel="epoch", ylabel=ylabel, title=f"{ds}: {ylabel}")
            if key == "nu":  # soft gates at small β give far larger ν: a log axis keeps all in view
                ax.set_yscale("log")
                style.plain_log_ticks(ax, "y")
            style.integer_ticks(ax)
            ax.grid(alpha=0.3)
        axes[row, 0].legend(fontsize=7)
    runs = results["runs"][0]
    fig.suptitle(
        f"FC {'×'.join(map(str, results['setup']['widths']))}, {results['setup']['optimizer']} "
        f"lr {results['setup']['lr']:g}; mean ± std over "
        f"{sum(1 for r in results['runs'] if r['regime'] == runs['regime'] and r['dataset'] == ds)} runs; "
        "gates and NPK on a fixed test subset"
    )
    paths.append(save_figure(fig, figs / "per_epoch.png"))

    fig = Figure(figsize=(11, 4.4 * len(datasets)), layout="constrained")
    axes = np.array(fig.subplots(len(datasets), 2, squeeze=False))
    for row, ds in enumerate(datasets):
        rel = results["relation"][ds]
        xs = (("gates_changed", "gates changed since init (%)"), ("alignment_gain", "centred alignment gain"))
        for col, (key, xlabel) in enumerate(xs):
            ax = axes[row, col]
            for r in (r for r in results["runs"] if r["dataset"] == ds):
                last, first = r["epochs"][-1], r["epochs"][0]
                x = 100 * last["gates_changed"] if col == 0 else last["alignment"] - first["alignment"]
                name = r["regime"]
                ax.scatter(
                    x, last["test_acc"], color=colors[name], marker=MARKERS[family(name)], s=55,
                    label=label(name) if r["run"] == 0 else None, edgecolor="k", lw=0.5,
                )  # fmt: skip
            ax.set(
                xlabel=xlabel,
                ylabel="final test accuracy (%)",
                title=f"{ds}: Spearman ρ = {_fmt(rel[f'all_{key}']['spearman'])} over all runs,\n"
                f"{_fmt(rel[f'adaptive_{key}']['spearman'])} adaptive only",
            )
            ax.title.set_fontsize(10)
            ax.grid(alpha=0.3)
        axes[row, 0].legend(fontsize=7)
    fig.suptitle("Gate change and generalisation, one point per run (adaptive: " + ", ".join(ADAPTIVE) + ")")
    paths.append(save_figure(fig, figs / "scatter.png"))
    return paths
