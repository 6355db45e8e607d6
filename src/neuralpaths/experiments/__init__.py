"""Experiments: one package per experiment, separate from the library (the library never imports them).

Protocol — each experiment is a package ``neuralpaths/experiments/<module>/`` with the same files:

``__init__.py``
    the experiment's docstring — what it measures, the command, the time the default preset takes
    (the first clause of ``runtime``) and the numbers it should give — and its declaration
    ``EXPERIMENT = Experiment.from_modules(name, description=..., runtime=..., run=run,
    report=report)`` (:class:`.common.Experiment`: ``name``, ``description``, ``runtime``,
    ``config``, ``run``, ``tables``, ``plot``, ``presets_path``, ``summary``).
``run.py``
    the protocol: ``Config``, a frozen dataclass whose every field has a default (the ``default``
    preset), typed ``int``, ``float``, ``bool``, ``str`` or ``tuple[...]`` of those, with a
    ``seed: int`` field and maybe ``threads: int`` (the runner then runs with that many torch threads;
    0 keeps PyTorch's default); and ``run(cfg, out) -> dict``, which does the work and returns
    JSON-able results. Training goes through :func:`.common.train` (checkpoints under
    ``out / "checkpoints"``, per-epoch records in ``out / "metrics.jsonl"``) and other finished stages
    through :func:`.common.cached`, so ``neuralpaths resume`` can call ``run`` again and finished work
    is skipped.
``report.py``
    from saved results alone: ``tables(results) -> {title: rows}`` (the first becomes
    ``results.csv``; all go into ``report.md`` and ``neuralpaths show``), ``plot(results, out) ->
    [paths]`` (PNG figures in ``out / "figures"``; ``neuralpaths plot`` redraws them without
    retraining) and, if the report has one, ``summary(results) -> str``.
``presets.toml``
    tables ``[default]`` (may be empty), ``[smoke]`` (seconds; runs in CI) and ``[paper]`` (the
    paper's protocol, or the closest we have), each overriding ``Config`` fields. No times: the
    declaration's ``runtime`` states them.

A package holds further modules only where one of these files would pass ~300 lines, named by what
they do (``npf_regimes/models.py``, ``univariate_regimes/figures.py``). What several experiments
repeat lives in :mod:`.common`. Experiments use the library's public names only, import no other
experiment and never the runner (``tests/experiments/test_declarations.py`` checks all of this).

The runner (:mod:`neuralpaths.runner`) writes ``config.json``, ``env.json``, ``results.json``,
``results.csv``, ``report.md`` and ``figures/*.png`` around ``run``.
"""

from __future__ import annotations

import importlib

from .common import Experiment

# CLI name -> package in this folder (or the dotted path of any module declaring EXPERIMENT).
EXPERIMENTS: dict[str, str] = {
    "npf-regimes": "npf_regimes",
    "univariate-regimes": "univariate_regimes",
    "dlgn-odt": "dlgn_odt",
    "halfspace-2d": "halfspace_2d",
    "dlgn-images": "dlgn_images",
    "ntk-vs-npk": "ntk_vs_npk",
    "npk-alignment": "npk_alignment",
    "kernel-regimes": "kernel_regimes",
    "resnet-ensemble": "resnet_ensemble",
    "gate-adaptation": "gate_adaptation",
    "continuous-npf": "continuous_npf",
    "path-sgd": "path_sgd",
    "dgn-depth": "dgn_depth",
}


def module_name(name: str) -> str:
    """The module declaring the experiment registered as ``name``."""
    from ..errors import ConfigError

    if name not in EXPERIMENTS:
        known = ", ".join(sorted(EXPERIMENTS)) or "(none)"
        raise ConfigError(f"unknown experiment {name!r}; available: {known}")
    module = EXPERIMENTS[name]
    return module if "." in module else f"{__name__}.{module}"


def get(name: str) -> Experiment:
    """The declaration of the experiment registered as ``name``."""
    module = importlib.import_module(module_name(name))
    declared = getattr(module, "EXPERIMENT", None)
    if not isinstance(declared, Experiment):
        raise TypeError(f"{module.__name__} declares no EXPERIMENT = Experiment(...)")
    return declared
