"""Run experiments: configs from presets and overrides, run folders, seeds, resume.

A run folder holds ``config.json`` (experiment, preset, overrides, full config), ``env.json``
(versions, git commit, device, seed, command), ``status.json``, ``metrics.jsonl`` (per-epoch
records), ``results.json``, ``results.csv``, ``report.md`` and ``figures/*.png``. With several seeds
each seed runs in ``seed-<s>/`` and the top folder holds the mean ± std tables.

Configs are built by :mod:`neuralpaths.config` (presets, config files, typed overrides).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import experiments, report
from .config import (  # noqa: F401 (re-exported: the runner is where scripts look for them)
    coerce,
    make_config,
    parse_grid,
    parse_overrides,
    presets,
    read_config_file,
)
from .errors import ConfigError, UserError
from .experiments.common import Experiment, num_threads
from .io import append_jsonl, atomic_write_json, metrics_logger, read_json, to_json, write_rows_csv  # noqa: F401 (metrics_logger re-exported)
from .progress import progress_disabled

PRESET_NAMES = ("default", "smoke", "paper")


# --- run folders --------------------------------------------------------------------------------
def git_commit() -> dict[str, Any]:
    """Commit of the source tree the package runs from (``unknown`` outside a git checkout)."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=here, capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    return {"commit": commit or "unknown", "dirty": dirty}


