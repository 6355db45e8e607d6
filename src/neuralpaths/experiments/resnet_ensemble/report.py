"""resnet-ensemble: tables, summary and figures from the saved results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuralpaths.io import save_figure
from neuralpaths.plots import bars_from_zero, plain_log_ticks

STAGES = ("init", "trained")
COLORS = {"init": "C0", "trained": "C3"}
METRICS = {
    "trace_share": "trace share",
    "frobenius_share": "Frobenius share",
    "alignment": "centred alignment",
    "nu": "ν",
    "effective_rank": "effective rank",
    "regression_acc": "kernel regression acc. (%)",
}


def depth(label: str) -> int:
    """Residual branches a sub-architecture passes through (``=branch`` choices)."""
    return label.count("=branch")


def blocks(label: str) -> list[str]:
    """The blocks named in a label, in order (``["layer1.0", "layer2.0", ...]``)."""
    return [p.split("=")[0] for p in label.split(", ") if "=" in p]


def code(label: str) -> str:
    """``"layer1.0=skip, layer2.0=branch"`` -> ``"SB"`` (S = shortcut, B = residual branch)."""
    return "".join("B" if p.endswith("=branch") else "S" for p in label.split(", ") if "=" in p) or label


def ordered(results: dict) -> list[str]:
    """Sub-architectures from shallow (all skips) to deep (all branches)."""
    return sorted(results["parts"], key=lambda k: (depth(k), [-ord(c) for c in code(k)]))


def mean_depth(results: dict, stage: str, key: str = "trace_share") -> float:
    """Residual branches passed, averaged over the sub-architectures weighted by ``key``."""
    return float(sum(depth(k) * v[stage][key] for k, v in results["parts"].items()))


def skipped(results: dict, stage: str) -> float:
    """Fraction of the residual branches skipped, weighted by trace share: ``1 − mean depth / b``
    (small when the all-branch sub-architecture dominates, so its relative change is what moves)."""
    b = results["arch"]["blocks"]
    return float(sum((b - depth(k)) / b * v[stage]["trace_share"] for k, v in results["parts"].items()))


def _legend_text(results: dict) -> str:
    names = blocks(next(iter(results["parts"])))
    return f"letters = blocks {', '.join(names)}: S skip (shortcut), B residual branch"


def tables(results: dict) -> dict[str, list[dict]]:
    rows = []
    entries = [(code(k), depth(k), results["parts"][k], k) for k in ordered(results)]
    entries.append(("total", None, results["total"], "sum of all sub-architectures"))
    for name, d, v, label in entries:
        row: dict = {"sub_architecture": name, "branches": "–" if d is None else d}
        share = 1.0 if d is None else results["arch"]["path_share"][label]
        row["path_share"] = share
        for key, short in (
            ("trace_share", "trace_share"),
            ("frobenius_share", "frob_share"),
            ("alignment", "alignment"),
            ("nu", "nu"),
            ("effective_rank", "eff_rank"),
            ("regression_acc", "kr_acc"),
        ):
            for stage in STAGES:
                if key in v[stage]:
                    row[f"{short}_{stage}"] = v[stage][key]
        for stage in STAGES:  # kernel per path, relative to the network's average path
            row[f"per_path_{stage}"] = v[stage]["trace_share"] / share
        row["label"] = label
        rows.append(row)
    a = results["arch"]
    net = [
        {
            "layers": a["summary"],
            "paths_per_output": f"{a['paths']:.3g}",
            "sub_architectures": len(results["parts"]),
            "test_acc_init": results["test_acc_init"],
            "test_acc": results["test_acc"],
            "best_test_acc": results["best_test_acc"],
            "val_acc": results["val_acc"],
            "best_val_epoch": results["best_val_epoch"],
            "sum_rel_error": max(results["sum_rel_error"].values()),
        }
    ]
    title = (
        f"Sub-architectures ({results['points']} test points; share = tr H_p / tr H and ⟨H_p, H⟩ / ‖H‖²; "
        "centred alignment and ν with one-vs-rest labels; kernel regression accuracy on a held-out half)"
    )
    return {title: rows, "Network (test accuracy %, at init and at the best-validation epoch)": net}


def _pct(share: float) -> str:
    """A share as a percentage, small ones in scientific notation."""
    return f"{100 * share:.1f}%" if share >= 1e-3 else f"{100 * share:.1e}%"


def _top(results: dict, stage: str, key: str) -> tuple[str, float]:
    k = max(results["parts"], key=lambda p: results["parts"][p][stage][key])
    return code(k), results["parts"][k][stage][key]


def summary(results: dict) -> str:
    parts, b = results["parts"], results["arch"]["blocks"]
    err = max(results["sum_rel_error"].values())
    lines = [
        f"Network: {results['arch']['summary']} ({results['arch']['paths']:.3g} paths per output). "
        f"Its {b} residual blocks make {len(parts)} sub-architectures ({_legend_text(results)}); on "
        f"{results['points']} test points their NPKs sum to the network's NPK up to a relative error of "
        f"{err:.1e}. Test accuracy {results['test_acc_init']:.1f}% at init, {results['test_acc']:.2f}% "
        f"trained (best-validation epoch {results['best_val_epoch']})."
    ]
    (c0, s0), (c1, s1) = _top(results, "init", "trace_share"), _top(results, "trained", "trace_share")
    same = "the same sub-architecture" if c0 == c1 else f"{c1} ({100 * s1:.1f}%)"
    lines.append(
        f"The sub-architecture carrying most of the kernel (trace share) is {c0} at init "
        f"({100 * s0:.1f}%); after training it is {same}" + (f" ({100 * s1:.1f}%)." if c0 == c1 else ".")
    )
    k0, k1 = skipped(results, "init"), skipped(results, "trained")
    change = k1 / k0 - 1 if k0 > 0 else 0.0
    if abs(change) < 0.05:
        move = "training left the balance between deep and shallow sub-architectures unchanged (within 5%)"
    else:
        move = (
            f"training moved kernel weight toward {'deeper' if change < 0 else 'shallower'} sub-architectures"
        )
    all_b = max(parts, key=depth)
    none_b = min(parts, key=depth)
    lines.append(
        f"Weighted by trace share, the kernel's paths skip a fraction {k0:.3g} of the {b} residual branches "
        f"at init and {k1:.3g} after training ({100 * change:+.0f}%): {move} (all-branch part "
        f"{code(all_b)}: {_pct(parts[all_b]['init']['trace_share'])} → "
        f"{_pct(parts[all_b]['trained']['trace_share'])}; all-skip part {code(none_b)}: "
        f"{_pct(parts[none_b]['init']['trace_share'])} → {_pct(parts[none_b]['trained']['trace_share'])})."
    )
    ps = results["arch"]["path_share"]
    ratio = {
        st: (parts[none_b][st]["trace_share"] / ps[none_b]) / (parts[all_b][st]["trace_share"] / ps[all_b])
        for st in STAGES
    }
    logs = np.log10(
        [[ps[k], v["init"]["trace_share"], v["trained"]["trace_share"]] for k, v in parts.items()]
    )
    r = min(np.corrcoef(logs[:, 0], logs[:, i])[0, 1] for i in (1, 2)) if len(parts) > 2 else float("nan")
    follow = (
        "the kernel shares follow the path counts"
        if r > 0.9
        else "the kernel shares do not simply follow the path counts"
    )
    lines.append(
        f"Paths: {code(all_b)} holds {_pct(ps[all_b])} of the network's paths and {code(none_b)} "
        f"{_pct(ps[none_b])}; across sub-architectures the log trace share and the log path share "
        f"correlate with r ≥ {r:.4f}, so {follow} (the NPK sums over paths, whatever their weights). Per "
        f"path, the all-skip part's kernel is {ratio['init']:.3g}× the all-branch part's at init and "
        f"{ratio['trained']:.3g}× after training."
    )
    t = results["total"]
    (ca0, a0), (ca1, a1) = _top(results, "init", "alignment"), _top(results, "trained", "alignment")
    rises = sum(v["trained"]["alignment"] > v["init"]["alignment"] for v in parts.values())
    lines.append(
        f"Centred alignment with the labels: the total kernel {t['init']['alignment']:.3f} → "
        f"{t['trained']['alignment']:.3f}; it rose for {rises} of {len(parts)} sub-architectures. The "
        f"best-aligned part is {ca0} at init ({a0:.3f}) and {ca1} after training ({a1:.3f})."
    )
    if "regression_acc" in t["init"]:
        (cr, r1) = _top(results, "trained", "regression_acc")
        n_fit, n_test = results["regression_split"]
        better = sum(v["trained"]["regression_acc"] > t["trained"]["regression_acc"] for v in parts.values())
        lines.append(
            f"Kernel regression ({n_fit} fitting points, {n_test} held out): the total kernel scores "
            f"{t['init']['regression_acc']:.1f}% at init and {t['trained']['regression_acc']:.1f}% trained; "
            f"the best single part after training is {cr} ({r1:.1f}%), and {better} of {len(parts)} "
            "parts beat the total on their own."
        )
    return "\n\n".join(lines)


# --- figures ------------------------------------------------------------------------------------
def _bars(ax, results: dict, key: str, names: list[str], total: bool = False) -> None:
    xs = np.arange(len(names))
    shown: list[float] = []
    for i, stage in enumerate(STAGES):
        vals = [results["parts"][k][stage].get(key, np.nan) for k in names]
        shown += vals + ([results["total"][stage][key]] if total and key in results["total"][stage] else [])
        ax.bar(xs + (i - 0.5) * 0.4, vals, 0.4, color=COLORS[stage], label=stage)
        if total and key in results["total"][stage]:
            ax.axhline(
                results["total"][stage][key],
                color=COLORS[stage],
                ls="--" if stage == "init" else "-",
                lw=1.2,
                label=f"total kernel, {stage}",
            )
    if total:  # linear axes (the share panels are set to log scale by the caller)
        bars_from_zero(ax, shown)
    ax.set_xticks(xs, [f"{code(k)}\n({depth(k)})" for k in names])
    ax.set_ylabel(METRICS[key])
    ax.grid(axis="y", alpha=0.3)


def _short_pct(share: float) -> str:
    return f"{100 * share:.3g}%" if share >= 0.01 else f"{100 * share:.0e}%"


def _by_depth(results: dict, stage: str | None) -> np.ndarray:
    """Trace share (``stage``) or path share (``None``) summed over the parts of each depth 0..b."""
    b = results["arch"]["blocks"]
    ps = results["arch"]["path_share"]
    return np.array(
        [
            sum(
                ps[k] if stage is None else v[stage]["trace_share"]
                for k, v in results["parts"].items()
                if depth(k) == d
            )
            for d in range(b + 1)
        ]
    )


def plot(results: dict, out: Path) -> list[Path]:
    figs, paths = out / "figures", []
    names = ordered(results)
    xlabel = "sub-architecture (residual branches passed)"
    caption = _legend_text(results)

    fig = Figure(figsize=(11, 4.4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, key in zip(axes, ("trace_share", "frobenius_share")):
        _bars(ax, results, key, names)
        ax.set_yscale("log")
        plain_log_ticks(ax, "y")
        ax.set_title(f"{METRICS[key]} of the NPK per sub-architecture (log scale)", fontsize=10)
        ax.set_xlabel(xlabel)
    ps = results["arch"]["path_share"]
    axes[0].plot(
        np.arange(len(names)), [ps[k] for k in names], "k_", ms=22, mew=2, label="share of the paths"
    )
    axes[0].legend(fontsize=8, markerscale=0.7)
    (c0, s0), (c1, s1) = _top(results, "init", "trace_share"), _top(results, "trained", "trace_share")
    k0, k1 = skipped(results, "init"), skipped(results, "trained")
    fig.suptitle(
        f"Largest trace share: {c0} at init ({_short_pct(s0)}), {c1} trained ({_short_pct(s1)}); "
        f"share-weighted fraction of branches skipped {k0:.3g} → {k1:.3g}"
    )
    fig.supxlabel(caption, fontsize=8)
    paths.append(save_figure(fig, figs / "shares.png"))

    keys = ["alignment"] + (["regression_acc"] if "regression_acc" in results["total"]["init"] else [])
    fig = Figure(figsize=(5.5 * len(keys), 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    for ax, key in zip(axes, keys):
        _bars(ax, results, key, names, total=True)
        ax.set_xlabel(xlabel)
    axes[0].set_title("centred kernel-target alignment (one-vs-rest labels)", fontsize=10)
    if len(keys) > 1:
        n_fit, n_test = results["regression_split"]
        axes[1].set_title(
            f"kernel regression with one part's kernel ({n_fit} fit / {n_test} test)", fontsize=10
        )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    t = results["total"]
    fig.suptitle(
        f"How well each sub-architecture's kernel fits the labels; total alignment "
        f"{t['init']['alignment']:.3f} (init) → {t['trained']['alignment']:.3f} (trained)\n({caption})",
        fontsize=10,
    )
    paths.append(save_figure(fig, figs / "alignment.png"))

    b = results["arch"]["blocks"]
    ds = np.arange(b + 1)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    path_by_depth = _by_depth(results, None)
    for i, stage in enumerate(STAGES):
        share = _by_depth(results, stage)
        label = f"{stage} (fraction skipped {skipped(results, stage):.3g})"
        axes[0].bar(ds + (i - 0.5) * 0.4, share, 0.4, color=COLORS[stage], label=label)
        axes[1].bar(ds + (i - 0.5) * 0.4, share / path_by_depth, 0.4, color=COLORS[stage], label=stage)
    axes[0].plot(ds, path_by_depth, "k_", ms=30, mew=2, label="share of the paths")
    axes[0].set(yscale="log", ylabel="trace share of the NPK (log scale)", title="Kernel weight by depth")
    axes[1].axhline(1.0, color="k", lw=0.8)
    axes[1].set(
        yscale="log",
        ylabel="trace share / path share (log scale)",
        title="Kernel per path, relative to the network's average path",
    )
    for ax in axes:
        plain_log_ticks(ax, "y")
        ax.set(xticks=ds, xlabel="residual branches a path passes through")
        ax.legend(fontsize=8, markerscale=0.5)
        ax.grid(axis="y", alpha=0.3)
    rel = {st: _by_depth(results, st) / path_by_depth for st in STAGES}
    fig.suptitle(
        f"Share-weighted fraction of branches skipped {k0:.3g} (init) → {k1:.3g} (trained)\n"
        f"per path, no branch vs all {b}: {rel['init'][0] / rel['init'][-1]:.3g}× the kernel at init, "
        f"{rel['trained'][0] / rel['trained'][-1]:.3g}× after training"
    )
    paths.append(save_figure(fig, figs / "share_by_depth.png"))

    thumbs = results["thumbnails"]
    cols = [*names, "total"]
    fig = Figure(figsize=(1.9 * len(cols), 4.6), layout="constrained")
    axes = fig.subplots(2, len(cols), squeeze=False)
    for r, stage in enumerate(STAGES):
        for c, k in enumerate(cols):
            ax = axes[r, c]
            mat = np.asarray(thumbs[stage][k])
            ax.imshow(mat, cmap="viridis", vmax=np.percentile(mat, 98))  # the diagonal would swamp the rest
            v = results["total"][stage] if k == "total" else results["parts"][k][stage]
            name = "total" if k == "total" else code(k)
            ax.set_title(f"{name}: {_short_pct(v['trace_share'])}, A={v['alignment']:.2f}", fontsize=8)
            ax.set(xticks=[], yticks=[])
        axes[r, 0].set_ylabel(stage)
    fig.suptitle(
        f"H_p / tr H_p on {results['points']} test points sorted by class (% = trace share, A = centred "
        f"alignment; colours clipped at the 98th percentile)\n{caption}",
        fontsize=9,
    )
    paths.append(save_figure(fig, figs / "kernels.png"))
    return paths
