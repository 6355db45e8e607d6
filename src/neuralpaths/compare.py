"""``neuralpaths compare RUN [RUN ...]``: the numeric metrics several runs have in common, side by
side — printed, and written to a folder as ``compare.csv``, ``compare.md`` and ``compare.png`` (one
bar chart per metric, ± std over seeds for multi-seed runs).

A metric is a number in one of a run's tables (a multi-seed run's mean ± std tables), named
``"<table>: <column>"`` (``"<table>: <row> <column>"`` when the table has several rows).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import report, runner
from .errors import RunFolderError, UserError
from .io import atomic_write_text, write_rows_csv
from .plots.seeds import compare_figure

MAX_PANELS = 24  # metrics drawn in the figure (all are printed and written to compare.csv)


def run_metrics(run_dir: Path) -> dict[str, Any]:
    """Every number in the run's tables, by metric name (``name_std`` beside averaged ones)."""
    if runner.is_sweep(run_dir):
        raise UserError(f"{run_dir} is a sweep; compare its grid points' folders (e.g. {run_dir}/*)")
    experiment, record, run_dir = runner.load_run(run_dir)
    results = runner._results(run_dir, record)
    with runner._reading(run_dir / "results.json"):
        tables = results["aggregate_tables"] if "aggregate_tables" in results else experiment.tables(results)
        flat: dict[str, Any] = {}
        for title, rows in tables.items():
            flat.update({f"{title}: {k}": v for k, v in report.flatten_rows(rows).items()})
    return flat


def run_names(run_dirs: Sequence[Path]) -> list[str]:
    """Short names for the runs: folder names, with the parent folder where two would be the same."""
    names = [p.resolve().name for p in run_dirs]
    return [f"{p.resolve().parent.name}/{n}" if names.count(n) > 1 else n for p, n in zip(run_dirs, names)]


def compare_runs(
    run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike | None = None
) -> tuple[str, Path]:
    """The comparison as text, and the folder its files were written to (new or empty)."""
    dirs = [Path(d) for d in run_dirs]
    if len(dirs) < 2:
        raise UserError("compare needs two or more run folders")
    if len({d.resolve() for d in dirs}) != len(dirs):
        raise UserError("compare was given the same run folder twice")
    metrics = [run_metrics(d) for d in dirs]
    names = run_names(dirs)
    common = [k for k in metrics[0] if not k.endswith("_std") and all(k in m for m in metrics[1:])]
    if not common:
        raise UserError(
            "these runs have no numeric metric in common (different experiments or tables?); "
            "compare runs of the same experiment"
        )
    rows = []
    for key in common:
        row: dict[str, Any] = {"metric": key}
        for name, m in zip(names, metrics):
            row[name] = m[key]
            if m.get(f"{key}_std") is not None:
                row[f"{name}_std"] = m[f"{key}_std"]
        rows.append(row)
    out = Path(out) if out is not None else Path.cwd() / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunFolderError(f"{out} already exists and is not empty; choose a new or empty --out")
    values = np.array([[float(m[k]) for m in metrics] for k in common[:MAX_PANELS]])
    stds = np.array([[float(m.get(f"{k}_std") or 0.0) for m in metrics] for k in common[:MAX_PANELS]])
    compare_figure(common[:MAX_PANELS], names, values, stds, out / "compare.png")
    write_rows_csv(out / "compare.csv", rows)
    shown = "" if len(common) <= MAX_PANELS else f" (the figure shows the first {MAX_PANELS})"
    head = f"{len(common)} numeric metrics common to {len(dirs)} runs{shown}"
    runs = "\n".join(f"- {n}: {d}" for n, d in zip(names, dirs))
    text = f"# Comparison\n\n{head}\n\n{runs}\n\n{report.markdown_table(rows)}\n![compare](compare.png)\n"
    atomic_write_text(out / "compare.md", text)
    return f"{head}\n\n{report.text_table(rows)}", out
