"""ntk-vs-npk: Identity 3 across widths — the value NTK of fixed gates is ``const · NPK`` on average,
and one draw of the value weights gets there as the width grows.

For a DGN with a frozen random gating network (FRNPF-II) the value weights are redrawn ``±σ_l``
(``σ_l = √(2/fan_in)``) ``draws`` times; each draw's NTK with respect to the value weights ``K_v``
is compared with ``c · H``, ``c = Σ_l Π_{l'≠l} σ_{l'}²`` (:func:`~neuralpaths.kernels.value_ntk_constant`)
and ``H`` the NPK of the gates, by the relative Frobenius error ``‖K_v − cH‖_F / ‖cH‖_F``:

- a single draw (mean ± std over draws; its log–log slope against width, fitted per draw and over
  the mean error: ``≈ −1/2`` expected, since ``K_v`` sums ``~width`` weakly dependent terms per layer);
- the Monte-Carlo mean of the ``D`` draws: Identity 3 is exact in expectation, so its error is pure
  sampling noise, ``≈ single-draw error / √D`` (a floor set by ``D``, not a bias; the figure
  ``mc_vs_draws.png`` shows it falling as ``m^{−1/2}`` with the number of draws ``m`` at every width).

Nets: **FC** ``784 → w → w → w → 1`` on 100 MNIST test points; **GCONV** (GCONV-style)
``conv w → conv w → global average pooling → dense w → 1`` (3×3 "same" convs) on 32 8×8 digits.
For the conv net with weight sharing and GAP the expectation is *not* ``c·H``: paths that are
translates of each other use the same weights, so ``E[K_v] = c·H̄`` with ``H̄`` the NPK summed over
relative shifts (:mod:`._ntk_vs_npk_conv`, exact — checked against enumeration of all ±σ weights in
the tests). The conv net is compared with both; against the unrolled NPK ``H`` the error stays
``O(1)`` at every width.

Command:  ``neuralpaths run ntk-vs-npk`` (default: FC widths 32…2048, GCONV 8…256 channels, 64 draws,
value weights ``±√(2/w)`` in every layer; 65 s on 1 CPU thread). Paper scale: ``--preset paper``
(FC to 4096, 256 draws; estimated ~15 minutes, not timed). ``--set sigma=fan_in`` draws
``±√(2/fan_in)`` per layer instead.

Measured (default preset, seed 0): FC single-draw error 0.73 (w = 32) → 0.093 (w = 2048), fitted
slope −0.48 ± 0.05 over draws; the mean of 64 draws 0.078 → 0.011, at its sampling floor
(0.95 × rms(single)/√64). GCONV against ``c·H̄``: 0.63 (8 channels) → 0.10 (256), slope
−0.49 ± 0.28 (single draws are heavy-tailed at small widths); the mean of 64 draws 0.023 → 0.0025.
Against the unrolled ``c·H`` the GCONV error is ≈ 24 at every width (tr H̄ / tr H ≈ 10–12, cosine
0.93–0.95): for conv nets with GAP, Identity 3 holds with the shift-summed NPK.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data import load_dataset
from ..errors import ConfigError
from ..io import atomic_write_json, read_json
from ..kernels import kernel_alignment, npk, ntk, shared_weight_npk, value_ntk_constant
from ..models import DGN, Arch, init_layers_
from ..progress import progress_bar
from ._ntk_vs_npk_report import plot, summary, tables  # noqa: F401 (the experiment protocol)

NAME = "ntk-vs-npk"
DESCRIPTION = (
    "Identity 3: value NTK of fixed gates vs const·NPK across widths (FC and GCONV), single draw and MC mean"
)
SIGMAS = ("equal", "fan_in")
RUNTIME = "~1 min on 1 CPU thread (default); paper preset ~15 min (estimated)"


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


def _check(cfg: Config) -> None:
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
        k = ntk(model, x, params="value")
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


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    nets = _nets(cfg)
    cache = out / "checkpoints"
    results: dict = {"draws": cfg.draws, "sigma": cfg.sigma, "nets": {}}
    bar = progress_bar(
        total=cfg.draws * sum(len(n["widths"]) for n in nets), desc="value NTK draws", unit="draw"
    )
    with bar:
        for net in nets:
            rows = []
            for w in net["widths"]:
                path = cache / f"{net['key']}-w{w}.json"
                if path.exists():  # finished earlier (resume)
                    rows.append(read_json(path))
                    bar.update(cfg.draws)
                    continue
                seed = 1000 * cfg.seed + w
                model = DGN.regime("frnpf-ii", net["arch"](w), seed=seed, init="pm").double()
                targets = {"npk": npk(model, net["x"])}
                extra = {}
                if model.arch.is_conv:  # weight sharing: E[K_v] = c · H̄ (shift-summed NPK)
                    targets = {"shared": shared_weight_npk(model, net["x"]), "unrolled": targets["npk"]}
                    extra["alignment_shared_unrolled"] = kernel_alignment(
                        targets["shared"], targets["unrolled"]
                    )
                    extra["scale_shared_unrolled"] = float(
                        targets["shared"].trace() / targets["unrolled"].trace()
                    )
                sigma = math.sqrt(2 / w) if cfg.sigma == "equal" else None
                row = {
                    "width": w,
                    **extra,
                    **measure(model, net["x"], cfg.draws, seed + 1, targets, bar, sigma),
                }
                atomic_write_json(path, row)
                rows.append(row)
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
