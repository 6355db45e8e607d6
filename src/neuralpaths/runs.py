"""Reading run folders back: the record and results of a run (checked before use), whether a run or
sweep is finished, its tables as text (``show``) and its figures and report redrawn from saved
results (``plot``), never retraining.
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
