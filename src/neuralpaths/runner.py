"""Run experiments: configs from presets and overrides, run folders, seeds, resume.

A run folder holds ``config.json`` (experiment, preset, overrides, full config), ``env.json``
(versions, git commit, device used, seed, command), ``status.json`` (``running``, ``done``,
``interrupted`` or ``failed`` with the error), ``metrics.jsonl`` (per-epoch records),
``results.json``, ``results.csv``, ``report.md`` and ``figures/*.png``. With several seeds each seed
runs in ``seed-<s>/`` (a run folder of its own, one trial) and the top folder holds the mean ± std
tables; trials run one at a time, in worker processes or on Ray (:mod:`neuralpaths.parallel`), and
a failed trial leaves the others to finish. Sweeps are in :mod:`neuralpaths.sweeps`; reading finished
runs back (``show``, ``plot``) in :mod:`neuralpaths.runs`.

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
from .environment import environment, git_commit, num_threads  # noqa: F401 (re-exported)
from .errors import ConfigError, UserError, shorten
from .experiments.common import Experiment, resolve_device
from .io import atomic_write_json, metrics_logger, write_rows_csv  # noqa: F401 (metrics_logger re-exported)
from .parallel import (
    Trial,
    TrialsFailed,
    check_executor,
    failure_message,
    run_trials,
    trial_gpus,
    trial_threads,
    where_here,
)
from .progress import progress_disabled
from .runfolder import (
    RunLock,
    check_seeds,
    claim,
    make_folder,
    read_record,
)
from .runs import (  # noqa: F401 (re-exported: reading finished runs)
    SWEEP_RECORD,
    _reading,
    _results,
    check_folder,
    finish,
    finished,
    is_sweep,
    load_run,
    replot,
    show,
)

PRESET_NAMES = ("default", "smoke", "paper")


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
    make_folder(out)
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


def check_config(experiment: Experiment, cfg: Any, ray: str | None = None) -> torch.device:
    """The experiment's own checks and the device, before anything is created; the device to use.
    A ``ValueError``/``TypeError`` from a check is a :class:`ConfigError` (the check reads user input).
    With ``ray`` a cluster address, the device is that of the cluster's workers: only its name is
    checked here (a local Ray instance runs on this machine: checked as without Ray)."""
    try:
        if experiment.check is not None:
            experiment.check(cfg)
    except UserError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(shorten(str(e), 300)) from e
    return resolve_device(getattr(cfg, "device", "cpu"), here=ray in (None, "local"))


def _run_one(
    experiment: Experiment,
    cfg: Any,
    out: Path,
    record: dict,
    resume: bool,
    top: Path,
    where: dict | None = None,
) -> dict:
    with _held(out, record, resume, top):
        threads = getattr(cfg, "threads", 0)  # a Config field `threads` (0: PyTorch's default)
        env = environment(cfg.seed, resolve_device(getattr(cfg, "device", "cpu")))
        env = {**env, "torch_threads": threads or torch.get_num_threads()}
        atomic_write_json(out / "env.json", {**env, "ran_on": where or where_here("sequential", "main")})
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


def run_trial(trial: Trial, out: Path, where: dict) -> dict:
    """Run one trial (:class:`neuralpaths.parallel.Trial`) into the run folder ``out``; its results."""
    experiment = experiments.get(trial.name)
    cfg = make_config(experiment, trial.preset, trial.overrides)
    cfg = dataclasses.replace(cfg, seed=cfg.seed if trial.seed is None else trial.seed)
    check_config(experiment, cfg)
    record = {
        "experiment": trial.name,
        "preset": trial.preset,
        "overrides": trial.overrides,
        "seeds": [cfg.seed],
        "config": dataclasses.asdict(cfg),
    }
    return _run_one(experiment, cfg, out, record, trial.resume, Path(trial.top), where)


def make_trial(name: str, preset: str, overrides: dict, cfg: Any, out: Path, top: Path, **kw: Any) -> Trial:
    """The trial running ``cfg`` (from ``preset`` and ``overrides``) into ``out``."""
    label = out.name if out != top else "run"
    return Trial(
        label, name, experiments.module_name(name), preset, dict(overrides), cfg.seed, str(out), str(top),
        threads=trial_threads(cfg), gpus=trial_gpus(cfg), **kw,
    )  # fmt: skip


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
    jobs: int = 1,
    ray: str | None = None,
) -> Path:
    """Run experiment ``name`` and return its run folder (see module docstring). ``out`` must be new
    or empty; ``resume=True`` (what :func:`resume` passes) continues the same run in place. Several
    seeds run as trials (``jobs`` worker processes, or Ray tasks when ``ray`` is ``"local"`` or a
    cluster address); a failed seed leaves the others to finish, then raises :class:`TrialsFailed`."""
    experiment = experiments.get(name)
    check_executor(jobs, ray)
    merged = {**(read_config_file(config_file) if config_file else {}), **dict(overrides or {})}
    cfg = make_config(experiment, preset, merged)
    seeds = check_seeds(list(seeds) if seeds is not None else None) or [cfg.seed]
    for s in seeds:
        check_config(experiment, dataclasses.replace(cfg, seed=s), ray)
    out = Path(out) if out is not None else default_out(name, preset)
    record = {"experiment": name, "preset": preset, "overrides": merged, "seeds": seeds}
    with progress_disabled() if not progress else nullcontext():
        if len(seeds) == 1 and ray is None:
            cfg = dataclasses.replace(cfg, seed=seeds[0])
            _run_one(experiment, cfg, out, {**record, "config": dataclasses.asdict(cfg)}, resume, out)
            return out
        if len(seeds) == 1:  # one run, as one Ray task
            trial = make_trial(name, preset, merged, dataclasses.replace(cfg, seed=seeds[0]), out, out)
            outcome = run_trials([dataclasses.replace(trial, resume=resume)], ray=ray, progress=progress)
            if not outcome[trial.label].ok:
                raise TrialsFailed(f"the run failed on Ray: {outcome[trial.label].error}")
            return out
        with _held(out, {**record, "config": dataclasses.asdict(cfg)}, resume, out):
            atomic_write_json(out / "env.json", environment(cfg.seed, check_config(experiment, cfg, ray)))
            per_seed, trials = {}, []
            for s in seeds:
                cfg_s = dataclasses.replace(cfg, seed=s)
                if resume and finished(out / f"seed-{s}"):  # done before the interruption
                    claim(out / f"seed-{s}", {**record, "config": dataclasses.asdict(cfg_s)}, resume=True)
                    per_seed[s] = _results(out / f"seed-{s}", read_record(out / f"seed-{s}"))
                    continue
                trials.append(make_trial(name, preset, merged, cfg_s, out / f"seed-{s}", out, resume=resume))
            outcomes = run_trials(trials, jobs, ray, progress)
            per_seed.update({int(k[5:]): o.results for k, o in outcomes.items() if o.ok})
            failed = {k: o.error for k, o in outcomes.items() if not o.ok}
            write_seed_summary(experiment, out, {s: per_seed[s] for s in seeds if s in per_seed}, failed)
    if failed:
        raise TrialsFailed(failure_message(outcomes, out))
    return out


def write_seed_summary(
    experiment: Experiment, out: Path, per_seed: dict[int, dict], failed: dict[str, str] | None = None
) -> None:
    """Mean ± std over the finished seeds of every table, with the per-seed reports linked and the
    failed seeds listed (status ``failed`` then, so ``resume`` re-runs them)."""
    per_table = [experiment.tables(r) for r in per_seed.values()]
    titles = per_table[0] if per_table else {}
    agg = {title: report.aggregate_rows([t[title] for t in per_table]) for title in titles}
    summary = {"experiment": experiment.name, "seeds": list(per_seed), "aggregate_tables": agg}
    if failed:
        summary["failed"] = dict(failed)
    if per_seed:
        atomic_write_json(out / "results.json", summary)
    if agg:
        write_rows_csv(out / "results.csv", next(iter(agg.values())))
    report.write_seed_report(out, experiment, summary)
    if failed:
        _status(out, "failed", seeds=list(per_seed), failed=dict(failed), resume=f"neuralpaths resume {out}")
    else:
        _status(out, "done", seeds=list(per_seed))


def resume(
    run_dir: str | os.PathLike, progress: bool = True, *, jobs: int = 1, ray: str | None = None
) -> Path:
    """Continue an interrupted run or sweep in place: finished work is loaded from its checkpoints
    (whose digests are checked), finished trials are kept and failed ones run again. A finished run
    is left as it is (see :func:`finished`)."""
    if is_sweep(run_dir):
        from .sweeps import resume_sweep

        return resume_sweep(Path(run_dir), progress, jobs=jobs, ray=ray)
    _, record, run_dir = load_run(run_dir)
    if finished(run_dir):
        return run_dir
    what = (record["experiment"], record["preset"], record["overrides"], record["seeds"])
    return run_experiment(*what, run_dir, progress, resume=True, jobs=jobs, ray=ray)


def sweep(*args: Any, **kwargs: Any) -> Path:
    """Run a grid of configs (:func:`neuralpaths.sweeps.sweep`)."""
    from .sweeps import sweep as run_sweep

    return run_sweep(*args, **kwargs)
