"""Sweeps: every combination of a grid of config values, one run folder (trial) each, in one sweep
folder with ``sweep.json`` (experiment, preset, overrides, grid), ``status.json``, ``sweep.csv``
(the first table of every trial, grid values first), ``points.csv`` (one row per grid point: its
state and metrics) and ``report.md``; with a ``seed`` axis in the grid, the report adds the mean ±
std over seeds of every other grid point, and its figure with error bars. ``neuralpaths show`` and
``neuralpaths plot`` read a sweep folder back through the same tables (:mod:`neuralpaths.runs`).

Trials run one at a time, in worker processes or on Ray (:mod:`neuralpaths.parallel`); a failed
trial leaves the others to finish and is listed in the report. ``neuralpaths resume SWEEP`` keeps
finished trials and runs the others (failed, interrupted or not started) again.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import experiments, report
from .config import make_config, presets
from .errors import ConfigError, RunFolderError, UserError
from .io import atomic_write_json, write_rows_csv
from .parallel import Outcome, TrialsFailed, check_executor, failure_message, run_trials
from .runfolder import (
    MAX_RESULTS_BYTES,
    RunLock,
    check_inside,
    claim,
    make_folder,
    read_record,
    read_small_json,
)
from .runner import SWEEP_RECORD, _status, check_config, finished, make_trial


def label_of(combo: Mapping[str, Any]) -> str:
    """The trial folder of a grid point: ``n=4,widths=3,3``."""
    return ",".join(f"{k}={report.cli_value(v)}" for k, v in combo.items()).replace("/", "_")


def combinations(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def sweep(
    name: str,
    grid: Mapping[str, list[Any]],
    preset: str = "default",
    overrides: Mapping[str, Any] | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    *,
    jobs: int = 1,
    ray: str | None = None,
    resume: bool = False,
) -> Path:
    """Run every combination of ``grid`` (one run folder each) and write the sweep's tables; with
    ``resume=True`` (what ``neuralpaths resume`` passes) finished trials are kept. Raises
    :class:`~neuralpaths.parallel.TrialsFailed` after the report when some trials failed."""
    experiment = experiments.get(name)
    check_executor(jobs, ray)
    overrides = dict(overrides or {})
    points = [
        (combo, make_config(experiment, preset, {**overrides, **combo})) for combo in combinations(grid)
    ]
    for _, cfg in points:  # validate everything before running anything
        check_config(experiment, cfg, ray)
    if len({label_of(c) for c, _ in points}) != len(points):
        raise ConfigError("the grid repeats a value (two grid points would share a folder); list each once")
    out = Path(out) if out is not None else Path("runs") / name / f"{time.strftime('%Y%m%d-%H%M%S')}-sweep"
    if not resume and out.exists() and (not out.is_dir() or any(out.iterdir())):
        if (out / SWEEP_RECORD).is_file():
            raise RunFolderError(
                f"{out} already holds a sweep; continue it with `neuralpaths resume {out}` "
                "or choose another --out"
            )
        raise RunFolderError(f"{out} already exists and is not empty; choose a new or empty --out")
    record = {"experiment": name, "preset": preset, "overrides": overrides, "grid": dict(grid)}
    with _held_sweep(out):
        atomic_write_json(out / SWEEP_RECORD, record)
        outcomes, trials = {}, []
        for combo, cfg in points:
            trial_dir = out / label_of(combo)
            merged = {**overrides, **combo}
            if resume and finished(trial_dir):
                trial_record = {"experiment": name, "preset": preset, "overrides": merged}
                outcomes[label_of(combo)] = _finished_outcome(trial_dir, trial_record, cfg)
                continue
            trials.append(make_trial(name, preset, merged, cfg, trial_dir, out, resume=resume))
        outcomes.update(run_trials(trials, jobs, ray, progress))
        outcomes = {label_of(c): outcomes[label_of(c)] for c, _ in points}
        failed = write_sweep_report(out, experiment, record, outcomes)
        if failed:
            errors = {label: outcomes[label].error for label in failed}
            _status(out, "failed", failed=failed, errors=errors, resume=f"neuralpaths resume {out}")
        else:
            _status(out, "done", points=len(outcomes))
    if failed:
        raise TrialsFailed(failure_message(outcomes, out))
    return out


def _finished_outcome(trial_dir: Path, record: dict, cfg: Any) -> Outcome:
    """A trial finished in an earlier attempt: its folder checked to be this grid point, its results."""
    read_record(trial_dir)
    claim(trial_dir, {**record, "config": dataclasses.asdict(cfg)}, resume=True)
    results = read_small_json(trial_dir / "results.json", "run's results.json", MAX_RESULTS_BYTES)
    if not isinstance(results, dict):
        raise RunFolderError(f"{trial_dir / 'results.json'} is damaged")
    return Outcome(trial_dir.name, results=results)


@contextmanager
def _held_sweep(out: Path) -> Iterator[None]:
    """Hold the sweep folder's lock; ``status.json`` says running, then what became of it."""
    make_folder(out)
    with RunLock(out):
        check_inside(out)
        _status(out, "running", pid=os.getpid())
        try:
            yield
        except KeyboardInterrupt as e:
            signal = getattr(e, "signal", "SIGINT")
            _status(out, "interrupted", signal=signal, resume=f"neuralpaths resume {out}")
            raise
        except BaseException as e:
            _status(out, "failed", error=f"{type(e).__name__}: {e}"[:500])
            raise


