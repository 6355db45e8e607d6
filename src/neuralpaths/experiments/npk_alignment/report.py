"""npk-alignment: tables, summary and figures from the saved results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuralpaths.io import save_figure
from neuralpaths.plots import integer_ticks
from neuralpaths.report import compare, data_sizes

LABELS = {
    "relu": "ReLU (gates learned)",
    "frnpf-di": "FRNPF-DI (frozen init gates)",
    "frnpf-ii": "FRNPF-II (frozen random gates)",
}
SHORT = {"relu": "ReLU", "frnpf-di": "FRNPF-DI", "frnpf-ii": "FRNPF-II"}
COLORS = {"relu": "C3", "frnpf-di": "C0", "frnpf-ii": "C2"}


KEYS = (
    "nu_npk_init",
    "nu_npk_final",
    "nu_ntk_init",
    "nu_ntk_final",
    "gates_changed_final",
    "test_acc_final",
    "train_acc_final",
    "kr_acc_npk_init",
    "kr_acc_npk_final",
    "kr_acc_ntk_init",
    "kr_acc_ntk_final",
)


def task(results: dict) -> tuple[str, int | None, int | None]:
    """``("4 vs 7", training points, test points)`` of the run, read from its data summary."""
    name = results["data"].split(":")[0]
    pair = name.split("-")[-1].replace("v", " vs ") if "-" in name else name
    sizes = data_sizes(results["data"])
    return pair, sizes.get("train"), sizes.get("test")


def _n(count: int | None, what: str) -> str:
    return f"{count} {what}" if count is not None else what


def _curves(results: dict, regime: str, key: str) -> np.ndarray:
    """``(runs, stages)`` array of ``key`` over the measured epochs."""
    return np.array([[r[key] for r in run] for run in results["regimes"][regime]["runs"]], dtype=float)


def _flat(results: dict, regime: str) -> float:
    """Largest relative change of ν_NPK from its initial value, over runs and stages."""
    c = _curves(results, regime, "nu_npk")
    return float(np.max(np.abs(c / c[:, :1] - 1)))


def tables(results: dict) -> dict[str, list[dict]]:
    rows = []
    for regime, f in results["final"].items():
        row = {"regime": SHORT[regime], "runs": len(results["regimes"][regime]["runs"])}
        for key in KEYS:
            if key in f:
                scale = 100.0 if key.startswith("gates") else 1.0
                name = key.replace("gates_changed_final", "gates_changed_%")
                row[name] = scale * f[key]
                row[f"{name}_std"] = scale * f[f"{key}_std"]
        row["max_rel_change_nu_npk"] = _flat(results, regime)
        rows.append(row)
    traj: list[dict] = []
    for i, epoch in enumerate(results["epochs"]):
        row = {"epoch": epoch}
        for regime in results["regimes"]:
            for key in ("nu_npk", "nu_ntk"):
                if key in results["regimes"][regime]["runs"][0][0]:
                    c = _curves(results, regime, key)[:, i]
                    row[f"{SHORT[regime]} {key}"] = float(c.mean())
        traj.append(row)
    return {
        "ν = yᵀ(K/tr K)⁻¹y before and after training, gates changed and test accuracy "
        "(mean ± std over runs)": rows,
        "ν_t every few epochs (mean over runs)": traj,
    }


def summary(results: dict) -> str:
    f = results["final"]
    lines = []
    if "relu" in f:
        r = f["relu"]
        c = _curves(results, "relu", "nu_npk")
        falls = int((c[:, -1] < c[:, 0]).sum())
        change = 100 * (r["nu_npk_final"] / r["nu_npk_init"] - 1)
        fell = falls == len(c) and change < -5
        verdict = "falls as expected" if fell else "does not fall clearly"
        better = r["kr_acc_npk_final"] - r["kr_acc_npk_init"] > r.get("kr_acc_npk_final_std", 0.0)
        lines.append(
            f"ReLU: ν of the NPK {verdict}: {r['nu_npk_init']:.1f} ± {r['nu_npk_init_std']:.1f} → "
            f"{r['nu_npk_final']:.1f} ± {r['nu_npk_final_std']:.1f} ({change:+.0f} %; lower in {falls} of "
            f"{len(c)} runs) while {100 * r['gates_changed_final']:.1f} % of the gates on the training "
            f"points flipped; the net's test accuracy is {r['test_acc_final']:.1f} %, and ridge-less "
            "regression with "
            f"its NPK goes from {r['kr_acc_npk_init']:.1f} % to {r['kr_acc_npk_final']:.1f} % ("
            + (
                "the better-aligned NPK also regresses better)."
                if better and fell
                else "up by more than its std over runs)."
                if better
                else "not up by more than its std over runs)."
            )
            + (
                f" ν of the NTK: {r['nu_ntk_init']:.1f} → {r['nu_ntk_final']:.1f}."
                if "nu_ntk_init" in r
                else ""
            )
        )
    for regime in ("frnpf-di", "frnpf-ii"):
        if regime not in f:
            continue
        r = f[regime]
        flat = _flat(results, regime)
        lines.append(
            f"{SHORT[regime]} (frozen gates): ν of the NPK {r['nu_npk_init']:.1f} → {r['nu_npk_final']:.1f}, "
            + (
                "exactly flat (as frozen gates imply: the NPK is built from the gates alone; "
                if flat < 1e-9
                else f"not flat (max relative change {flat:.2g}), although frozen gates should fix it; "
            )
            + f"{100 * r['gates_changed_final']:.1f} % of gates flipped)."
            + (
                f" ν of the value-weight NTK: {r['nu_ntk_init']:.1f} → {r['nu_ntk_final']:.1f}."
                if "nu_ntk_init" in r
                else ""
            )
            + f" Test accuracy {r['test_acc_final']:.1f} % "
            f"(regression with its NPK {r['kr_acc_npk_final']:.1f} %)."
        )
    if "relu" in f and any(k in f for k in ("frnpf-di", "frnpf-ii")):
        frozen = max(f[k]["test_acc_final"] for k in ("frnpf-di", "frnpf-ii") if k in f)
        gap = f["relu"]["test_acc_final"] - frozen
        pair, _, n_test = task(results)
        lines.append(
            compare("Learned gates", "the best frozen-gate regime", gap, ahead="beat", behind="trail")
            + f" on the {_n(n_test, f'{pair} test digits')} (mean over runs)."
        )
    return "\n\n".join(lines)


def _band(ax, epochs, c: np.ndarray, color: str, label: str, ls: str = "-") -> None:
    mean = c.mean(0)
    ax.plot(epochs, mean, ls, color=color, marker="o", ms=3, label=label)
    if len(c) > 1:
        sd = c.std(0, ddof=1)
        ax.fill_between(epochs, mean - sd, mean + sd, color=color, alpha=0.2, lw=0)


def plot(results: dict, out: Path) -> list[Path]:
    figs, paths = out / "figures", []
    epochs = np.array(results["epochs"])
    runs = len(next(iter(results["regimes"].values()))["runs"])
    kinds = [("npk", "NPK H_t")] + ([("ntk", "NTK Θ_t (trainable parameters)")] if results["ntk"] else [])
    fig = Figure(figsize=(6.2 * len(kinds), 8.2), layout="constrained")
    axes = np.array(fig.subplots(2, len(kinds), squeeze=False))
    for col, (key, title) in enumerate(kinds):
        top, bottom = axes[0, col], axes[1, col]
        for regime in results["regimes"]:
            c = _curves(results, regime, f"nu_{key}")
            _band(top, epochs, c, COLORS[regime], LABELS[regime])
            _band(bottom, epochs, c / c[:, :1], COLORS[regime], LABELS[regime])
        top.set(
            xlabel="epoch",
            ylabel="ν_t = yᵀ(K_t / tr K_t)⁻¹ y",
            title=f"{title}: ν_t (lower = better aligned)",
        )
        bottom.set(
            xlabel="epoch", ylabel="ν_t / ν_0 (per run)", title=f"{title}: ν_t relative to its initial value"
        )
        for ax in (top, bottom):
            integer_ticks(ax)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    pair, n_train, n_test = task(results)
    fig.suptitle(f"Binary MNIST {pair}, {_n(n_train, 'training points')}; mean ± std over {runs} runs")
    paths.append(save_figure(fig, figs / "nu_curves.png"))

    fig = Figure(figsize=(18, 4.4), layout="constrained")
    a1, a2, a3 = fig.subplots(1, 3)
    for regime in results["regimes"]:
        color = COLORS[regime]
        _band(a1, epochs[1:], _curves(results, regime, "test_acc")[:, 1:], color, LABELS[regime])
        _band(a2, epochs, _curves(results, regime, "kr_acc_npk"), color, f"{SHORT[regime]}, NPK")
        if results["ntk"]:
            _band(a2, epochs, _curves(results, regime, "kr_acc_ntk"), color, f"{SHORT[regime]}, NTK", ls="--")
        _band(a3, epochs, 100 * _curves(results, regime, "gates_changed"), color, LABELS[regime])
    a1.set(
        xlabel="epoch",
        ylabel="test accuracy (%)",
        title=f"The trained network on the {_n(n_test, pair + ' test digits')}",
    )
    a2.set(
        xlabel="epoch",
        ylabel="test accuracy (%)",
        title=f"Ridge-less kernel regression, K_t fit on the {_n(n_train, 'training points')}",
    )
    a3.set(
        xlabel="epoch",
        ylabel="% of gates flipped since init",
        title=f"Gates changed on the {_n(n_train, 'training points')}",
    )
    for ax in (a1, a2, a3):
        integer_ticks(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    paths.append(save_figure(fig, figs / "accuracy_and_gates.png"))
    return paths
