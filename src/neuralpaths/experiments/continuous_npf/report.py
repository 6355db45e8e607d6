"""continuous-npf: tables, summary and figures from the saved results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuralpaths.io import save_figure
from neuralpaths.plots import style

# NPF paper, continuous NPF learning (GCONV, CIFAR-10, Adam; PAPERS.md §1.4): mean test accuracy per
# stage read off the official figure; stages 3-5 are approximate (read off the plot).
PAPER_STAGES = {0: 67.09, 1: 72.29, 2: 74.42, 3: 77.0, 4: 78.3, 5: 78.6, 6: 79.43}
PAPER_APPROX = {3, 4, 5}
PAPER_RELU, PAPER_CNTK = 80.32, 77.43


def is_paper_setup(setup: dict) -> bool:
    """The paper's own setting: GCONV on CIFAR-10."""
    return setup["arch"] == "gconv" and setup["dataset"] == "cifar10"


def tables(results: dict) -> dict[str, list[dict]]:
    paper = {name for name, s in results["setups"].items() if is_paper_setup(s)}
    rows = [
        {
            "setup": r["setup"],
            "ran_on": results["setups"][r["setup"]]["dataset"],
            "stage": r["stage"],
            "relu_epochs": r["relu_epochs"],
            "test_acc": r["test_acc"],
            "best_test_acc": r["best_test_acc"],
            "relu_stage_acc": r["relu_stage_acc"],
            "relu_test_acc": r["relu_test_acc"],
            **({"paper": PAPER_STAGES.get(r["stage"])} if r["setup"] in paper else {}),
        }
        for r in results["stages"]
    ]
    return {
        f"FLNPF test accuracy (%) per stage: gates copied from the ReLU net after relu_epochs epochs, value "
        f"network trained {results['flnpf_epochs']} epoch(s) (test_acc: last epoch; best_test_acc: best "
        "epoch, the paper's metric)": rows
    }


def _gap(points: float) -> str:
    return f"{abs(points):.2f} points {'below' if points > 0 else 'above'}"


def outcome(setup: dict) -> tuple[bool, str]:
    """Whether the FLNPF accuracy rose from stage 0 at every stage, and a sentence with the numbers
    (a partial verdict when it ends above stage 0 but fell on the way)."""
    acc = [r["test_acc"] for r in setup["stages"]]
    relu = setup["relu_test_acc"]
    gain, gap0, gap1 = acc[-1] - acc[0], relu - acc[0], relu - acc[-1]
    falls = [r["stage"] for r, a, b in zip(setup["stages"][1:], acc, acc[1:]) if b < a]
    held = gain > 0 and not falls
    where = f"{setup['arch'].upper()} on {setup['dataset']}"
    where += f" ({setup['note']})" if setup["note"] else ""
    if held:
        verdict = "The claim held in this run: accuracy rises at every stage as the gates are learned."
    elif gain > 0:
        verdict = (
            f"The claim held only in part: the last stage beats stage 0 by {gain:.2f} points, but accuracy "
            f"fell at stage{'s' * (len(falls) > 1)} {', '.join(map(str, falls))}."
        )
    else:
        verdict = f"The claim did NOT hold in this run: the last stage is {gain:+.2f} points from stage 0."
    text = (
        f"{where}: FLNPF test accuracy per stage {' → '.join(f'{a:.2f}' for a in acc)} % (ReLU epochs "
        f"{', '.join(str(r['relu_epochs']) for r in setup['stages'])}); the ReLU net reaches {relu:.2f} %. "
        f"Stage 0 (frozen random gates) is {_gap(gap0)} the ReLU net, the last stage {_gap(gap1)} it. "
        + verdict
    )
    if is_paper_setup(setup):
        ours = {r["stage"]: r["best_test_acc"] for r in setup["stages"]}
        both = [s for s in ours if s in PAPER_STAGES]
        pairs = [f"stage {s} {ours[s]:.2f} vs {'≈' * (s in PAPER_APPROX)}{PAPER_STAGES[s]:.2f}" for s in both]
        text += " Best-epoch accuracy beside the paper's: " + ", ".join(pairs)
        text += f" (paper ReLU {PAPER_RELU})."
    return held, text


def summary(results: dict) -> str:
    return "\n\n".join(outcome(s)[1] for s in results["setups"].values())


def plot(results: dict, out: Path) -> list[Path]:
    setups = results["setups"]
    fig = Figure(figsize=(6.2 * len(setups), 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(setups), squeeze=False)[0])
    paper_shown = False
    for ax, s in zip(axes, setups.values()):
        st = s["stages"]
        x = [r["stage"] for r in st]
        ax.plot(
            x, [r["test_acc"] for r in st], "o-", color="C0", label="FLNPF on the stage's gates (last epoch)"
        )
        ax.plot(
            x, [r["best_test_acc"] for r in st], "s:", color="C0", alpha=0.6, ms=4, label="FLNPF, best epoch"
        )
        shown = [r["test_acc"] for r in st] + [r["best_test_acc"] for r in st] + [s["relu_test_acc"]]
        if is_paper_setup(s):
            shown += [*PAPER_STAGES.values(), PAPER_RELU]
        lo, hi = min(shown) - 2.0, max(shown) + 1.5  # an untrained net's ~10 % would squash the FLNPF curve
        relu_at = [r["relu_stage_acc"] for r in st]
        clipped = sum(a < lo for a in relu_at)
        note = f" ({clipped} below the axis)" if clipped else ""
        ax.plot(x, relu_at, "^--", color="C1", alpha=0.8, label=f"ReLU net at that stage{note}")
        ax.set_ylim(lo, hi)
        ax.axhline(
            s["relu_test_acc"], color="C3", ls="--", label=f"ReLU net, final ({s['relu_test_acc']:.2f} %)"
        )
        if is_paper_setup(s):
            paper_shown = True
            px = sorted(PAPER_STAGES)
            ax.plot(
                px, [PAPER_STAGES[k] for k in px], "D-", color="k", alpha=0.6, label="NPF paper (mean of 5)"
            )
            ax.axhline(PAPER_RELU, color="k", ls="--", alpha=0.5, label=f"paper ReLU {PAPER_RELU}")
            ax.axhline(PAPER_CNTK, color="k", ls=":", alpha=0.5, label=f"CNTK {PAPER_CNTK}")
        ticks = [f"{r['stage']}\n({r['relu_epochs']} ep)" for r in st]
        ax.set_xticks(x, ticks)
        where = f"{s['arch'].upper()} on {s['dataset']}"
        xlabel = "stage (ReLU epochs before the gates were copied)"
        ax.set(xlabel=xlabel, ylabel="test accuracy (%)", title=where)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    title = (
        f"Continuous NPF learning: gates of a ReLU net copied into a fresh DGN (value network trained "
        f"{results['flnpf_epochs']} epoch{'s' * (results['flnpf_epochs'] != 1)}) after each stage"
    )
    fig.suptitle(title + (f"\nthis run: {style.preset_label(out)}" if paper_shown else ""))
    return [save_figure(fig, out / "figures" / "stages.png")]
