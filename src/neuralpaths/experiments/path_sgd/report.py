"""path-sgd: tables, summary and figures from the saved results.

"Unaffected by the unbalanced init" is decided by a stated rule: in float64 the trajectories from the
two inits stay within ``INVARIANT_REL`` of each other (relative to the outputs' size), and the full
runs end within ``SAME_ACC`` points of test accuracy and within a factor ``SAME_LOSS`` of training loss,
neither diverging. "Affected": a divergence in one init only, or an end beyond either tolerance.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuralpaths.io import save_figure
from neuralpaths.plots import integer_ticks, plain_log_ticks, preset_label

LABELS = {"path-sgd": "Path-SGD", "sgd": "SGD", "adam": "Adam"}
COLORS = {"path-sgd": "C3", "sgd": "C0", "adam": "C2"}
INVARIANT_REL = 1e-6
SAME_ACC = 0.5  # points of test accuracy
SAME_LOSS = 1.5  # ratio of final training losses
FLOOR = 1e-18  # a gap of exactly 0 drawn here on the log axis


def _fmt(v: float | None, spec: str = ".4g") -> str:
    return "—" if v is None else format(v, spec)


def tables(results: dict) -> dict[str, list[dict]]:
    runs = []
    for name, o in results["optimizers"].items():
        for init, r in o["by_init"].items():
            runs.append(
                {
                    "optimizer": name,
                    "init": init,
                    "lr": r["lr"],
                    "final_train_loss": r["final_train_loss"],
                    "test_acc": r["test_acc"],
                    "path_norm_init": r["path_norm_init"],
                    "path_norm_final": r["path_norm_final"],
                    "diverged_epoch": r["diverged_epoch"],
                }
            )
    inv = [
        {k: v for k, v in {"optimizer": name, **rec}.items() if k != "gap_per_step"}
        for name, rec in results["invariance"].items()
    ]
    out = {"Optimizers × initialisations (final epoch)": runs, "Rescaling invariance (float64)": inv}
    grid = [{"optimizer": name, **row} for name, o in results["optimizers"].items() for row in o["lr_grid"]]
    if grid:
        out["Learning-rate grid (balanced init, validation)"] = grid
    return out


def effect(results: dict, name: str) -> dict:
    """How the unbalanced init changed ``name``'s run: ``{"verdict": "unaffected" | "affected" |
    "undecided", "acc_gap", "loss_ratio", "relative_diff", "why"}`` (rule: the module docstring)."""
    b, u = (results["optimizers"][name]["by_init"][k] for k in ("balanced", "unbalanced"))
    rel = results["invariance"].get(name, {}).get("relative_diff")
    if (b["diverged_epoch"] is None) != (u["diverged_epoch"] is None):
        which = "balanced" if b["diverged_epoch"] is not None else "unbalanced"
        return {"verdict": "affected", "acc_gap": None, "loss_ratio": None, "relative_diff": rel,
                "why": f"only the {which} run diverged"}  # fmt: skip
    if b["diverged_epoch"] is not None:
        return {"verdict": "undecided", "acc_gap": None, "loss_ratio": None, "relative_diff": rel,
                "why": "both runs diverged"}  # fmt: skip
    gap = u["test_acc"] - b["test_acc"]
    ratio = u["final_train_loss"] / b["final_train_loss"] if b["final_train_loss"] > 0 else math.inf
    same = abs(gap) <= SAME_ACC and 1 / SAME_LOSS <= ratio <= SAME_LOSS
    invariant = rel is not None and rel <= INVARIANT_REL
    # the same end but a trajectory that moved (or was not checked): "undecided"
    verdict = "unaffected" if same and invariant else "affected" if not same else "undecided"
    why = f"test accuracy {gap:+.2f} points, final training loss ×{ratio:.3g}"
    return {"verdict": verdict, "acc_gap": gap, "loss_ratio": ratio, "relative_diff": rel, "why": why}


def _run_text(init: str, r: dict) -> str:
    if r["diverged_epoch"] is not None:
        return f"{init} → diverged in epoch {r['diverged_epoch']}"
    return (
        f"{init} → test {_fmt(r['test_acc'], '.2f')} %, train loss {_fmt(r['final_train_loss'])}, "
        f"path norm {_fmt(r['path_norm_final'])}"
    )


def summary(results: dict) -> str:
    s = results["setup"]
    lines = [
        f"FC net, {s['depth']} hidden layers of {s['width']} (biases on), {s['epochs']} epochs, batch "
        f"{s['batch_size']}; unbalanced init = the balanced one with every hidden unit rescaled by "
        f"{s['unbalance']:g}^u, u ~ U[-1, 1] (the same function). Data: {results['data']}.",
        "",
    ]
    effects = {n: effect(results, n) for n in results["optimizers"]}
    for name, o in results["optimizers"].items():
        inits = "; ".join(_run_text(init, r) for init, r in o["by_init"].items())
        inv = results["invariance"].get(name, {})
        lines.append(
            f"- **{LABELS[name]}** (lr {o['lr']:g}): {inits}. Float64 rescaling check over "
            f"{inv.get('steps')} steps: output gap {_fmt(inv.get('max_output_diff'), '.2e')} (relative "
            f"{_fmt(inv.get('relative_diff'), '.2e')}). Verdict: {effects[name]['verdict']} "
            f"({effects[name]['why']})."
        )
    lines.append("")
    p, g = effects.get("path-sgd"), effects.get("sgd")
    if p is None or g is None:
        lines.append("The claim needs both Path-SGD and SGD in the run; it was not tested.")
    elif p["verdict"] == "unaffected" and g["verdict"] == "affected":
        lines.append(
            "**The claim held in this run:** Path-SGD was unaffected by the unbalanced init, SGD was not."
        )
        if g["loss_ratio"] is not None:
            how = (
                "helped"
                if g["loss_ratio"] < 1 and g["acc_gap"] >= 0
                else "hurt"
                if g["loss_ratio"] > 1
                else "changed"
            )
            lines.append(
                f"The rescaling {how} SGD here (training loss ×{g['loss_ratio']:.3g}, test accuracy "
                f"{g['acc_gap']:+.2f} points): it changes SGD's effective step per unit, in either direction."
            )
    else:
        lines.append(
            f"**The claim did not hold in this run as stated:** verdicts under the unbalanced init: "
            f"Path-SGD {p['verdict']}, SGD {g['verdict']}."
        )
    lines.append(
        f"(Rule: unaffected = float64 relative trajectory gap ≤ {INVARIANT_REL:g} and full runs within "
        f"{SAME_ACC} points of test accuracy and a factor {SAME_LOSS} of training loss.)"
    )
    return "\n".join(lines)


def _curves(results: dict, out: Path) -> Path:
    fig = Figure(figsize=(14, 4.2))
    axes = fig.subplots(1, 3)
    for name, o in results["optimizers"].items():
        for init, style in (("balanced", "-"), ("unbalanced", "--")):
            r = o["by_init"][init]
            kw = {"color": COLORS[name], "ls": style, "label": f"{LABELS[name]}, {init}"}
            axes[0].plot(r["epoch"], r["train_loss"], marker=".", **kw)
            axes[1].plot(r["epoch"], r["test_acc_curve"], marker=".", **kw)
            axes[2].plot(range(len(r["path_norm"])), r["path_norm"], marker=".", **kw)
    for ax, title, ylabel in zip(
        axes,
        ("training loss", "test accuracy", "path norm ‖v‖₂ (biases included)"),
        ("cross-entropy (log)", "%", "‖v‖₂ (log)"),
    ):
        ax.set(title=title, xlabel="epoch", ylabel=ylabel)
        integer_ticks(ax)
        ax.grid(alpha=0.3)
    for ax in (axes[0], axes[2]):
        ax.set_yscale("log")
        plain_log_ticks(ax, "y")
    axes[1].legend(fontsize=7)
    s = results["setup"]
    fig.suptitle(
        f"MNIST FC {s['depth']}×{s['width']}: solid = balanced init, dashed = unbalanced "
        f"(units rescaled by up to ×{s['unbalance']:g}^±1) — {preset_label(out)}"
    )
    return save_figure(fig, out / "figures" / "curves.png")


def _invariance(results: dict, out: Path) -> Path:
    fig = Figure(figsize=(6.5, 4.2))
    ax = fig.subplots()
    for name, rec in results["invariance"].items():
        gaps = [np.nan if g is None else max(g, FLOOR) for g in rec["gap_per_step"]]
        ax.plot(range(1, len(gaps) + 1), gaps, marker="o", ms=3, color=COLORS[name], label=LABELS[name])
    ax.set_yscale("log")
    plain_log_ticks(ax, "y")
    integer_ticks(ax)
    ax.set(xlabel="step", ylabel="max |f_balanced − f_unbalanced| on 256 test images")
    ax.set_title(f"Same function, rescaled init: trajectory gap (float64; 0 drawn at {FLOOR:g})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, out / "figures" / "invariance.png")


def plot(results: dict, out: Path) -> list[Path]:
    return [_curves(results, out), _invariance(results, out)]
