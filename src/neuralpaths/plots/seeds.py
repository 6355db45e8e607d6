"""Figures of a multi-seed run drawn from its mean ± std table: the main metric per row as bars from
zero with ± one std error bars over seeds."""

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


def aggregate_figure(title: str, rows: Sequence[dict], seeds: int, path: Path) -> Path | None:
    """Bars (from zero) of the main metric of ``rows`` (an aggregate table), mean ± std over
    ``seeds``, saved at ``path``; None (nothing drawn) when the table has no averaged column."""
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
    bars_from_zero(ax, list(mean + std))
    ax.grid(axis="y", alpha=0.3)
    short = title if len(title) <= 80 else title[:77] + "…"
    ax.set_title(f"{short}\n{metric}: mean ± std over {seeds} seeds", fontsize=9)
    return save_figure(fig, path)
