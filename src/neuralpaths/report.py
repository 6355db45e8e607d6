"""Tables (Markdown, text, mean ± std over seeds) and the run report ``report.md``.

Tables are lists of row dicts. A numeric column ``c`` with a companion ``c_std`` is shown as
``mean ± std``.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .io import atomic_write_text, read_json


def fmt(value: Any) -> str:
    """A cell: floats to 4 significant digits (1 decimal from 100 up), None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def _columns(rows: Sequence[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return [c for c in cols if not (c.endswith("_std") and c[:-4] in cols)]


def _cell(row: dict, col: str) -> str:
    v = row.get(col)
    std = row.get(f"{col}_std")
    if std is not None and isinstance(v, (int, float)):
        return f"{fmt(v)} ± {fmt(std)}"
    return fmt(v)


def markdown_table(rows: Sequence[dict]) -> str:
    if not rows:
        return "_(empty)_\n"
    cols = _columns(rows)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_cell(r, c) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def text_table(rows: Sequence[dict]) -> str:
    if not rows:
        return "(empty)\n"
    cols = _columns(rows)
    cells = [[_cell(r, c) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda items: "  ".join(s.ljust(w) for s, w in zip(items, widths)).rstrip()
    return "\n".join([line(cols), line("-" * w for w in widths), *(line(r) for r in cells)]) + "\n"


def aggregate_rows(tables: Sequence[Sequence[dict]]) -> list[dict]:
    """Row-wise mean and std over seeds: numeric ``c`` -> ``c`` (mean) and ``c_std`` (sample std);
    other cells are taken from the first seed."""
    out = []
    for rows in zip(*tables):
        agg: dict[str, Any] = {}
        for key in rows[0]:
            vals = [r.get(key) for r in rows]
            numeric = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if len(numeric) == len(vals) and not key.endswith("_std"):
                agg[key] = statistics.fmean(numeric)
                agg[f"{key}_std"] = statistics.stdev(numeric) if len(numeric) > 1 else 0.0
            elif not key.endswith("_std"):
                agg[key] = vals[0]
        agg["seeds"] = len(rows)
        out.append(agg)
    return out


def _run_header(out: Path, experiment: Any) -> list[str]:
    record = read_json(out / "config.json") if (out / "config.json").exists() else {}
    env = read_json(out / "env.json") if (out / "env.json").exists() else {}
    sets = " ".join(f"--set {k}={_cli_value(v)}" for k, v in record.get("overrides", {}).items())
    seeds = record.get("seeds") or []
    seed_arg = f" --seeds {','.join(map(str, seeds))}" if len(seeds) > 1 else ""
    preset = record.get("preset", "default")
    cmd = f"neuralpaths run {experiment.name} --preset {preset}{seed_arg} {sets}".strip()
    git = env.get("git", {})
    lines = [
        f"# {experiment.name}: {experiment.description}",
        "",
        f"- reproduce: `{cmd}`",
        f"- preset: `{record.get('preset', '?')}`, seeds: {seeds or '?'}",
    ]
    if env:
        commit = git.get("commit", "unknown")[:12] + (" (modified)" if git.get("dirty") else "")
        lines.append(
            f"- neuralpaths {env.get('neuralpaths')} at commit `{commit}`, torch {env.get('torch')}, "
            f"python {env.get('python')}, device {env.get('device')}, {env.get('torch_threads')} threads"
        )
    return [*lines, ""]


def _cli_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))
    return str(v).lower() if isinstance(v, bool) else str(v)


def write_report(
    out: Path, experiment: Any, results: dict, tables: dict[str, list[dict]], figures: Sequence[Path]
) -> Path:
    """``report.md``: header, the experiment's summary, tables, figures, configuration (``experiment``:
    its declaration, ``neuralpaths.experiments.common.Experiment``)."""
    lines = _run_header(out, experiment)
    if "seconds" in results:
        lines[-1:] = [f"- time: {results['seconds']:.1f} s", ""]
    if experiment.summary is not None:
        lines += ["## Summary", "", experiment.summary(results).strip(), ""]
    for title, rows in tables.items():
        lines += [f"## {title}", "", markdown_table(rows)]
    if figures:
        lines += ["## Figures", ""]
        for f in figures:
            rel = Path(os.path.relpath(Path(f).resolve(), out.resolve())).as_posix()
            lines += [f"![{Path(f).stem}]({rel})", ""]
    record = read_json(out / "config.json") if (out / "config.json").exists() else {}
    if record.get("config"):
        rows = [{"key": k, "value": _cli_value(v)} for k, v in record["config"].items()]
        lines += ["## Configuration", "", markdown_table(rows)]
    return atomic_write_text(out / "report.md", "\n".join(lines))


def write_seed_report(out: Path, experiment: Any, summary: dict) -> Path:
    """Top-level report of a multi-seed run: mean ± std tables, links to each seed's report."""
    lines = _run_header(out, experiment)
    for title, rows in summary["aggregate_tables"].items():
        lines += [f"## {title} (mean ± std over {len(summary['seeds'])} seeds)", "", markdown_table(rows)]
    lines += ["## Per-seed reports", ""]
    lines += [f"- [seed {s}](seed-{s}/report.md)" for s in summary["seeds"]]
    first = out / f"seed-{summary['seeds'][0]}" / "figures"
    if first.exists():
        lines += ["", f"## Figures (seed {summary['seeds'][0]})", ""]
        lines += [f"![{p.stem}]({p.relative_to(out).as_posix()})\n" for p in sorted(first.glob("*.png"))]
    return atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
