"""Experiments: one module per experiment, separate from the library (the library never imports them).

Protocol — each experiment module ``neuralpaths/experiments/<name>.py`` defines:

``NAME: str``
    the CLI name, e.g. ``"npf-regimes"``.
``DESCRIPTION: str``
    one line for ``neuralpaths list``.
``RUNTIME: str``
    what the ``default`` preset costs, e.g. ``"~8 min on 2 CPU cores"``.
``Config``
    a frozen dataclass; every field has a default (the ``default`` preset), typed ``int``, ``float``,
    ``bool``, ``str`` or ``tuple[...]`` of those; it has a ``seed: int`` field, and may have
    ``threads: int`` (the runner then sets ``torch.set_num_threads``; 0 keeps PyTorch's default).
presets
    a TOML file beside the module, ``<module>.toml``, with tables ``[default]`` (may be empty),
    ``[smoke]`` (seconds; runs in CI) and ``[paper]`` (the paper's protocol), each overriding
    ``Config`` fields.
``run(cfg: Config, out: pathlib.Path) -> dict``
    does the work and returns JSON-able results. It may write checkpoints and auxiliary files under
    ``out``, and append per-epoch records to ``out / "metrics.jsonl"`` (see
    :func:`neuralpaths.runner.metrics_logger`). Training goes through :func:`neuralpaths.train.fit`
    with checkpoints under ``out / "checkpoints"``, so ``neuralpaths resume`` can call ``run`` again
    and finished work is skipped.
``plot(results: dict, out: pathlib.Path) -> list[pathlib.Path]``
    draws PNG figures into ``out / "figures"`` from ``results`` alone (``neuralpaths plot`` redraws
    them without retraining).
``tables(results: dict) -> dict[str, list[dict]]``
    named tables (title -> rows); the first becomes ``results.csv``; all go into ``report.md`` and
    ``neuralpaths show``.

The module docstring says the command, the time it takes and the numbers it should give.
The runner (:mod:`neuralpaths.runner`) writes ``config.json``, ``env.json``, ``results.json``,
``results.csv``, ``report.md`` and ``figures/*.png`` around ``run``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# CLI name -> module (relative names live in this package). Add new experiments here.
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
}


def get(name: str) -> ModuleType:
    """The experiment module registered as ``name``."""
    from ..errors import ConfigError

    if name not in EXPERIMENTS:
        known = ", ".join(sorted(EXPERIMENTS)) or "(none)"
        raise ConfigError(f"unknown experiment {name!r}; available: {known}")
    module = EXPERIMENTS[name]
    return importlib.import_module(module if "." in module else f"{__name__}.{module}")


# The runner's entry points (neuralpaths.runner), for tests and scripts:
#   run_experiment(name, preset="default", overrides=None, seeds=None, out=None, progress=True) -> Path
#   metrics_logger(out, **tags) -> Callable[[dict], None]   # appends tagged records to out/metrics.jsonl
