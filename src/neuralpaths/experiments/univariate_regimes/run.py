"""univariate-regimes: the protocol — the scale-ratio sweep at every gain, the references and other data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neuralpaths import univariate as U
from neuralpaths.errors import ConfigError
from neuralpaths.models import Univariate
from neuralpaths.progress import progress_bar

from ..common import cached

REFERENCES = {"ntk": "NTK (M=1/√m)", "mean-field": "mean-field (M=1/m)"}
DATA_KINDS = ("zigzag", "gaussian")
SWEEP_KEYS = (
    "ratio",
    "dist_cubic",
    "dist_linear",
    "spline_coordinate",
    "knot_movement",
    "knots_near_samples",
)


@dataclass(frozen=True)
class Config:
    seed: int = 0  # the network's initialisation
    width: int = 500
    samples: int = 8
    zigzag: bool = True  # targets of alternating sign (else y ~ N(0, 1))
    data_seed: int = 1
    gain: float = 10.0  # s_in * s_out * width
    knots: str = "stratified"
    ratios: tuple[float, ...] = (1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0, 10.0)
    references: tuple[str, ...] = ("ntk", "mean-field")
    gains: tuple[float, ...] = (1.0, 100.0, 1000.0)  # further gains, same ratios (summary only)
    extra_data: tuple[str, ...] = ()  # further datasets "zigzag:SEED" / "gaussian:SEED" (summary only)
    steps: int = 200_000
    tol: float = 1e-6
    lr_factor: float = 1.0
    checkpoints: int = 30
    eps: float = 0.02  # "near a sample"
    plot_points: int = 400


def _datasets(cfg: Config) -> list[tuple[str, bool, int]]:
    """``(name, zigzag, seed)`` of the main dataset and the extra ones, after checking the config."""
    if len(cfg.ratios) < 2 or min(cfg.ratios) <= 0 or list(cfg.ratios) != sorted(set(cfg.ratios)):
        raise ConfigError(
            f"ratios must be >= 2 increasing positive numbers, e.g. 1e-4,1e-2,1; got {cfg.ratios}"
        )
    if unknown := set(cfg.references) - set(REFERENCES):
        raise ConfigError(f"unknown references {sorted(unknown)}: use any of {tuple(REFERENCES)}")
    if any(g <= 0 for g in cfg.gains) or len(set(cfg.gains)) < len(cfg.gains):
        raise ConfigError(f"gains must be distinct positive numbers; got {cfg.gains}")
    datasets = [(f"{'zigzag' if cfg.zigzag else 'gaussian'}:{cfg.data_seed}", cfg.zigzag, cfg.data_seed)]
    for item in cfg.extra_data:
        kind, _, seed = item.partition(":")
        if kind not in DATA_KINDS or not seed.isdigit():
            raise ConfigError(f"extra_data entries look like zigzag:3 or gaussian:0; got {item!r}")
        datasets.append((item, kind == "zigzag", int(seed)))
    if len({d[0] for d in datasets}) < len(datasets):
        raise ConfigError(
            f"extra_data repeats a dataset (the main one is {datasets[0][0]}): {cfg.extra_data}"
        )
    return datasets


def equivalent_gain(kind: str, width: int, gain: float) -> float:
    """The gain of the ``init="scale"`` net at ratio 1 that gradient descent treats like ``kind``."""
    return {"scale": gain, "ntk": math.sqrt(width), "mean-field": 1.0}[kind]


def _samples(cfg: Config, zigzag: bool, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The samples and a plotting grid reaching 5% beyond them. Shape: ``-> (n,), (n,), (points,)``."""
    x, y = U.interpolation_samples(cfg.samples, zigzag=zigzag, seed=seed)
    pad = 0.05 * (x.max() - x.min())
    return x, y, np.linspace(x.min() - pad, x.max() + pad, cfg.plot_points)


def _values(model: Univariate, grid: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(grid)).numpy()


def _train(cfg: Config, kind: str, gain: float, ratio: float, x, y, plot_grid, detail: str) -> dict:
    """One training run: the fit summary; with ``detail="fit"`` also the fit and the frozen-knot
    limit on ``plot_grid`` and the final knots; ``"full"`` adds the knot trajectories."""
    init = "scale" if kind == "scale" else kind
    model = Univariate(cfg.width, init=init, scale=ratio, gain=gain, knots=cfg.knots, seed=cfg.seed).double()
    k0, kernel = model.knots(), U.min_norm_interpolant(model, x, y)
    res = U.train_univariate(
        model, x, y, steps=cfg.steps, tol=cfg.tol, lr_factor=cfg.lr_factor, checkpoints=cfg.checkpoints
    )
    grid = U.sample_grid(x)
    ref = U.linear_interpolant(x, y, grid)
    out = {"kind": kind, "gain": equivalent_gain(kind, cfg.width, gain), "ratio": ratio}
    out |= U.fit_summary(model, x, y, k0, eps=cfg.eps)
    out["dist_kernel"] = U.distance(_values(model, grid), _values(kernel, grid), reference=ref)
    out |= {k: getattr(res, k) for k in ("steps", "converged", "final_loss", "flow_time", "lr", "seconds")}
    if detail in ("fit", "full"):  # 6 significant digits: for the figures only
        out["fit"] = _short(_values(model, plot_grid))
        out["kernel_fit"] = _short(_values(kernel, plot_grid))
        out["final_knots"] = _short(res.knots[-1])
        out["final_delta_slopes"] = _short(res.delta_slopes[-1])
    if detail == "full":
        out["checkpoint_steps"] = res.checkpoint_steps.tolist()
        out["knot_trajectories"] = _short(res.knots)  # (checkpoints, width)
    return out


