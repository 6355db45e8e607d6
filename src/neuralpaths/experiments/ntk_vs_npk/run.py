"""ntk-vs-npk: the protocol — redraw the value weights at every width and compare K_v with c·H."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neuralpaths.data import load_dataset
from neuralpaths.errors import ConfigError
from neuralpaths.kernels import kernel_alignment, npk, ntk, shared_weight_npk, value_ntk_constant
from neuralpaths.models import DGN, Arch, init_layers_
from neuralpaths.progress import progress_bar

from ..common import cached, resolve_device

SIGMAS = ("equal", "fan_in")


@dataclass(frozen=True)
class Config:
    seed: int = 0
    fc_widths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048)
    fc_depth: int = 4  # weight layers: depth - 1 hidden layers of width w
    fc_points: int = 100  # MNIST test points
    conv_widths: tuple[int, ...] = (
        8,
        16,
        32,
        64,
        128,
        256,
    )  # channels of every conv layer (and the dense one)
    conv_layers: int = 2
    conv_points: int = 32  # 8x8 digits (scikit-learn), test split
    draws: int = 64  # value-weight draws per width
    sigma: str = "equal"  # value weights ±σ_l: "equal" σ = √(2/w) in every layer, or "fan_in" √(2/fan_in_l)
    threads: int = 1
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): where the kernels are computed


def _check(cfg: Config) -> None:
    resolve_device(cfg.device)
    if cfg.sigma not in SIGMAS:
        raise ConfigError(f"sigma must be one of {SIGMAS}, got {cfg.sigma!r}")
    if cfg.draws < 2:
        raise ConfigError(f"draws must be >= 2 (the Monte-Carlo mean needs several), got {cfg.draws}")
    for name in ("fc_widths", "conv_widths"):
        ws = getattr(cfg, name)
        if ws and (min(ws) < 1 or list(ws) != sorted(set(ws))):
            raise ConfigError(f"{name} must be increasing positive widths, got {ws}")
    if len(cfg.fc_widths) + len(cfg.conv_widths) == 0:
        raise ConfigError("nothing to do: fc_widths and conv_widths are both empty")
    if cfg.fc_widths and cfg.fc_depth < 2:
        raise ConfigError(f"fc_depth counts weight layers and must be >= 2, got {cfg.fc_depth}")
    if cfg.conv_widths and cfg.conv_layers < 1:
        raise ConfigError(f"conv_layers must be >= 1, got {cfg.conv_layers}")


def _draw_counts(draws: int) -> list[int]:
    """Numbers of draws at which the Monte-Carlo mean is scored: 1, 2, 4, ..., draws."""
    ms = [2**i for i in range(int(math.log2(draws)) + 1)]
    return ms if ms[-1] == draws else [*ms, draws]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def measure(
    model: DGN, x: torch.Tensor, draws: int, seed: int, targets: dict, bar, sigma: float | None = None
) -> dict:
    """Redraw ``model``'s value weights ``±σ`` (``sigma=None``: ``±√(2/fan_in)`` per layer) ``draws``
    times; errors against ``c·H`` for each kernel ``H`` in ``targets`` (name -> kernel), single draws
    and running Monte-Carlo means."""
    g = torch.Generator().manual_seed(seed)
    counts = _draw_counts(draws)
    single = {k: [] for k in targets}
    curve = {k: [] for k in targets}
    total, const = None, None
    for i in range(1, draws + 1):
        init_layers_(model.value, "pm", generator=g, sigma=sigma)
        if const is None:  # ±σ_l weights: σ_l is any weight's magnitude
            const = value_ntk_constant([float(m.weight.detach().abs().max()) for m in model.value])
        k = ntk(model, x, wrt="value")
        total = k if total is None else total + k
        for name, h in targets.items():
            single[name].append(_rel(k, const * h))
            if i in counts:
                curve[name].append(_rel(total / i, const * h))
        bar.update()
    return {"const": const, "single": single, "mc_curve": curve, "mc_draws": counts}


def _nets(cfg: Config) -> list[dict]:
    nets = []
    if cfg.fc_widths:
        data = load_dataset("mnist", val_size=0, seed=cfg.seed, n_test=cfg.fc_points, flatten=True)
        nets.append(
            {
                "key": "fc",
                "label": f"FC 784-{'w-' * (cfg.fc_depth - 1)}1, {cfg.fc_points} MNIST points",
                "widths": cfg.fc_widths,
                "x": data.x_test.double(),
                "arch": lambda w: Arch.mlp(784, [w] * (cfg.fc_depth - 1), 1),
            }
        )
    if cfg.conv_widths:
        data = load_dataset("digits", seed=cfg.seed, n_test=cfg.conv_points)
        nets.append(
            {
                "key": "gconv",
                "label": f"GCONV {'conv w-' * cfg.conv_layers}GAP-w-1, {cfg.conv_points} 8x8 digits",
                "widths": cfg.conv_widths,
                "x": data.x_test.double(),
                "arch": lambda w: Arch((1, 8, 8), (w,) * cfg.conv_layers, (w,), 1, "gap", 3, False),
            }
        )
    return nets


def _width(cfg: Config, net: dict, w: int, bar) -> dict:
    """One width of one net: its frozen-gate DGN, the kernels ``c·H`` is compared with, the draws."""
    seed = 1000 * cfg.seed + w
    dev = resolve_device(cfg.device)
    model = DGN.regime("frnpf-ii", net["arch"](w), seed=seed, init="pm").double().to(dev)
    x = net["x"].to(dev)
    targets = {"npk": npk(model, x)}
    extra = {}
    if model.arch.is_conv:  # weight sharing: E[K_v] = c · H̄ (shift-summed NPK)
        targets = {"shared": shared_weight_npk(model, x), "unrolled": targets["npk"]}
        extra["alignment_shared_unrolled"] = kernel_alignment(targets["shared"], targets["unrolled"])
        extra["scale_shared_unrolled"] = float(targets["shared"].trace() / targets["unrolled"].trace())
    sigma = math.sqrt(2 / w) if cfg.sigma == "equal" else None
    return {"width": w, **extra, **measure(model, x, cfg.draws, seed + 1, targets, bar, sigma)}


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    nets = _nets(cfg)
    results: dict = {"draws": cfg.draws, "sigma": cfg.sigma, "nets": {}}
    total = cfg.draws * sum(len(n["widths"]) for n in nets)
    with progress_bar(total=total, desc="value NTK draws", unit="draw") as bar:
        for net in nets:
            rows = []
            for w in net["widths"]:
                path = out / "checkpoints" / f"{net['key']}-w{w}.json"
                if path.exists():  # finished earlier (resume): its draws count as done
                    bar.update(cfg.draws)
                rows.append(cached(path, _width, cfg, net, w, bar))
            results["nets"][net["key"]] = {"label": net["label"], "rows": rows}
    results["slopes"] = {key: slopes(r["rows"]) for key, r in results["nets"].items()}
    return results


def _fit(widths: np.ndarray, errs: np.ndarray) -> float:
    return float(np.polyfit(np.log(widths), np.log(errs), 1)[0])


def slopes(rows: list[dict]) -> dict:
    """Log–log slopes of error vs width, per compared kernel: of each draw's error (mean ± std over
    draw indices), of the mean single-draw error, and of the Monte-Carlo mean's error."""
    if len(rows) < 2:
        return {}
    widths = np.array([r["width"] for r in rows], dtype=float)
    out = {}
    for name in rows[0]["single"]:
        single = np.array([r["single"][name] for r in rows])  # (widths, draws)
        per_draw = [_fit(widths, single[:, j]) for j in range(single.shape[1])]
        out[name] = {
            "single_mean": float(np.mean(per_draw)),
            "single_std": float(np.std(per_draw, ddof=1)),
            "of_mean": _fit(widths, single.mean(1)),
            "mc": _fit(widths, np.array([r["mc_curve"][name][-1] for r in rows])),
        }
    return out
