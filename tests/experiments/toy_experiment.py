"""A tiny experiment used to test the runner: the NPK of a random MLP, with fake 'epochs'. One module
declares it (``EXPERIMENT``), with its presets beside it in ``toy_experiment.toml``.

A failure can be injected from outside the config (so that the same run passes once it is lifted):
when the environment variable ``TOY_FAIL_FILE`` names an existing file, a run whose ``label`` (or
``label@seed``) is one of that file's lines fails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

from neuralpaths import MLP, npk
from neuralpaths.experiments.common import Experiment
from neuralpaths.io import metrics_logger, save_figure


@dataclass(frozen=True)
class Config:
    seed: int = 0
    n: int = 8
    widths: tuple[int, ...] = (4, 4)
    scale: float = 1.0
    normalize: bool = False
    label: str = "toy"
    fail: bool = False


def run(cfg: Config, out: Path) -> dict:
    if cfg.fail:
        raise RuntimeError("asked to fail")
    marker = Path(os.environ.get("TOY_FAIL_FILE", "") or "/nonexistent")
    if marker.is_file() and {cfg.label, f"{cfg.label}@{cfg.seed}"} & set(marker.read_text().split()):
        raise RuntimeError(f"injected failure for label {cfg.label}")
    x = cfg.scale * torch.randn(cfg.n, 3)  # seeded by the runner
    net = MLP(3, list(cfg.widths), 1, seed=cfg.seed)
    log = metrics_logger(out, model="mlp")
    for epoch in range(3):
        log({"epoch": epoch, "value": float(epoch)})
    k = npk(net, x, normalize=cfg.normalize)
    return {"trace": float(k.trace()), "first_x": float(x[0, 0]), "label": cfg.label}


def tables(results: dict) -> dict[str, list[dict]]:
    return {
        "NPK": [{"model": "mlp", "trace": results["trace"]}, {"model": "x", "trace": results["first_x"]}],
        "Info": [{"label": results["label"]}],
    }


def plot(results: dict, out: Path) -> list[Path]:
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.bar(["trace"], [results["trace"]])
    ax.set_title("NPK trace")
    return [save_figure(fig, out / "figures" / "trace.png")]


EXPERIMENT = Experiment(
    name="toy",
    description="NPK trace of a random MLP (runner test)",
    runtime="<1 s",
    config=Config,
    run=run,
    tables=tables,
    plot=plot,
    presets_path=Path(__file__).with_suffix(".toml"),
)
