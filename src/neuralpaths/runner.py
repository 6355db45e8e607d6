"""Run experiments: configs from presets and overrides, run folders, seeds, resume.

A run folder holds ``config.json`` (experiment, preset, overrides, full config), ``env.json``
(versions, git commit, device used, seed, command), ``status.json`` (``running``, ``done``,
``interrupted`` or ``failed`` with the error), ``metrics.jsonl`` (per-epoch records),
``results.json``, ``results.csv``, ``report.md`` and ``figures/*.png``. With several seeds each seed
runs in ``seed-<s>/`` and the top folder holds the mean ± std tables.

A run folder is created only where nothing is (a new or empty folder); an existing run folder is
continued only by :func:`resume`, one process at a time (:mod:`neuralpaths.runfolder`). Configs are
built by :mod:`neuralpaths.config` and checked (the experiment's own ``check``, the device) before
the folder is created.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
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
from .environment import environment, git_commit  # noqa: F401 (re-exported)
from .errors import ConfigError, RunFolderError, UserError, shorten
from .experiments.common import Experiment, num_threads, resolve_device
from .io import atomic_write_json, metrics_logger, write_rows_csv  # noqa: F401 (metrics_logger re-exported)
from .progress import progress_disabled
from .runfolder import (
    MAX_RESULTS_BYTES,
    RunLock,
    check_inside,
    check_seeds,
    claim,
    read_record,
    read_small_json,
)

PRESET_NAMES = ("default", "smoke", "paper")
_DAMAGE = (KeyError, TypeError, ValueError, IndexError, AttributeError)  # results that do not fit


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeds the global RNG third-party code may use)
    torch.manual_seed(seed)


def _status(out: Path, state: str, **extra: Any) -> None:
    atomic_write_json(
        out / "status.json", {"state": state, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}
    )


@contextmanager
def _held(out: Path, record: dict, resume: bool, top: Path) -> Iterator[None]:
    """Create or check ``out``, hold its lock, and keep ``status.json`` truthful whatever happens."""
    if out.exists() and not out.is_dir():
        raise UserError(f"cannot write to {out}: it is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot write to {out}: {e.strerror or e}") from None
    with RunLock(out):
        claim(out, record, resume)
        atomic_write_json(out / "config.json", record)
        _status(out, "running", pid=os.getpid())
        try:
            yield
        except KeyboardInterrupt as e:
            _status(
                out, "interrupted", signal=getattr(e, "signal", "SIGINT"), resume=f"neuralpaths resume {top}"
            )
            raise
        except BaseException as e:
            _status(out, "failed", error=shorten(f"{type(e).__name__}: {e}", 500))
            raise


def check_config(experiment: Experiment, cfg: Any) -> torch.device:
    """The experiment's own checks and the device, before anything is created; the device to use.
    A ``ValueError``/``TypeError`` from a check is a :class:`ConfigError` (the check reads user input)."""
    try:
        if experiment.check is not None:
            experiment.check(cfg)
    except UserError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(shorten(str(e), 300)) from e
    return resolve_device(getattr(cfg, "device", "cpu"))


def _run_one(experiment: Experiment, cfg: Any, out: Path, record: dict, resume: bool, top: Path) -> dict:
    with _held(out, record, resume, top):
        threads = getattr(cfg, "threads", 0)  # a Config field `threads` (0: PyTorch's default)
        env = environment(cfg.seed, resolve_device(getattr(cfg, "device", "cpu")))
        atomic_write_json(out / "env.json", {**env, "torch_threads": threads or torch.get_num_threads()})
        seed_everything(cfg.seed)
        start = time.perf_counter()
        with num_threads(threads):
            results = experiment.run(cfg, out)
        results = {"experiment": experiment.name, "seed": cfg.seed, **results}
        results["seconds"] = time.perf_counter() - start
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
    *,
    resume: bool = False,
) -> Path:
    """Run experiment ``name`` and return its run folder (see module docstring). ``out`` must be new
    or empty; ``resume=True`` (what :func:`resume` passes) continues the same run in place."""
    experiment = experiments.get(name)
    merged = {**(read_config_file(config_file) if config_file else {}), **dict(overrides or {})}
    cfg = make_config(experiment, preset, merged)
    seeds = check_seeds(list(seeds) if seeds is not None else None) or [cfg.seed]
    for s in seeds:
        check_config(experiment, dataclasses.replace(cfg, seed=s))
    out = Path(out) if out is not None else default_out(name, preset)
    record = {"experiment": name, "preset": preset, "overrides": merged, "seeds": seeds}
    with progress_disabled() if not progress else nullcontext():
        if len(seeds) == 1:
            cfg = dataclasses.replace(cfg, seed=seeds[0])
            _run_one(experiment, cfg, out, {**record, "config": dataclasses.asdict(cfg)}, resume, out)
            return out
        with _held(out, {**record, "config": dataclasses.asdict(cfg)}, resume, out):
            atomic_write_json(out / "env.json", environment(cfg.seed, check_config(experiment, cfg)))
            per_seed = {}
            for s in seeds:
                cfg_s = dataclasses.replace(cfg, seed=s)
                rec = {**record, "config": dataclasses.asdict(cfg_s)}
                if resume and finished(out / f"seed-{s}"):  # done before the interruption
                    claim(out / f"seed-{s}", rec, resume=True)  # and the same run
                    per_seed[s] = _results(out / f"seed-{s}", read_record(out / f"seed-{s}"))
                    continue
                per_seed[s] = _run_one(experiment, cfg_s, out / f"seed-{s}", rec, resume, out)
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
    """The experiment and the checked ``config.json`` of a run folder."""
    run_dir = Path(run_dir)
    record = read_record(run_dir)
    return experiments.get(record["experiment"]), record, run_dir


def finished(run_dir: str | os.PathLike) -> bool:
    """Whether the run in ``run_dir`` is done (status ``done`` and its results saved)."""
    run_dir = Path(run_dir)
    if not (run_dir / "status.json").is_file() or not (run_dir / "results.json").is_file():
        return False
    status = read_small_json(run_dir / "status.json", "run status")
    return isinstance(status, dict) and status.get("state") == "done"


def resume(run_dir: str | os.PathLike, progress: bool = True) -> Path:
    """Continue an interrupted run in place: finished work is loaded from its checkpoints (whose
    digests are checked). A finished run is left as it is (see :func:`finished`)."""
    _, record, run_dir = load_run(run_dir)
    if finished(run_dir):
        return run_dir
    return run_experiment(
        record["experiment"],
        record["preset"],
        record["overrides"],
        record["seeds"],
        run_dir,
        progress,
        resume=True,
    )


def _results(run_dir: Path, record: dict) -> dict:
    """``results.json`` of a run folder, checked to be a results table of this run."""
    if not (run_dir / "results.json").exists():
        raise UserError(
            f"{run_dir} has no results.json yet (unfinished run? try `neuralpaths resume {run_dir}`)"
        )
    results = read_small_json(run_dir / "results.json", "run's results.json", MAX_RESULTS_BYTES)
    if not isinstance(results, dict) or results.get("experiment") != record["experiment"]:
        raise RunFolderError(f"{run_dir / 'results.json'} is damaged or not the results of this run")
    if "aggregate_tables" in results:
        seeds = check_seeds(results.get("seeds"), f"seeds in {run_dir / 'results.json'}")
        if seeds != record["seeds"] or not isinstance(results["aggregate_tables"], dict):
            raise RunFolderError(f"{run_dir / 'results.json'} does not match the run's config.json")
    return results


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Results that the experiment's report code cannot read are a damaged file, said in one line."""
    try:
        yield
    except _DAMAGE as e:
        raise RunFolderError(
            f"cannot read the results in {path} ({type(e).__name__}: {shorten(str(e), 80)}): the file is "
            "damaged or from another version (--debug shows where)"
        ) from e


