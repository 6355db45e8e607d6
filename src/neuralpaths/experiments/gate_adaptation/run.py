"""gate-adaptation: the protocol — train each regime epoch by epoch, measuring gates and NPK after each."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from neuralpaths.data import Splits, load_dataset
from neuralpaths.errors import ConfigError, DataNotFoundError
from neuralpaths.io import atomic_write_json_recorded, read_json_recorded
from neuralpaths.losses import evaluate
from neuralpaths.models import Arch, ReLUNet
from neuralpaths.parallel import check_jobs, map_trials
from neuralpaths.progress import progress_bar

from ..common import resolve_device, train, train_config
from .models import ADAPTIVE, build, family, gate_state, measure, regime_names


@dataclass(frozen=True)
class Config:
    seed: int = 0
    datasets: tuple[str, ...] = ("mnist",)  # several: one not installed is skipped (noted in results)
    data_dir: str = ""  # folder of the data set files, for a single data set
    widths: tuple[int, ...] = (128, 128, 128, 128)  # fully connected hidden widths
    init: str = "glorot"
    regimes: tuple[str, ...] = ("relu", "frnpf", "soft", "dlnpf", "flnpf")  # "soft": one per beta
    betas: tuple[float, ...] = (1.0, 4.0, 16.0)  # soft-gated DGNs (gates sigmoid(beta q), eps 0)
    dlnpf_beta: float = 4.0  # the NPF paper's DLNPF gate (1 + eps) sigmoid(beta q)
    dlnpf_eps: float = 0.1
    runs: int = 2  # seeds per regime: 1000 seed + run
    n_train: int = 10000  # class-balanced training subset (0: all 60 000)
    n_test: int = 0  # 0: the whole test set
    align_points: int = 500  # the fixed test subset for gates and NPK alignment
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 8
    threads: int = 1
    jobs: int = 1  # runs (data set, run) at once, in worker processes; the same numbers
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): where training runs


def check(cfg: Config) -> None:
    regime_names(cfg.regimes, cfg.betas)
    if cfg.runs < 1 or cfg.epochs < 1 or cfg.align_points < 2:
        raise ConfigError(
            f"runs and epochs must be >= 1 and align_points >= 2, got {cfg.runs}, {cfg.epochs}, "
            f"{cfg.align_points}"
        )
    if not cfg.datasets:
        raise ConfigError("datasets is empty: name at least one, e.g. datasets=mnist")
    if not cfg.widths or min(cfg.widths) < 1:
        raise ConfigError(f"widths must be positive hidden widths, got {cfg.widths}")
    if cfg.data_dir and len(cfg.datasets) > 1:
        raise ConfigError("data_dir names one data set's folder: set datasets to that one data set too")
    check_jobs(cfg.jobs, "jobs")


def _load(cfg: Config, name: str) -> Splits:
    return load_dataset(
        name,
        data_dir=cfg.data_dir or None,
        val_size=0,
        seed=cfg.seed,
        n_train=cfg.n_train or None,
        n_test=cfg.n_test or None,
        flatten=True,
    )


def _subset(data: Splits, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed test subset (the same for every regime, run and epoch), sorted by class."""
    if n > len(data.y_test):
        raise ConfigError(f"align_points={n} exceeds the {len(data.y_test)} test points")
    idx = torch.randperm(len(data.y_test), generator=torch.Generator().manual_seed(0))[:n]
    idx = idx[torch.argsort(data.y_test[idx], stable=True)]
    return data.x_test[idx], data.y_test[idx]


def _one_run(cfg, data, sub, name, run, out, relu_trained, bar) -> tuple[list[dict], torch.nn.Module]:
    """Train regime ``name`` of run ``run`` epoch by epoch, measuring after each (resumable); returns
    the records and the trained model."""
    seed, arch = 1000 * cfg.seed + run, Arch.mlp(data.in_shape[0], cfg.widths, data.num_classes)
    tag = f"{data.name}-{name}-run{run}"
    path = out / "checkpoints" / f"{tag}.gates.json"
    records: list[dict] = read_json_recorded(path) if path.exists() else []
    model = build(name, arch, seed, cfg, relu_trained).to(resolve_device(cfg.device))
    # gates changed since init: FLNPF's gates were learned by the ReLU net, so they count from its init
    origin = ReLUNet(arch, init=cfg.init, seed=seed) if family(name) == "flnpf" else model
    init = gate_state(origin, sub[0])
    device = next(model.parameters()).device
    x, y = data.x_test.to(device), data.y_test.to(device)
    if not records:
        records.append({"epoch": 0, "test_acc": 100 * evaluate(model, x, y, "ce", 2048)[1]})
        records[0].update(measure(model, *sub, data.num_classes, init))
        atomic_write_json_recorded(path, records)
    tcfg = train_config(cfg, loss="ce", seed=seed, progress=False)
    tags = {"dataset": data.name, "regime": name, "run": run}
    done = {r["epoch"] for r in records}
    bar.update(len(done) - 1)
    for e in [e for e in range(1, cfg.epochs + 1) if e not in done] or [cfg.epochs]:
        hist, _ = train(model, data, tcfg, out, tag, tags=tags, best=False, keep_best=False, stop_after=e)
        if e in done:  # everything was measured: the call above only restored the trained weights
            break
        rec = hist.at(e)
        records.append(
            {
                "epoch": e,
                "test_acc": 100 * rec["test_acc"],
                "train_acc": 100 * rec["train_acc"],
                "train_loss": rec["train_loss"],
                **measure(model, *sub, data.num_classes, init),
            }
        )
        atomic_write_json_recorded(path, records)
        bar.update()
    return records, model


