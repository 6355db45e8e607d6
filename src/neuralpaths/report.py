"""Tables (Markdown, text, mean ± std over seeds) and the run report ``report.md``.

Tables are lists of row dicts. A numeric column ``c`` with a companion ``c_std`` is shown as
``mean ± std``.
"""

from __future__ import annotations

import math
import os
import re
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


# --- sentences chosen by the measured outcome ------------------------------------------------------
def gap_phrase(
    diff: float,
    *,
    unit: str = "points",
    digits: int = 2,
    more: str = "above",
    less: str = "below",
    same: str = "level with",
) -> str:
    """``"6.77 points above"`` / ``"6.77 points below"`` by the sign of ``diff`` (never a negative
    size); ``same`` when ``diff`` rounds to zero at ``digits`` decimals."""
    if round(abs(diff), digits) == 0:
        return same
    return f"{abs(diff):.{digits}f} {unit} {more if diff > 0 else less}".replace("  ", " ")


def compare(
    subject: str,
    other: str,
    diff: float,
    *,
    unit: str = "points",
    digits: int = 2,
    ahead: str = "beats",
    behind: str = "trails",
    tie: str = "matches",
) -> str:
    """``"A beats B by 6.77 points"`` or ``"A trails B by 6.77 points"``, the verb chosen by the sign
    of ``diff`` = A − B; ``"A matches B (difference below 0.005 points)"`` when it rounds to zero."""
    if round(abs(diff), digits) == 0:
        return f"{subject} {tie} {other} (difference below {0.5 * 10**-digits:g} {unit})"
    return f"{subject} {ahead if diff > 0 else behind} {other} by {abs(diff):.{digits}f} {unit}"


def bracket(xs: Sequence[float], ys: Sequence[float]) -> list[tuple[float, float]]:
    """The measured neighbours ``(x_i, x_{i+1})`` between which ``ys`` changes sign: where a crossing
    lies, without claiming a point inside the interval the data did not measure."""
    out = []
    for i in range(len(ys) - 1):
        if ys[i] * ys[i + 1] < 0:
            out.append((xs[i], xs[i + 1]))
    return out


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


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _same(values: Sequence[Any]) -> bool:
    """All equal, numbers up to rounding noise (relative 1e-9)."""
    return all(math.isclose(v, values[0], rel_tol=1e-9, abs_tol=1e-12) for v in values[1:])


def _metric_columns(rows_by_seed: Sequence[Sequence[dict]]) -> set[str]:
    """Columns holding a number (or nothing) in every row of every seed and differing between seeds
    in at least one row: the measured metrics. Numbers equal in every seed (parameter counts, sizes)
    and text are identifying columns, shown once."""
    keys = {k for rows in zip(*rows_by_seed) for r in rows for k in r if not k.endswith("_std")}
    metrics = set()
    for key in keys:
        cells = [[r.get(key) for r in rows] for rows in zip(*rows_by_seed)]
        flat = [v for row in cells for v in row]
        if all(v is None or _is_number(v) for v in flat) and any(_is_number(v) for v in flat):
            if any(not _same([v for v in row if v is not None]) for row in cells):
                metrics.add(key)
    return metrics


def aggregate_rows(tables: Sequence[Sequence[dict]]) -> list[dict]:
    """Row-wise mean and sample std over seeds of the numeric metric columns (``c`` -> ``c`` and
    ``c_std``); a column equal in every seed (names, parameter counts, settings) is shown once, as
    it is; text that differs between seeds reads ``"varies by seed"``.

    ``tables`` holds one table (list of row dicts) per seed; rows are matched by position.
    """
    metrics = _metric_columns(tables)
    out = []
    for rows in zip(*tables):
        agg: dict[str, Any] = {}
        for key in rows[0]:
            if key.endswith("_std"):
                continue
            vals = [r.get(key) for r in rows]
            if key in metrics:
                numeric = [float(v) for v in vals if _is_number(v)]
                agg[key] = statistics.fmean(numeric) if numeric else None
                spread = len(numeric) > 1 and not _same(numeric)
                agg[f"{key}_std"] = statistics.stdev(numeric) if spread else 0.0
            elif all(v == vals[0] for v in vals):
                agg[key] = vals[0]
            else:
                agg[key] = "varies by seed"
        out.append(agg)
    return out


def flatten_rows(rows: Sequence[dict]) -> dict[str, Any]:
    """The numbers of a table as one row: column ``c`` of a one-row table stays ``c``; with several
    rows it becomes ``"<row> c"``, the row named by its text cells (``"mlp trace"``) or its position.
    A ``c_std`` companion follows its column (shown as ``mean ± std``)."""
    from .plots.seeds import row_label

    names = [row_label(r, "") for r in rows]
    flat: dict[str, Any] = {}
    for i, (row, name) in enumerate(zip(rows, names)):
        name = name if name != "row" and names.count(name) == 1 else f"row {i + 1}"
        for key, value in row.items():
            if _is_number(value) and not key.endswith("_std"):
                column = key if len(rows) == 1 else f"{name} {key}"
                flat[column] = value
                if _is_number(row.get(f"{key}_std")):
                    flat[f"{column}_std"] = row[f"{key}_std"]
    return flat


