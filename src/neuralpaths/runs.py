"""Reading run folders back: the record and results of a run (checked before use), whether a run or
sweep is finished, its tables as text (``show``) and its figures and report redrawn from saved
results (``plot``), never retraining.

A sweep folder (``sweep.json``, :mod:`neuralpaths.sweeps`) is read back trial by trial: ``show``
prints the sweep's tables (one row per grid point, the mean ± std over a ``seed`` axis, the failed
trials with their errors) and ``plot`` redraws every finished trial and then the sweep's report and
figures, both through :func:`neuralpaths.sweeps.sweep_tables`, the tables the sweep itself wrote.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import experiments, report
from .errors import RunFolderError, UserError, shorten
from .experiments.common import Experiment
from .io import write_rows_csv
from .parallel import Outcome
from .runfolder import MAX_RESULTS_BYTES, RunLock, check_inside, check_seeds, read_record, read_small_json

SWEEP_RECORD = "sweep.json"
_DAMAGE = (KeyError, TypeError, ValueError, IndexError, AttributeError)  # results that do not fit


def finish(experiment: Experiment, results: dict, out: Path) -> None:
    """Figures, results.csv and report.md from saved results (also used by ``plot``)."""
    figures = experiment.plot(results, out) or []
    tables = experiment.tables(results)
    if tables:
        write_rows_csv(out / "results.csv", next(iter(tables.values())))
    report.write_report(out, experiment, results, tables, figures)


def load_run(run_dir: str | os.PathLike) -> tuple[Experiment, dict, Path]:
    """The experiment and the checked ``config.json`` of a run folder."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists() and not is_sweep(run_dir):
        why = "it does not exist" if not run_dir.exists() else "no config.json or sweep.json in it"
        raise RunFolderError(f"{run_dir} is not a run folder or a sweep folder ({why})")
    record = read_record(run_dir)
    return experiments.get(record["experiment"]), record, run_dir


def finished(run_dir: str | os.PathLike) -> bool:
    """Whether the run (or sweep) in ``run_dir`` is done (status ``done`` and its results saved)."""
    run_dir = Path(run_dir)
    saved = (run_dir / "results.json").is_file() or (run_dir / SWEEP_RECORD).is_file()
    if not (run_dir / "status.json").is_file() or not saved:
        return False
    status = read_small_json(run_dir / "status.json", "run status")
    return isinstance(status, dict) and status.get("state") == "done"


def is_sweep(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / SWEEP_RECORD).is_file() and not (Path(run_dir) / "config.json").exists()


def check_folder(run_dir: str | os.PathLike) -> Path:
    """``run_dir``, after checking it holds a run or a sweep (its record readable and valid)."""
    if is_sweep(run_dir):
        from .sweeps import read_sweep_record

        read_sweep_record(Path(run_dir))
        return Path(run_dir)
    return load_run(run_dir)[2]


def _results(run_dir: Path, record: dict) -> dict:
    """``results.json`` of a run folder, checked to be a results table of this run."""
    if not (run_dir / "results.json").exists():
        raise UserError(
            f"{run_dir} has no results.json yet (unfinished run? try `neuralpaths resume {run_dir}`)"
        )
    results = read_small_json(run_dir / "results.json", "run's results.json", MAX_RESULTS_BYTES)
    if not isinstance(results, dict) or results.get("experiment") != record["experiment"]:
        raise RunFolderError(f"{run_dir / 'results.json'} is damaged or not the results of this run")
    if "aggregate_tables" in results:  # the seeds that finished (all, unless some failed)
        seeds = check_seeds(results.get("seeds"), f"seeds in {run_dir / 'results.json'}")
        if not set(seeds) <= set(record["seeds"]) or not isinstance(results["aggregate_tables"], dict):
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
    """Redraw figures and the report from saved results, without retraining (a sweep: every finished
    trial's, then the sweep's own)."""
    if is_sweep(run_dir):
        return _replot_sweep(Path(run_dir))
    experiment, record, run_dir = load_run(run_dir)
    check_inside(run_dir)
    results = _results(run_dir, record)
    with RunLock(run_dir), _reading(run_dir / "results.json"):
        if "aggregate_tables" in results:
            for s in results["seeds"]:
                replot(run_dir / f"seed-{s}")
            report.write_seed_report(run_dir, experiment, results)
            return sorted(run_dir.glob("seed-*/figures/*.png")) + sorted((run_dir / "figures").glob("*.png"))
        finish(experiment, results, run_dir)
    return sorted((run_dir / "figures").glob("*.png"))


