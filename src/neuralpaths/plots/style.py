"""Conventions every experiment's figures share: integer epoch axes, plain numbers on log axes, bars
measured from zero, the run's preset named on figures that compare with a paper, and mean ± std over
seeds drawn as error bars.

Shape:
    ``per_seed`` arrays are ``(seeds, points)``: one row per seed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, MaxNLocator

from ..report import cli_value


def plain_number(value: float) -> str:
    """A tick label without powers of ten where one is not needed: ``2``, ``0.002``, ``1500``
    (``1e-05`` / ``1e+06`` outside ``[1e-4, 1e6)``)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if 1e-4 <= abs(value) < 1e6:
        return np.format_float_positional(value, precision=6, trim="-")
    return f"{value:g}"


class PlainLogFormatter(LogFormatterSciNotation):
    """Labels the ticks matplotlib's log formatter would label (decades, and minor ticks on short
    ranges), written as plain numbers (``2``, not ``2×10⁰``)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return plain_number(x) if super().__call__(x, pos) else ""


def integer_ticks(ax: Axes, axis: str = "x") -> None:
    """Integer ticks only (epochs, counts) on ``axis`` (``"x"``, ``"y"`` or ``"both"``)."""
    for name in ("x", "y") if axis == "both" else (axis,):
        getattr(ax, f"{name}axis").set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def plain_log_ticks(ax: Axes, axis: str = "both") -> None:
    """Plain tick labels on the log-scaled ``axis`` (``"x"``, ``"y"`` or ``"both"``); a linear axis
    gets plain labels without an offset or a ×10ⁿ multiplier."""
    for name in ("x", "y") if axis == "both" else (axis,):
        a = getattr(ax, f"{name}axis")
        if a.get_scale() == "log":
            a.set_major_formatter(PlainLogFormatter(labelOnlyBase=False))
            a.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1.0, 0.4)))
        else:
            a.set_major_formatter(FuncFormatter(lambda v, _: plain_number(v)))


def bars_from_zero(
    ax: Axes, values: Sequence[float], top: float | None = None, headroom: float = 0.12
) -> None:
    """A bar chart's value axis from 0 (bars are read by their length) up to ``top`` or the largest
    value plus ``headroom`` of it (room for labels). Negative values extend the axis below 0."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    hi = float(v.max()) if v.size else 1.0
    lo = min(0.0, float(v.min()) if v.size else 0.0)
    ax.set_ylim(lo * (1 + headroom), top if top is not None else max(hi * (1 + headroom), 1e-12))


def run_record(out: str | os.PathLike) -> dict[str, Any]:
    """The run's ``config.json`` (experiment, preset, overrides, seeds, config), or ``{}`` outside a
    run folder."""
    path = Path(out) / "config.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def preset_label(out: str | os.PathLike) -> str:
    """How a figure names the run it shows: ``"default preset"``, ``"smoke preset, --set epochs=3"``
    (``"run settings unknown"`` outside a run folder). Figures that set the run beside a paper's
    numbers carry it, so a smoke run is never read as a replication."""
    record = run_record(out)
    preset = record.get("preset")
    if not isinstance(preset, str):
        return "run settings unknown"
    overrides = record.get("overrides") or {}
    sets = [f"{k}={_short(v)}" for k, v in overrides.items()] if isinstance(overrides, dict) else []
    text = f"{preset} preset"
    if sets:
        shown = ", ".join(sets[:3]) + (", …" if len(sets) > 3 else "")
        text += f", --set {shown}"
    return text


def _short(value: Any, limit: int = 24) -> str:
    """An override's value as a title shows it: a path by its last part, long text cut at ``limit``."""
    text = cli_value(value)
    if "/" in text.rstrip("/"):
        text = "…/" + Path(text.rstrip("/")).name
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mean_std(per_seed: Sequence[Sequence[float]] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample standard deviation over seeds (std 0 for one seed).

    Shape:
        ``(seeds, points) -> (points,), (points,)``
    """
    a = np.asarray(per_seed, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    std = a.std(axis=0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1])
    return a.mean(axis=0), std


def seed_curve(ax: Axes, x: Sequence[float], per_seed: Sequence[Sequence[float]], **plot_kw: Any) -> None:
    """The mean over seeds as a line with ± one std as error bars and a light band.

    Shape:
        ``x: (points,)``, ``per_seed: (seeds, points)``; rows of unequal length are cut to the shortest.
    """
    n = min(len(x), *(len(r) for r in per_seed))
    mean, std = mean_std([list(r)[:n] for r in per_seed])
    xs = np.asarray(x, dtype=float)[:n]
    every = max(1, n // 12)  # error bars on at most ~12 points; the band shows the rest
    bars = ax.errorbar(xs, mean, yerr=std, capsize=2, ms=3, errorevery=every, **{"marker": "o", **plot_kw})
    color = bars[0].get_color()
    ax.fill_between(xs, mean - std, mean + std, color=color, alpha=0.15, lw=0)


def seed_bars(
    ax: Axes, labels: Sequence[str], per_seed: Sequence[Sequence[float]], *, top: float | None = None
) -> None:
    """One bar per label: mean over seeds with ± one std error bars and the value written on it, the
    axis from zero.

    Shape:
        ``per_seed: (seeds, len(labels))``.
    """
    mean, std = mean_std(per_seed)
    xs = np.arange(len(labels))
    ax.bar(xs, mean, yerr=std, capsize=4, color=[f"C{i % 10}" for i in range(len(labels))])
    label_error_bars(ax, xs, mean, std)
    ax.set_xticks(xs, list(labels))
    bars_from_zero(ax, list(mean + std), top=top)


def label_error_bars(ax: Axes, xs: Sequence[float], mean: Sequence[float], std: Sequence[float]) -> None:
    """``mean ± std`` written just above each error bar's top, where it cannot hide the cap.

    Shape:
        ``xs, mean, std: (bars,)``.
    """
    for x, m, s in zip(xs, mean, std):
        ax.annotate(
            f"{m:.3g} ± {s:.2g}",
            (x, m + s),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=7,
        )