def _short(a: np.ndarray) -> list:
    """``a`` as nested lists of floats rounded to 6 significant digits (infinite knots stay inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = 5 - np.floor(np.log10(np.abs(a)))
    digits = np.where(np.isfinite(digits), digits, 0).astype(int)
    return np.vectorize(lambda v, d: round(float(v), int(d)), otypes=[float])(a, digits).tolist()


def _sweep(runs: list[dict], **tags) -> dict:
    light = [{k: r[k] for k in (*SWEEP_KEYS, "converged")} for r in runs]
    return {**tags, "runs": light, "crossings": crossings(light)}


def run(cfg: Config, out: Path) -> dict:
    datasets = _datasets(cfg)
    main = datasets[0]
    gains = [cfg.gain] + [g for g in cfg.gains if g != cfg.gain]
    jobs = [(main, g, "scale", r) for g in gains for r in cfg.ratios]  # (data, gain, kind, ratio)
    jobs += [(main, cfg.gain, k, 1.0) for k in cfg.references]
    jobs += [(d, cfg.gain, "scale", r) for d in datasets[1:] for r in cfg.ratios]
    records: dict[tuple, dict] = {}
    with progress_bar(total=len(jobs), desc="univariate-regimes", leave=True) as bar:
        for (name, zigzag, data_seed), gain, kind, ratio in jobs:
            x, y, plot_grid = _samples(cfg, zigzag, data_seed)
            ends = kind == "scale" and ratio in (cfg.ratios[0], cfg.ratios[-1])
            detail = ("full" if ends else "fit") if (name, gain) == (main[0], cfg.gain) else "none"
            tag = f"{name.replace(':', '-')}_{kind}_gain{gain:g}_ratio{ratio:g}"
            bar.set_postfix_str(f"{name} {kind} gain={gain:g} ratio={ratio:g}")
            args = (cfg, kind, gain, ratio, x, y, plot_grid, detail)
            records[name, gain, kind, ratio] = cached(out / "checkpoints" / f"{tag}.json", _train, *args)
            bar.update(1)
    x, y, plot_grid = _samples(cfg, main[1], main[2])
    runs = [records[main[0], cfg.gain, "scale", r] for r in cfg.ratios]
    by_data = lambda d, g: [records[d, g, "scale", r] for r in cfg.ratios]
    return {
        "data": main[0],
        "width": cfg.width,
        "gain": cfg.gain,
        "eps": cfg.eps,
        "samples": {"x": x.tolist(), "y": y.tolist()},
        "plot_grid": plot_grid.tolist(),
        "cubic": U.natural_cubic_spline(x, y)(plot_grid).tolist(),
        "linear": U.linear_interpolant(x, y, plot_grid).tolist(),
        "runs": runs,
        "crossings": crossings(runs),
        "references": [records[main[0], cfg.gain, k, 1.0] for k in cfg.references],
        "gain_sweep": [_sweep(by_data(main[0], g), gain=g) for g in sorted(gains)],
        "same_sign_kinks": same_sign_kinks(x, y),
        "datasets": [
            _sweep(
                by_data(d[0], cfg.gain),
                data=d[0],
                same_sign_kinks=same_sign_kinks(*_samples(cfg, *d[1:])[:2]),
            )
            for d in datasets[1:]
        ],
    }


def crossings(runs: list[dict]) -> list[float]:
    """Ratios where ``dist_cubic - dist_linear`` changes sign (interpolated linearly in log ratio)."""
    r = np.log10([run["ratio"] for run in runs])
    d = np.array([run["dist_cubic"] - run["dist_linear"] for run in runs])
    idx = np.flatnonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)
    return [float(10 ** (r[i] + (r[i + 1] - r[i]) * d[i] / (d[i] - d[i + 1]))) for i in idx]


def same_sign_kinks(x, y) -> int:
    """How many neighbouring slope changes of the linear interpolant bend the same way (0 for
    zig-zag data); there knots can slide between the samples at no cost in ``∫ |f''|``."""
    kinks = np.diff(np.diff(y) / np.diff(x))
    return int(np.sum(kinks[1:] * kinks[:-1] > 0))