def sweep_tables(experiment: Any, record: dict, outcomes: dict[str, Outcome]) -> dict[str, Any]:
    """What a sweep's report and ``neuralpaths show`` hold, from its trials' outcomes (by label).

    Returns:
        ``points``: one row per grid point (grid values, ``state``, the numbers of its first table,
        ``seconds``; a failed one its ``error``); ``title`` and ``rows``: the first table of every
        finished trial, grid values first; ``over_seeds``: with a ``seed`` axis in the grid, one row
        per point of the other axes with the mean ± std over its finished seeds (``c`` and
        ``c_std``) and their number (else empty); ``failed``: ``{label: error}``.
    """
    combos = {label_of(c): c for c in combinations(record["grid"])}
    long_rows, points, failed, title = [], [], {}, "results"
    for label, outcome in outcomes.items():
        grid_values = {k: report.cli_value(v) for k, v in combos[label].items()}
        if not outcome.ok:
            failed[label] = outcome.error
            points.append({**grid_values, "state": "failed", "error": outcome.error})
            continue
        tables = experiment.tables(outcome.results)
        title, first = next(iter(tables.items()), (title, []))
        long_rows += [{**grid_values, **r} for r in first]
        seconds = outcome.results.get("seconds")
        points.append({**grid_values, "state": "done", **report.flatten_rows(first), "seconds": seconds})
    over = _over_seeds(list(record["grid"]), points) if len(record["grid"].get("seed", [])) > 1 else []
    return {"points": points, "title": title, "rows": long_rows, "over_seeds": over, "failed": failed}


def _over_seeds(axes: list[str], points: list[dict]) -> list[dict]:
    """Mean ± std over the ``seed`` axis of the finished grid points' numbers, per point of the others."""
    others = [k for k in axes if k != "seed"]
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        done = groups.setdefault(tuple(p[k] for k in others), [])
        if p["state"] == "done":
            done.append({k: v for k, v in p.items() if k not in (*axes, "state", "seconds")})
    rows = []
    for key, done in groups.items():
        mean = report.aggregate_rows([[r] for r in done])[0] if done else {}
        rows.append({**dict(zip(others, key)), "seeds": len(done), **mean})
    return rows


def write_sweep_report(out: Path, experiment: Any, record: dict, outcomes: dict[str, Outcome]) -> list[str]:
    """``sweep.csv``, ``points.csv``, ``report.md`` and, with a seed axis, the figure of the mean ±
    std over seeds (``figures/sweep_mean_std.png``); the labels of failed trials."""
    from .plots.seeds import aggregate_figure

    t = sweep_tables(experiment, record, outcomes)
    points, failed = t["points"], t["failed"]
    write_rows_csv(out / "sweep.csv", t["rows"])
    write_rows_csv(out / "points.csv", points)
    lines = [
        f"# {experiment.name} sweep ({record['preset']} preset)",
        "",
        f"- {len(outcomes) - len(failed)} of {len(outcomes)} grid points done"
        + (f"; failed: {', '.join(failed)} (`neuralpaths resume {out}` runs them again)" if failed else ""),
        "",
        "## Grid points (one row each)",
        "",
        report.markdown_table([{k: v for k, v in p.items() if k != "error"} for p in points]),
    ]
    if t["over_seeds"]:
        seeds = len(record["grid"]["seed"])
        lines += [f"## Mean ± std over seeds (of {seeds}; `seeds`: how many finished)", ""]
        lines += [report.markdown_table(t["over_seeds"])]
        title = f"{experiment.name} sweep: {t['title']}"
        axes = ", ".join(k for k in record["grid"] if k != "seed")
        path = aggregate_figure(title, t["over_seeds"], seeds, out / "figures" / "sweep_mean_std.png", axes)
        lines += [f"![{path.stem}]({path.relative_to(out).as_posix()})", ""] if path is not None else []
    if t["rows"]:
        lines += [f"## {t['title']} (every grid point)", "", report.markdown_table(t["rows"])]
    if failed:
        lines += ["## Failed trials", ""]
        lines += [f"- `{label}`: {error}" for label, error in failed.items()] + [""]
    lines += ["## Trial reports", ""] + [f"- [{label}]({label}/report.md)" for label in outcomes]
    report.atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return list(failed)


def read_sweep_record(out: Path) -> dict:
    """``sweep.json`` of a sweep folder, checked: a known experiment and preset, overrides and a grid
    whose every combination is a valid config. Raises :class:`RunFolderError`."""
    path = out / SWEEP_RECORD
    record = read_small_json(path, "sweep record")
    bad = f"{path} is damaged or not a neuralpaths sweep record"
    if not isinstance(record, dict):
        raise RunFolderError(bad)
    name, preset, overrides, grid = (record.get(k) for k in ("experiment", "preset", "overrides", "grid"))
    if not (isinstance(name, str) and isinstance(preset, str) and isinstance(overrides, dict)):
        raise RunFolderError(f"{bad} (experiment, preset or overrides)")
    if not isinstance(grid, dict) or not grid or not all(isinstance(v, list) and v for v in grid.values()):
        raise RunFolderError(f"{bad} (grid)")
    try:
        experiment = experiments.get(name)
        if preset not in presets(experiment):
            raise RunFolderError(f"{bad} (unknown preset {preset[:40]!r})")
        for combo in combinations(grid):
            make_config(experiment, preset, {**overrides, **combo})
    except UserError as e:
        raise RunFolderError(f"{bad}: {e}") from None
    if len({label_of(c) for c in combinations(grid)}) != len(combinations(grid)):
        raise RunFolderError(f"{bad} (grid points share a folder name)")
    return record


def resume_sweep(out: Path, progress: bool = True, *, jobs: int = 1, ray: str | None = None) -> Path:
    """Continue a sweep: finished trials kept, the others run (again)."""
    record = read_sweep_record(out)
    if finished(out):
        return out
    return sweep(
        record["experiment"],
        record["grid"],
        record["preset"],
        record["overrides"],
        out,
        progress,
        jobs=jobs,
        ray=ray,
        resume=True,
    )
