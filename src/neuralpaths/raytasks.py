"""Trials as Ray tasks (``--ray [ADDRESS]``): on a local Ray instance started for the command, or on
an existing cluster (``auto``, ``ray://host:port``).

Each trial is one task asking for its torch threads as CPUs (``num_cpus``; 1 when the config does
not say) and one GPU when its device is CUDA. A task on a machine that sees the sweep folder (a
token file written there by this process is found) writes its run folder in place; anywhere else it
runs in a temporary folder — carrying in the files of a run it resumes — and returns every file of
the run folder (results, metrics, figures, checkpoints), which are written back here. Ray is an
optional extra: ``pip install neuralpaths[ray]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .errors import UserError
from .parallel import Outcome, Trial, execute, one_line, where_here
from .progress import set_progress
from .runfolder import RunLock, pack_files, unpack_files

SHARE_NAME = ".neuralpaths-share"  # token file: a worker that reads it sees the sweep folder


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs Ray, an optional extra: pip install neuralpaths[ray]") from None
    return ray


@contextmanager
def connected(address: str) -> Iterator[Any]:
    """Ray, initialised: the instance this process already joined, else a new local one
    (``address == "local"``) or the cluster at ``address``; a Ray started here is shut down after."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {"log_to_driver": False}
    if address == "local":  # workers on this machine import what this process can
        path = os.pathsep.join(p for p in sys.path if p)
        options.update(include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    else:
        options["address"] = address
    try:
        ray.init(**options)
    except Exception as e:  # unreachable address, missing client extras, ...
        where = "a local Ray instance" if address == "local" else f"the Ray cluster at {address}"
        raise UserError(f"cannot start or reach {where}: {one_line(e, 200)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _shared(top: str, token: str) -> bool:
    try:
        return (Path(top) / SHARE_NAME).read_text(encoding="ascii").strip() == token
    except (OSError, UnicodeDecodeError):
        return False


def run_task(trial: Trial, token: str, files_in: dict[str, bytes] | None) -> Outcome:
    """The body of one Ray task (runs on a worker)."""
    import ray

    context = ray.get_runtime_context()
    where = {**where_here("ray", context.get_worker_id()), "node": context.get_node_id()}
    set_progress(False)
    torch.set_num_threads(max(1, trial.threads))
    if _shared(trial.top, token):
        return execute(trial, where)
    with tempfile.TemporaryDirectory(prefix="neuralpaths-trial-") as tmp:
        out = Path(tmp) / "run"
        if files_in:
            unpack_files(files_in, out)
        outcome = execute(trial, where, out=str(out))
        outcome.files = pack_files(out)
        return outcome


def run_on_ray(trials: Sequence[Trial], address: str, done: Callable[[Outcome, int], None]) -> None:
    """Submit every trial as a Ray task and report each outcome to ``done`` as it finishes."""
    with connected(address) as ray:
        token, tops = uuid.uuid4().hex, sorted({t.top for t in trials})
        for top in tops:
            (Path(top) / SHARE_NAME).write_text(token, encoding="ascii")
        pending: list = []
        try:
            task = ray.remote(run_task)
            labels = {}
            for trial in trials:
                trial = replace(trial, threads=trial.threads or 1)
                carried = Path(trial.out) / "config.json"
                files_in = pack_files(Path(trial.out)) if trial.resume and carried.is_file() else None
                ref = task.options(num_cpus=trial.threads, num_gpus=trial.gpus).remote(trial, token, files_in)
                labels[ref], pending = trial, [*pending, ref]
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    done(_collect(ray, ref, labels[ref]), len(pending))
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            for top in tops:
                (Path(top) / SHARE_NAME).unlink(missing_ok=True)


def _collect(ray: Any, ref: Any, trial: Trial) -> Outcome:
    """A finished task's outcome; files it carried back are written into the trial's run folder."""
    try:
        outcome = ray.get(ref)
    except Exception as e:  # the task itself died (worker killed, out of memory, lost node)
        return Outcome(trial.label, error=f"Ray task died ({one_line(f'{type(e).__name__}: {e}', 200)})")
    return write_back(outcome, trial)


def write_back(outcome: Outcome, trial: Trial) -> Outcome:
    """The files an outcome carried back written into the trial's run folder (under its lock)."""
    if outcome.files is not None:
        out = Path(trial.out)
        out.mkdir(parents=True, exist_ok=True)
        with RunLock(out):
            unpack_files(outcome.files, out)
        outcome.files = None
    return outcome