def environment(seed: int) -> dict[str, Any]:
    import matplotlib
    import scipy

    from . import __version__

    cuda = torch.cuda.is_available()
    return {
        "seed": seed,
        "neuralpaths": __version__,
        "git": git_commit(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _prepare_dir(out: Path, config_record: dict) -> None:
    """Create ``out`` (refusing to mix with a different earlier run) and check it is writable."""
    previous = out / "config.json"
    if previous.exists():
        old, new = read_json(previous), json.loads(to_json(config_record))
        was = old.get("config") or {}
        # settings added to an experiment since the run started take their defaults: still the same run
        same = set(was) <= set(new["config"]) and all(new["config"][k] == v for k, v in was.items())
        if not same or old.get("experiment") != new["experiment"]:
            raise UserError(
                f"{out} already holds a different run; use `neuralpaths resume {out}` or choose another --out"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise UserError(f"cannot write to {out}: {e.strerror or e}") from None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeds the global RNG third-party code may use)
    torch.manual_seed(seed)


def _status(out: Path, state: str, **extra: Any) -> None:
    atomic_write_json(
        out / "status.json", {"state": state, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}
    )


def _run_one(experiment: Experiment, cfg: Any, out: Path, record: dict) -> dict:
    _prepare_dir(out, record)
    atomic_write_json(out / "config.json", record)
    threads = getattr(cfg, "threads", 0)  # a Config field `threads` (0: PyTorch's default)
    atomic_write_json(
        out / "env.json", {**environment(cfg.seed), "torch_threads": threads or torch.get_num_threads()}
    )
    _status(out, "running")
    seed_everything(cfg.seed)
    start = time.perf_counter()
    try:
        with num_threads(threads):
            results = experiment.run(cfg, out)
    except BaseException as e:
        _status(out, "failed", error=f"{type(e).__name__}: {e}")
        raise
    results = {
        "experiment": experiment.name,
        "seed": cfg.seed,
        **results,
        "seconds": time.perf_counter() - start,
    }
    atomic_write_json(out / "results.json", results)
    finish(experiment, results, out)
    _status(out, "done", seconds=results["seconds"])
    return results


def finish(experiment: Experiment, results: dict, out: Path) -> None:
    """Figures, results.csv and report.md from saved results (also used by ``plot``)."""
    figures = experiment.plot(results, out) or []
    tables = experiment.tables(results)
    if tables:
        write_rows_csv(out / "results.csv", next(iter(tables.values())))
    report.write_report(out, experiment, results, tables, figures)


def default_out(name: str, preset: str) -> Path:
    return Path("runs") / name / f"{time.strftime('%Y%m%d-%H%M%S')}-{preset}"


def run_experiment(
    name: str,
    preset: str = "default",
    overrides: Mapping[str, Any] | None = None,
    seeds: Iterable[int] | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    config_file: str | os.PathLike | None = None,
) -> Path:
    """Run experiment ``name`` and return its run folder (see module docstring)."""
    experiment = experiments.get(name)
    merged = {**(read_config_file(config_file) if config_file else {}), **dict(overrides or {})}
    cfg = make_config(experiment, preset, merged)
    out = Path(out) if out is not None else default_out(name, preset)
    seeds = list(seeds) if seeds is not None else [cfg.seed]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds has repeats: {seeds}")
    record = {"experiment": name, "preset": preset, "overrides": merged, "seeds": seeds}
    with progress_disabled() if not progress else nullcontext():
        if len(seeds) == 1:
            cfg = dataclasses.replace(cfg, seed=seeds[0])
            _run_one(experiment, cfg, out, {**record, "config": dataclasses.asdict(cfg)})
            return out
        _prepare_dir(out, {**record, "config": dataclasses.asdict(cfg)})
        atomic_write_json(out / "config.json", {**record, "config": dataclasses.asdict(cfg)})
        atomic_write_json(out / "env.json", environment(cfg.seed))
        per_seed = {}
        for s in seeds:
            cfg_s = dataclasses.replace(cfg, seed=s)
            per_seed[s] = _run_one(
                experiment, cfg_s, out / f"seed-{s}", {**record, "config": dataclasses.asdict(cfg_s)}
            )
        write_seed_summary(experiment, out, per_seed)
    return out


def write_seed_summary(experiment: Experiment, out: Path, per_seed: dict[int, dict]) -> None:
    """Mean ± std over seeds of every table, with the per-seed reports linked."""
    per_table = [experiment.tables(r) for r in per_seed.values()]
    agg = {title: report.aggregate_rows([t[title] for t in per_table]) for title in per_table[0]}
    summary = {"experiment": experiment.name, "seeds": list(per_seed), "aggregate_tables": agg}
    atomic_write_json(out / "results.json", summary)
    if agg:
        write_rows_csv(out / "results.csv", next(iter(agg.values())))
    report.write_seed_report(out, experiment, summary)
    _status(out, "done", seeds=list(per_seed))


def load_run(run_dir: str | os.PathLike) -> tuple[Experiment, dict, Path]:
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise UserError(f"{run_dir} is not a run folder (no config.json)")
    record = read_json(run_dir / "config.json")
    return experiments.get(record["experiment"]), record, run_dir


def resume(run_dir: str | os.PathLike, progress: bool = True) -> Path:
    """Continue an interrupted run in place: finished work is loaded from its checkpoints."""
    _, record, run_dir = load_run(run_dir)
    return run_experiment(
        record["experiment"], record["preset"], record["overrides"], record.get("seeds"), run_dir, progress
    )


def replot(run_dir: str | os.PathLike) -> list[Path]:
    """Redraw figures and the report from saved results, without retraining."""
    experiment, _, run_dir = load_run(run_dir)
    if not (run_dir / "results.json").exists():
        raise UserError(
            f"{run_dir} has no results.json yet (unfinished run? try `neuralpaths resume {run_dir}`)"
        )
    results = read_json(run_dir / "results.json")
    if "aggregate_tables" in results:
        for s in results["seeds"]:
            replot(run_dir / f"seed-{s}")
        report.write_seed_report(run_dir, experiment, results)
        return sorted((run_dir).glob("seed-*/figures/*.png"))
    finish(experiment, results, run_dir)
    return sorted((run_dir / "figures").glob("*.png"))


def show(run_dir: str | os.PathLike) -> str:
    """The run's tables as text."""
    experiment, record, run_dir = load_run(run_dir)
    if not (run_dir / "results.json").exists():
        raise UserError(
            f"{run_dir} has no results.json yet (unfinished run? try `neuralpaths resume {run_dir}`)"
        )
    results = read_json(run_dir / "results.json")
    tables = results["aggregate_tables"] if "aggregate_tables" in results else experiment.tables(results)
    head = f"{record['experiment']} ({record['preset']} preset) — {run_dir}\n"
    return head + "\n".join(f"\n{title}\n{report.text_table(rows)}" for title, rows in tables.items())


# --- sweeps ---------------------------------------------------------------------------------------
def sweep(
    name: str,
    grid: Mapping[str, list[Any]],
    preset: str = "default",
    overrides: Mapping[str, Any] | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """Run every combination of ``grid`` (one run folder each) and write one combined table."""
    import itertools

    experiment = experiments.get(name)
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    for combo in combos:  # validate everything before running anything
        make_config(experiment, preset, {**dict(overrides or {}), **combo})
    out = Path(out) if out is not None else Path("runs") / name / f"{time.strftime('%Y%m%d-%H%M%S')}-sweep"
    rows = []
    for combo in combos:
        label = ",".join(f"{k}={report._cli_value(v)}" for k, v in combo.items()).replace("/", "_")
        run_dir = run_experiment(
            name, preset, {**dict(overrides or {}), **combo}, out=out / label, progress=progress
        )
        tables = experiment.tables(read_json(run_dir / "results.json"))
        first = next(iter(tables.values()), [])
        rows += [{**{k: report._cli_value(v) for k, v in combo.items()}, **r} for r in first]
    write_rows_csv(out / "sweep.csv", rows)
    text = f"# {name} sweep ({preset} preset)\n\n" + report.markdown_table(rows)
    report.atomic_write_text(out / "report.md", text)
    return out
