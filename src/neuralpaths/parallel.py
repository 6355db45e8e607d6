"""Trials — one run folder each — run one at a time, in worker processes on this machine
(``--jobs N``) or as Ray tasks (``--ray [ADDRESS]``, :mod:`neuralpaths.raytasks`).

A :class:`Trial` names everything a worker needs to run one run folder on its own (experiment,
preset, overrides, seed, folder); :func:`execute` runs it wherever it lands and returns an
:class:`Outcome` — the results, or the error — and never raises for a failed trial, so the other
trials go on. :func:`run_trials` runs a list of trials with progress ``done / running / failed``.
Worker processes are started with ``spawn`` (torch and ``fork`` do not mix), each with its own
number of torch threads and no progress bars.

Inside one run, :func:`map_trials` runs an experiment's independent trials (seeds, widths, regimes
of its own grid) the same way: a picklable top-level function over a list of items, ``jobs`` at a
time, results in the order of the items.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch

from .errors import ConfigError, UserError, shorten
from .progress import progress_bar, set_progress

MAX_JOBS = 256
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Trial:
    """One run folder to fill: ``label`` names it in progress and reports (``seed-3``, ``n=4``)."""

    label: str
    name: str  # the experiment's command-line name
    module: str  # the module declaring it (a worker process registers it under ``name``)
    preset: str
    overrides: dict
    seed: int | None  # None: the config's own seed
    out: str  # the run folder
    top: str  # the folder `neuralpaths resume` continues (the sweep or multi-seed folder)
    resume: bool = False
    threads: int = 0  # torch threads in a worker (0: leave the worker's default)
    gpus: int = 0  # GPUs the trial asks Ray for


@dataclass
class Outcome:
    """What came of one trial: its results, or the error (one line) that stopped it; ``where`` it ran
    (host, pid, worker); ``files``: the run folder's files when it ran where the folder is not."""

    label: str
    results: dict | None = None
    error: str | None = None
    where: dict = field(default_factory=dict)
    files: dict[str, bytes] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class TrialsFailed(UserError):
    """Some trials of a sweep or multi-seed run failed; the others finished and were reported."""


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_jobs(jobs: Any, name: str = "--jobs") -> int:
    """``jobs``, after checking it is an integer from 1 to :data:`MAX_JOBS` (``name`` says which
    setting in the :class:`~neuralpaths.errors.ConfigError` otherwise)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise ConfigError(f"{name} must be an integer from 1 to {MAX_JOBS}; got {shorten(jobs, 20)}")
    return jobs


def check_executor(jobs: Any, ray: str | None) -> None:
    """``jobs`` valid, and Ray importable when asked for (before any folder is created)."""
    check_jobs(jobs)
    if ray is not None:
        from .raytasks import import_ray

        import_ray()


def where_here(executor: str, worker: str) -> dict:
    return {"executor": executor, "host": socket.gethostname(), "pid": os.getpid(), "worker": worker}


def execute(trial: Trial, where: dict, out: str | None = None) -> Outcome:
    """Run ``trial`` in this process (into ``out`` instead of ``trial.out`` when given) and say how it
    went. Errors become the outcome's ``error``; only an interrupt (Ctrl-C, SIGTERM) propagates."""
    from . import experiments, runner

    experiments.EXPERIMENTS.setdefault(trial.name, trial.module)
    try:
        results = runner.run_trial(trial, Path(out or trial.out), where)
    except Exception as e:  # the trial failed; its status.json says so, the others go on
        return Outcome(trial.label, error=one_line(f"{type(e).__name__}: {e}"), where=where)
    return Outcome(trial.label, results=results, where=where)


def _init_worker(threads: int) -> None:
    set_progress(False)
    if threads > 0:
        torch.set_num_threads(threads)


def _in_worker(trial: Trial) -> Outcome:
    if trial.threads > 0:
        torch.set_num_threads(trial.threads)
    return execute(trial, where_here("processes", multiprocessing.current_process().name))


def run_trials(
    trials: Sequence[Trial], jobs: int = 1, ray: str | None = None, progress: bool = True
) -> dict[str, Outcome]:
    """Run ``trials`` (one at a time, ``jobs`` worker processes, or Ray tasks when ``ray`` is an
    address or ``"local"``) and return their outcomes by label, in the order given."""
    if not trials:
        return {}
    jobs = check_jobs(jobs)
    bar = progress_bar(total=len(trials), desc="trials", enabled=progress and len(trials) > 1, leave=True)
    outcomes: dict[str, Outcome] = {}

    def done(outcome: Outcome, running: int) -> None:
        outcomes[outcome.label] = outcome
        failed = sum(not o.ok for o in outcomes.values())
        bar.set_postfix_str(f"running {running}, failed {failed}", refresh=False)
        bar.update(1)
        if not outcome.ok:
            bar.write(f"trial {outcome.label} failed: {outcome.error}")

    try:
        if ray is not None:
            from .raytasks import run_on_ray

            run_on_ray(trials, ray, done)
        elif jobs == 1 or len(trials) == 1:
            for trial in trials:
                done(execute(trial, where_here("sequential", "main")), 0)
        else:
            _run_in_processes(trials, jobs, done)
    finally:
        bar.close()
    return {t.label: outcomes[t.label] for t in trials if t.label in outcomes}