def _run_header(out: Path, experiment: Any) -> list[str]:
    record = read_json(out / "config.json") if (out / "config.json").exists() else {}
    env = read_json(out / "env.json") if (out / "env.json").exists() else {}
    sets = " ".join(f"--set {k}={cli_value(v)}" for k, v in record.get("overrides", {}).items())
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


def cli_value(v: Any) -> str:
    """A config value as ``--set KEY=VALUE`` writes it (lists comma-joined, booleans lower case)."""
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))
    return str(v).lower() if isinstance(v, bool) else str(v)


def _rel(path: str | os.PathLike, out: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), Path(out).resolve())).as_posix()


def write_report(
    out: Path, experiment: Any, results: dict, tables: dict[str, list[dict]], figures: Sequence[Path]
) -> Path:
    """``report.md``: header, the experiment's summary, tables, figures, configuration (``experiment``:
    its declaration, ``neuralpaths.experiments.common.Experiment``). The summary sees ``results`` with
    the run's ``preset`` added, so a sentence comparing with a paper can name it."""
    lines = _run_header(out, experiment)
    if "seconds" in results:
        lines[-1:] = [f"- time: {results['seconds']:.1f} s", ""]
    if experiment.summary is not None:
        record = read_json(out / "config.json") if (out / "config.json").exists() else {}
        seen = {**results, "preset": results.get("preset", record.get("preset", "unknown"))}
        lines += ["## Summary", "", experiment.summary(seen).strip(), ""]
    for title, rows in tables.items():
        lines += [f"## {title}", "", markdown_table(rows)]
    if figures:
        lines += ["## Figures", ""]
        for f in figures:
            lines += [f"![{Path(f).stem}]({_rel(f, out)})", ""]
    record = read_json(out / "config.json") if (out / "config.json").exists() else {}
    if record.get("config"):
        rows = [{"key": k, "value": cli_value(v)} for k, v in record["config"].items()]
        lines += ["## Configuration", "", markdown_table(rows)]
    return atomic_write_text(out / "report.md", "\n".join(lines))


def write_seed_report(out: Path, experiment: Any, summary: dict) -> Path:
    """Top-level report of a multi-seed run: mean ± std tables, figures with error bars over seeds
    (the experiment's ``plot_seeds`` if it declares one, else the first table's main metric), links
    to each seed's report."""
    from .plots.seeds import aggregate_figure

    seeds = summary["seeds"]
    lines = _run_header(out, experiment)
    for title, rows in summary["aggregate_tables"].items():
        if any(k.endswith("_std") for r in rows for k in r):
            note = f"mean ± std over {len(seeds)} seeds; columns without ± held the same value in every seed"
        else:
            note = f"{len(seeds)} seeds; no number in it differed between seeds"
        lines += [f"## {title} ({note})", "", markdown_table(rows)]
    figures: list[Path] = []
    hook = getattr(experiment, "plot_seeds", None)
    per_seed = {s: read_json(out / f"seed-{s}" / "results.json") for s in seeds}
    if hook is not None and per_seed:
        figures += list(hook(per_seed, out) or [])
    if hook is None and summary["aggregate_tables"]:
        title, rows = next(iter(summary["aggregate_tables"].items()))
        path = aggregate_figure(title, rows, len(seeds), out / "figures" / "seeds_mean_std.png")
        figures += [path] if path is not None else []
    if figures:
        lines += ["", f"## Figures (mean ± std over {len(seeds)} seeds)", ""]
        lines += [f"![{Path(p).stem}]({_rel(p, out)})\n" for p in figures]
    failed = summary.get("failed") or {}
    if failed:
        lines += ["## Failed seeds (not in the tables above; `neuralpaths resume` runs them again)", ""]
        lines += [f"- `{label}`: {error}" for label, error in failed.items()] + [""]
    lines += ["## Per-seed reports (each with its own figures)", ""]
    lines += [f"- [seed {s}](seed-{s}/report.md)" for s in seeds]
    return atomic_write_text(out / "report.md", "\n".join(lines) + "\n")


def data_sizes(summary: str) -> dict[str, int]:
    """``{"train": 200, "val": 0, "test": 2010}`` from a data summary line
    (:meth:`neuralpaths.data.Splits.summary`: ``"name: train 200, val 0, test 2010; ..."``); the
    sizes it does not state are left out."""
    return {k: int(v) for k, v in re.findall(r"\b(train|val|test) (\d+)\b", summary)}
