"""Figures of a multi-seed run drawn from its mean ± std table: the main metric per row as bars from
zero with ± one std error bars over seeds; and the side-by-side figure of ``neuralpaths compare``
(one panel per common metric, one bar per run)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..io import save_figure
from .style import bars_from_zero, label_error_bars

PREFERRED = ("test_acc", "acc", "error", "nu", "share", "dist")


def main_metric(rows: Sequence[dict]) -> str | None:
    """The column a multi-seed figure shows: the first averaged column (one with a ``_std``
    companion) whose name contains ``test_acc``, else ``acc``, ``error``, ... , else the first
    averaged column; None when no column was averaged."""
    averaged = [k for k in rows[0] if f"{k}_std" in rows[0]] if rows else []
    for word in PREFERRED:
        for k in averaged:
            if word in k:
                return k
    return averaged[0] if averaged else None


def row_label(row: dict, metric: str) -> str:
    """A row's name: its text cells (not the metric) joined, e.g. ``"MNIST, FC / DLGN"``."""
    parts = [str(v) for k, v in row.items() if isinstance(v, str) and k != metric and v != "varies by seed"]
    return " / ".join(parts[:3]) or "row"


def aggregate_figure(
    title: str, rows: Sequence[dict], seeds: int, path: Path, xlabel: str | None = None
) -> Path | None:
    """Bars (from zero) of the main metric of ``rows`` (an aggregate table), mean ± std over
    ``seeds``, saved at ``path`` (``xlabel``: what the bars are, e.g. a sweep's grid axes); None
    (nothing drawn) when the table has no averaged column."""
    metric = main_metric(rows)
    if metric is None:
        return None
    rows = [r for r in rows if isinstance(r.get(metric), (int, float))]
    if not rows:
        return None
    mean = np.array([r[metric] for r in rows], dtype=float)
    std = np.array([r.get(f"{metric}_std") or 0.0 for r in rows], dtype=float)
    fig = Figure(figsize=(max(5.0, 0.9 * len(rows) + 2.5), 4.4), layout="constrained")
    ax = fig.subplots()
    xs = np.arange(len(rows))
    ax.bar(xs, mean, yerr=std, capsize=4, color="C0")
    label_error_bars(ax, xs, mean, std)
    tilt = len(rows) > 4
    ax.set_xticks(
        xs, [row_label(r, metric) for r in rows], rotation=30 if tilt else 0, ha="right" if tilt else "center"
    )
    ax.set_ylabel(metric)
    if xlabel:
        ax.set_xlabel(xlabel)
    bars_from_zero(ax, list(mean + std))
    ax.grid(axis="y", alpha=0.3)
    short = title if len(title) <= 80 else title[:77] + "…"
    ax.set_title(f"{short}\n{metric}: mean ± std over {seeds} seeds", fontsize=9)
    return save_figure(fig, path)


def compare_figure(
    metrics: Sequence[str], runs: Sequence[str], values: np.ndarray, stds: np.ndarray, path: Path
) -> Path:
    """One panel per metric, one bar per run (± std where the run averaged seeds), saved at ``path``.

    Shape:
        ``values, stds: (metrics, runs)``; a std of 0 draws no error bar.
    """
    cols = min(4, len(metrics))
    rows = -(-len(metrics) // cols)
    fig = Figure(figsize=(3.2 * cols, 2.9 * rows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    xs = np.arange(len(runs))
    for ax, metric, mean, std in zip(axes, metrics, values, stds):
        ax.bar(xs, mean, yerr=np.where(std > 0, std, np.nan), capsize=3, color=[f"C{i % 10}" for i in xs])
        ax.set_xticks(xs, [r if len(r) <= 18 else r[:17] + "…" for r in runs], rotation=30, ha="right")
        ax.set_title(metric if len(metric) <= 48 else metric[:47] + "…", fontsize=8)
        bars_from_zero(ax, [*(mean + std), *(mean - std)])
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    fig.suptitle(f"{len(metrics)} metrics common to {len(runs)} runs", fontsize=10)
    return save_figure(fig, path)