def _run_in_processes(trials: Sequence[Trial], jobs: int, done: Callable[[Outcome, int], None]) -> None:
    workers = min(jobs, len(trials))
    threads = max(1, torch.get_num_threads() // workers)  # the cores shared out, unless a trial says
    context = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,))
    try:
        futures = {pool.submit(_in_worker, t): t for t in trials}
        pending = set(futures)
        while pending:
            finished, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for f in finished:
                try:
                    outcome = f.result()
                except Exception as e:  # the worker process itself died (killed, out of memory)
                    error = one_line(f"{type(e).__name__}: {e}", 200)
                    hint = "; a script starting trials must guard its code with `if __name__ == '__main__':`"
                    outcome = Outcome(futures[f].label, error=f"worker process died ({error}{hint})")
                done(outcome, min(workers, len(pending)))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def failure_message(outcomes: dict[str, Outcome], top: Path) -> str:
    """One line: which trials failed and how to continue."""
    failed = [o for o in outcomes.values() if not o.ok]
    shown = "; ".join(f"{o.label}: {one_line(o.error or '', 120)}" for o in failed[:3])
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    return (
        f"{len(failed)} of {len(outcomes)} trials failed ({shown}{more}); the others finished — see "
        f"{top / 'report.md'}, fix the cause and run `neuralpaths resume {top}` to re-run only those"
    )


def trial_threads(cfg: Any) -> int:
    """Torch threads a trial declares: its config's ``threads`` setting (0: not set)."""
    return int(getattr(cfg, "threads", 0) or 0)


def trial_gpus(cfg: Any) -> int:
    """GPUs a trial asks for: 1 when its ``device`` setting names CUDA."""
    return 1 if str(getattr(cfg, "device", "cpu")).strip().lower().startswith("cuda") else 0


def map_trials(
    fn: Callable[[T], R],
    items: Sequence[T],
    jobs: int = 1,
    *,
    desc: str = "trials",
    progress: bool = True,
) -> list[R]:
    """``[fn(item) for item in items]``, ``jobs`` items at a time: the independent trials inside one
    run (an experiment's own grid of seeds, widths, regimes).

    With ``jobs=1`` (or one item) a plain loop in this process. Otherwise ``min(jobs, len(items))``
    worker processes (``spawn``), each with ``max(1, torch.get_num_threads() // workers)`` torch
    threads and no progress bars of its own; ``fn`` must then be a picklable top-level function (or a
    ``functools.partial`` of one) and ``items`` and the results picklable, tensors on the CPU. A
    trial must seed itself (from its item), never rely on the random state a previous trial left:
    then the results are the same whatever ``jobs`` is (given the same number of threads per trial).
    The first error stops the other workers and is raised here; what finished trials saved (e.g.
    :func:`~neuralpaths.experiments.common.cached` stages) stays for ``resume``.

    Args:
        fn: one trial, ``fn(item) -> result``.
        items: the trials' inputs.
        jobs: trials at once, 1 to :data:`MAX_JOBS`.
        desc: the progress bar's label; it counts finished trials ``done/total``.
        progress: draw the progress bar (also subject to :func:`~neuralpaths.progress.set_progress`).

    Returns:
        The results, in the order of ``items``.
    """
    items, jobs = list(items), check_jobs(jobs, "jobs")
    workers = min(jobs, len(items))
    with progress_bar(total=len(items), desc=desc, unit="trial", enabled=progress) as bar:
        if workers <= 1:
            results = []
            for item in items:
                results.append(fn(item))
                bar.update()
            return results
        return _map_in_processes(fn, items, workers, bar.update)


def _map_in_processes(fn: Callable[[T], R], items: list[T], workers: int, tick: Callable[[], Any]) -> list[R]:
    threads = max(1, torch.get_num_threads() // workers)
    context = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,))
    results: list[Any] = [None] * len(items)
    try:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for f in cf.as_completed(futures):
            try:
                results[futures[f]] = f.result()
            except BrokenProcessPool as e:  # a worker died (killed, out of memory)
                raise RuntimeError(
                    f"a worker process died ({one_line(e, 200)}); a script starting trials must guard "
                    "its code with `if __name__ == '__main__':`"
                ) from e
            tick()
    except BaseException:  # an error or an interrupt: stop the others now, then raise
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results