def show(run_dir: str | os.PathLike) -> str:
    """The run's tables as text (a sweep's: see the module docstring)."""
    if is_sweep(run_dir):
        return _show_sweep(Path(run_dir))
    experiment, record, run_dir = load_run(run_dir)
    results = _results(run_dir, record)
    with _reading(run_dir / "results.json"):
        tables = results["aggregate_tables"] if "aggregate_tables" in results else experiment.tables(results)
        head = f"{record['experiment']} ({record['preset']} preset) — {run_dir}\n"
        text = head + "\n".join(f"\n{title}\n{report.text_table(rows)}" for title, rows in tables.items())
    failed = results.get("failed") if isinstance(results.get("failed"), dict) else {}
    if failed:
        text += "\nFailed seeds (not in the tables above)\n"
        text += "".join(f"- {label}: {error}\n" for label, error in failed.items())
    return text


# --- sweeps -----------------------------------------------------------------------------------------
def sweep_outcomes(out: Path, record: dict) -> dict[str, Outcome]:
    """Each grid point of the sweep in ``out`` (its checked ``record``) as its folder tells it, in grid
    order: finished (its checked results), or the error that stopped it (``not finished`` ...)."""
    from .sweeps import combinations, label_of

    errors = _read_status(out).get("errors")
    errors = errors if isinstance(errors, dict) else {}
    outcomes = {}
    for combo in combinations(record["grid"]):
        label = label_of(combo)
        trial = out / label
        if finished(trial):
            outcomes[label] = Outcome(label, results=_results(trial, load_run(trial)[1]))
        else:
            outcomes[label] = Outcome(label, error=_trial_error(trial, errors.get(label), out))
    return outcomes


def _read_status(folder: Path) -> dict:
    """``status.json`` of a run or sweep folder; empty when it is missing or unreadable."""
    if not (folder / "status.json").is_file():
        return {}
    try:
        status = read_small_json(folder / "status.json", "run status")
    except UserError:
        return {}
    return status if isinstance(status, dict) else {}


def _trial_error(trial: Path, recorded: object, top: Path) -> str:
    """Why a grid point has no results: the error its ``status.json`` (or the sweep's) recorded."""
    status = _read_status(trial)
    state, error = status.get("state"), status.get("error")
    if isinstance(recorded, str):  # what the sweep saw (also a worker that died before writing)
        return recorded
    if state == "failed" and isinstance(error, str):  # written as a repr: drop its quotes
        return error[1:-1] if len(error) > 1 and error[0] == error[-1] and error[0] in "'\"" else error
    if not trial.exists():
        return f"not started (`neuralpaths resume {top}` runs it)"
    return f"not finished (status {state or 'unknown'}; `neuralpaths resume {top}` runs it again)"


def _sweep(out: Path) -> tuple[Experiment, dict]:
    """The experiment and the checked ``sweep.json`` of a sweep folder."""
    from .sweeps import read_sweep_record

    record = read_sweep_record(out)
    return experiments.get(record["experiment"]), record


def _show_sweep(out: Path) -> str:
    from .sweeps import sweep_tables

    experiment, record = _sweep(out)
    outcomes = sweep_outcomes(out, record)
    with _reading(out):
        t = sweep_tables(experiment, record, outcomes)
    done = len(outcomes) - len(t["failed"])
    lines = [f"{record['experiment']} sweep ({record['preset']} preset) — {out}"]
    lines += [f"{done} of {len(outcomes)} grid points done", "", "Grid points (one row each)"]
    lines += [report.text_table([{k: v for k, v in p.items() if k != "error"} for p in t["points"]])]
    if t["over_seeds"]:
        lines += [f"Mean ± std over seeds (of {len(record['grid']['seed'])}; seeds: how many finished)"]
        lines += [report.text_table(t["over_seeds"])]
    if t["failed"]:
        lines += ["Failed trials"] + [f"- {label}: {error}" for label, error in t["failed"].items()]
    return "\n".join(lines).rstrip() + "\n"


def _replot_sweep(out: Path) -> list[Path]:
    from .sweeps import write_sweep_report

    experiment, record = _sweep(out)
    check_inside(out)
    with RunLock(out):
        outcomes = sweep_outcomes(out, record)
        figures = [f for label, o in outcomes.items() if o.ok for f in replot(out / label)]
        with _reading(out):
            write_sweep_report(out, experiment, record, outcomes)
    return figures + sorted((out / "figures").glob("*.png"))
