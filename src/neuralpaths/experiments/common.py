"""What every experiment shares: its declaration (:class:`Experiment`) and the parts its protocol
repeats — train a model and record its accuracy (:func:`train`, :func:`train_config`,
:func:`accuracy_record`), keep each finished stage of a run so ``neuralpaths resume`` skips it
(:func:`cached`), and run on the device a ``Config.device`` field names (:func:`resolve_device`); the
runner applies a ``Config.threads`` field with :func:`neuralpaths.environment.num_threads`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import torch
from torch import nn

from neuralpaths.data import Splits, load_dataset
from neuralpaths.errors import ConfigError
from neuralpaths.io import atomic_write_json_recorded, metrics_logger, read_json_recorded, truncate_jsonl
from neuralpaths.train import History, TrainConfig, best_state, fit

T = TypeVar("T")


@dataclass(frozen=True)
class Experiment:
    """One experiment as the runner and the command line see it. The package ``experiments/<name>/``
    declares it in its ``__init__``: ``EXPERIMENT = Experiment.from_modules(name, description=...,
    runtime=..., run=run, report=report)`` (a module laid out otherwise calls ``Experiment(...)``).

    Attributes:
        name: the command-line name, e.g. ``"npf-regimes"``.
        description: one line for ``neuralpaths list``.
        runtime: what the ``default`` preset costs, measured (``"~5 min on 2 CPU cores (default);
            paper preset ~2 h for 5 seeds"``). The one place it is stated: the package docstring
            repeats its first clause (tested), the presets file states no times.
        config: the ``Config`` class, a frozen dataclass whose defaults are the ``default`` preset.
        run: ``run(cfg, out) -> results`` (JSON-able); the runner writes the run folder around it.
        tables: ``tables(results) -> {title: rows}``; the first table becomes ``results.csv``.
        plot: ``plot(results, out) -> paths`` of the PNG figures drawn into ``out / "figures"`` from
            ``results`` alone.
        presets_path: the presets file (TOML tables ``[default]``, ``[smoke]``, ``[paper]``, ...).
        summary: ``summary(results) -> str``, Markdown for ``report.md`` (None: no summary).
        check: ``check(cfg)`` raises :class:`~neuralpaths.errors.ConfigError` for settings the types
            alone do not rule out; the runner calls it before creating the run folder (None: no check).
        plot_seeds: ``plot_seeds({seed: results}, out) -> paths`` of figures with error bars over the
            seeds of a multi-seed run, drawn into ``out / "figures"`` (None: only the generic one).
    """

    name: str
    description: str
    runtime: str
    config: type
    run: Callable[[Any, Path], dict]
    tables: Callable[[dict], dict[str, list[dict]]]
    plot: Callable[[dict, Path], list[Path]]
    presets_path: Path
    summary: Callable[[dict], str] | None = None
    check: Callable[[Any], None] | None = None
    plot_seeds: Callable[[dict[int, dict], Path], list[Path]] | None = None

    @classmethod
    def from_modules(
        cls, name: str, *, description: str, runtime: str, run: ModuleType, report: ModuleType
    ) -> Experiment:
        """The declaration of a package laid out as the protocol says: ``Config`` and ``run`` from its
        ``run`` module (and its ``check`` or ``_check``, if any), ``tables``, ``plot`` and ``summary``
        (if it has one) from its ``report`` module, ``presets.toml`` beside them."""
        return cls(
            name=name,
            description=description,
            runtime=runtime,
            config=run.Config,
            run=run.run,
            tables=report.tables,
            plot=report.plot,
            presets_path=Path(run.__file__).with_name("presets.toml"),
            summary=getattr(report, "summary", None),
            check=getattr(run, "check", None) or getattr(run, "_check", None),
            plot_seeds=getattr(report, "plot_seeds", None),
        )


# --- training -------------------------------------------------------------------------------------
def train_config(cfg: Any, **changes: Any) -> TrainConfig:
    """The :class:`~neuralpaths.train.TrainConfig` taking every field an experiment's ``cfg`` shares
    with it by name (``epochs``, ``batch_size``, ``optimizer``, ``lr``, ``seed``, ...), then ``changes``."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    shared = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name in names}
    return TrainConfig(**{**shared, **changes})


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


def accuracy_record(hist: History, seconds: float) -> dict:
    """The standard record of one training run, accuracies in %: ``test_acc`` at the best-validation
    epoch (the headline number), ``best_test_acc`` (the best test epoch: the protocol of papers that
    selected epochs on the test set), ``val_acc`` and ``best_val_epoch``, the test / validation /
    training accuracy of every evaluated epoch (``*_curve``), and the ``seconds`` it took."""
    return {
        "test_acc": _percent(hist.test_acc_at_best_val),
        "best_test_acc": _percent(hist.best_test_acc),
        "val_acc": _percent(hist.best_val_acc),
        "best_val_epoch": hist.best_val_epoch,
        "test_curve": [_percent(e["test_acc"]) for e in hist.epochs],
        "val_curve": [_percent(e["val_acc"]) for e in hist.epochs],
        "train_curve": [_percent(e["train_acc"]) for e in hist.epochs],
        "seconds": seconds,
    }


def train(
    model: nn.Module,
    data: Splits,
    cfg: TrainConfig,
    out: Path,
    name: str,
    *,
    tags: dict[str, Any],
    desc: str = "",
    best: bool = True,
    **fit_options: Any,
) -> tuple[History, dict]:
    """Train ``model`` by :func:`~neuralpaths.train.fit` on ``cfg.device`` (then it is moved back to the
    CPU, where the analyses run), checkpointed in ``out/checkpoints/<name>.pt``
    (a resumed run continues from it, a finished one returns at once) and logged to
    ``out/metrics.jsonl`` with ``tags``; with ``best`` the model then holds its best-validation
    weights. ``fit_options`` go to ``fit`` (``eval_every``, ``stop_after``, ``keep_best``).

    Returns:
        The history and its :func:`accuracy_record`.
    """
    checkpoint = out / "checkpoints" / f"{name}.pt"
    metrics = out / "metrics.jsonl"

    def cut_log(epoch: int) -> None:  # records logged after the checkpoint was saved are redone
        truncate_jsonl(
            metrics, lambda r: any(r.get(k) != v for k, v in tags.items()) or not r.get("epoch", 0) > epoch
        )

    start = time.perf_counter()
    model.to(resolve_device(cfg.device))  # trained on the run's device, then back on the CPU
    hist = fit(
        model,
        data,
        cfg,
        checkpoint=checkpoint,
        log=metrics_logger(out, **tags),
        desc=desc,
        on_start=cut_log,
        **fit_options,
    )
    model.to("cpu")
    if best:
        model.load_state_dict(best_state(checkpoint))
    return hist, accuracy_record(hist, time.perf_counter() - start)


# --- finished stages --------------------------------------------------------------------------------
def cached(path: Path, make: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A stage of a run: the JSON record a finished stage saved at ``path``, else
    ``make(*args, **kwargs)``, saved there (atomically, its SHA-256 recorded beside it and checked
    when it is read back) before it is returned.

    ``neuralpaths resume`` calls ``run`` again, and finished stages come back from their files. A run
    folder holds one config (the runner refuses another), so the file name need only tell the stages
    of one run apart: the stage and the settings that vary inside the run (``fc-w64.json``).
    """
    if path.exists():
        return read_json_recorded(path)
    record = make(*args, **kwargs)
    atomic_write_json_recorded(path, record)
    return record


# --- devices ------------------------------------------------------------------------------------------
DEVICES = "cpu, cuda, cuda:N or auto"


def resolve_device(name: str, *, here: bool = True) -> torch.device:
    """The torch device a ``device`` setting names: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``
    (CUDA if available, else the CPU); a :class:`~neuralpaths.errors.ConfigError` for anything else or
    a CUDA device this machine does not have. ``here=False``: the run goes to another machine (a Ray
    cluster), so only the name is checked; the worker checks the device itself."""
    text = str(name).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    kind, _, index = text.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise ConfigError(f"device must be {DEVICES}; got {str(name)[:40]!r}")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if here and int(index or 0) >= count:
        raise ConfigError(
            f"device {text!r} is not available (this machine has {count} CUDA device(s)); "
            "use device=cpu or device=auto"
        )
    return torch.device(text)


def load_data(cfg: Any, **kwargs: Any) -> Splits:
    """The data set a config names: its ``dataset`` with ``data_dir``, ``val_size``, ``seed``,
    ``n_train`` and ``n_test`` (0 or empty: the default) where the config has them; ``kwargs``
    (e.g. ``flatten``) pass through."""
    fields = {
        "data_dir": getattr(cfg, "data_dir", "") or None,
        "val_size": cfg.val_size,
        "seed": cfg.seed,
        "n_train": getattr(cfg, "n_train", 0) or None,
        "n_test": getattr(cfg, "n_test", 0) or None,
    }
    return load_dataset(cfg.dataset, **fields, **kwargs)