def trial(
    cfg: Config,
    loaded: dict[str, Splits],
    subsets: dict[str, tuple[torch.Tensor, torch.Tensor]],
    out: str,
    item: tuple[str, int],
) -> list[dict]:
    """One run on one data set: every regime in training order (``flnpf`` after ``relu``, whose
    trained gates it copies), each seeded by ``1000 · seed + run``. A top-level function, so that
    worker processes can run it.

    Args:
        loaded: the data sets by name; subsets: their fixed test subsets (:func:`_subset`).
        out: the run folder (checkpoints, ``metrics.jsonl``).
        item: ``(data set, run)``.

    Returns:
        One record per regime: ``{"dataset", "regime", "run", "epochs": [per-epoch measurements]}``.
    """
    ds, run_ = item
    names = regime_names(cfg.regimes, cfg.betas)
    relu, records = None, []
    with progress_bar(total=len(names) * cfg.epochs, desc=f"{ds} run {run_}", unit="ep") as bar:
        for name in names:
            recs, model = _one_run(cfg, loaded[ds], subsets[ds], name, run_, Path(out), relu, bar)
            relu = model if name == "relu" else relu
            records.append({"dataset": ds, "regime": name, "run": run_, "epochs": recs})
    return records


def _summary(runs: list[list[dict]]) -> dict:
    """Mean (and std) over runs of the final test accuracy, gates changed and alignment."""

    def stat(key: str, idx: int) -> tuple[float, float]:
        v = np.array([r[idx][key] for r in runs], dtype=float)
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0

    out: dict = {"runs": len(runs)}
    for key, name, idx in (
        ("test_acc", "test_acc", -1),
        ("gates_changed", "gates_changed", -1),
        ("gate_value_change", "gate_value_change", -1),
        ("alignment", "alignment_init", 0),
        ("alignment", "alignment_final", -1),
        ("nu", "nu_init", 0),
        ("nu", "nu_final", -1),
    ):
        out[name], out[f"{name}_std"] = stat(key, idx)
    return out


def _relation(records: list[dict]) -> dict:
    """Across runs: Spearman and Pearson correlation of final gates changed (and of the gain in
    alignment) with final test accuracy; all regimes, and the adaptive ones alone."""
    out: dict = {}
    for subset, keep in (("all", lambda r: True), ("adaptive", lambda r: family(r["regime"]) in ADAPTIVE)):
        rows = [r for r in records if keep(r)]
        acc = np.array([r["epochs"][-1]["test_acc"] for r in rows])
        for key, xs in (
            ("gates_changed", [r["epochs"][-1]["gates_changed"] for r in rows]),
            ("alignment_gain", [r["epochs"][-1]["alignment"] - r["epochs"][0]["alignment"] for r in rows]),
        ):
            x = np.array(xs)
            ok = len(rows) >= 3 and np.ptp(x) > 0 and np.ptp(acc) > 0
            out[f"{subset}_{key}"] = {
                "points": len(rows),
                "spearman": float(stats.spearmanr(x, acc).statistic) if ok else None,
                "pearson": float(stats.pearsonr(x, acc).statistic) if ok else None,
            }
    return out


def run(cfg: Config, out: Path) -> dict:
    check(cfg)
    names = regime_names(cfg.regimes, cfg.betas)
    loaded, skipped = {}, {}
    for ds in cfg.datasets:
        try:
            loaded[ds] = _load(cfg, ds)
        except DataNotFoundError as e:
            if len(cfg.datasets) == 1:
                raise
            skipped[ds] = str(e).splitlines()[0]
    if not loaded:
        raise ConfigError(f"none of the data sets {cfg.datasets} is installed: {'; '.join(skipped.values())}")
    results: dict = {
        "datasets": list(loaded),
        "skipped": skipped,
        "data": {ds: d.summary() for ds, d in loaded.items()},
        "setup": {
            "widths": list(cfg.widths),
            "epochs": cfg.epochs,
            "optimizer": cfg.optimizer,
            "lr": cfg.lr,
            "jobs": cfg.jobs,
        },
        "names": names,
        "runs": [],
    }
    subsets = {ds: _subset(data, cfg.align_points) for ds, data in loaded.items()}
    items = [(ds, run_) for ds in loaded for run_ in range(cfg.runs)]
    trials = map_trials(partial(trial, cfg, loaded, subsets, str(out)), items, cfg.jobs, desc="runs")
    results["runs"] = [rec for records in trials for rec in records]
    by_dataset = {}
    for ds in loaded:
        rows = [r for r in results["runs"] if r["dataset"] == ds]
        by_dataset[ds] = {n: _summary([r["epochs"] for r in rows if r["regime"] == n]) for n in names}
        results.setdefault("relation", {})[ds] = _relation(rows)
    results["by_dataset"] = by_dataset
    results["regimes"] = by_dataset[next(iter(loaded))]  # the first data set's (MNIST by default)
    return results