def replot(run_dir: str | os.PathLike) -> list[Path]:
    """Redraw figures and the report from saved results, without retraining."""
    experiment, record, run_dir = load_run(run_dir)
    check_inside(run_dir)
    results = _results(run_dir, record)
    with RunLock(run_dir), _reading(run_dir / "results.json"):
        if "aggregate_tables" in results:
            for s in results["seeds"]:
                replot(run_dir / f"seed-{s}")
            report.write_seed_report(run_dir, experiment, results)
            return sorted(run_dir.glob("seed-*/figures/*.png"))
        finish(experiment, results, run_dir)
    return sorted((run_dir / "figures").glob("*.png"))


def show(run_dir: str | os.PathLike) -> str:
    """The run's tables as text."""
    experiment, record, run_dir = load_run(run_dir)
    results = _results(run_dir, record)
    with _reading(run_dir / "results.json"):
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
        check_config(experiment, make_config(experiment, preset, {**dict(overrides or {}), **combo}))
    out = Path(out) if out is not None else Path("runs") / name / f"{time.strftime('%Y%m%d-%H%M%S')}-sweep"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunFolderError(f"{out} already exists and is not empty; choose a new or empty --out")
    rows = []
    for combo in combos:
        label = ",".join(f"{k}={report._cli_value(v)}" for k, v in combo.items()).replace("/", "_")
        run_dir = run_experiment(
            name, preset, {**dict(overrides or {}), **combo}, out=out / label, progress=progress
        )
        tables = experiment.tables(
            read_small_json(run_dir / "results.json", "run's results.json", MAX_RESULTS_BYTES)
        )
        first = next(iter(tables.values()), [])
        rows += [{**{k: report._cli_value(v) for k, v in combo.items()}, **r} for r in first]
    write_rows_csv(out / "sweep.csv", rows)
    text = f"# {name} sweep ({preset} preset)\n\n" + report.markdown_table(rows)
    report.atomic_write_text(out / "report.md", text)
    return out
