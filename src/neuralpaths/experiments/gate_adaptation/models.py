"""gate-adaptation: the regimes (names and how each is built) and what is measured after every epoch.

Every regime of one run starts from the same draws: ``DGN.regime(name, arch, seed=s)`` first draws the
ReLU net of seed ``s`` (the value network every regime starts from) and then, from the same generator,
one independent gating network (shared by FRNPF, the soft-gated DGNs and DLNPF).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from neuralpaths.errors import ConfigError
from neuralpaths.kernels import npk, nu, one_hot, target_alignment
from neuralpaths.models import DGN, Arch, ReLUNet

FAMILIES = ("relu", "frnpf", "soft", "dlnpf", "flnpf")
ADAPTIVE = ("relu", "soft", "dlnpf")  # gates that change during training


def regime_names(families: tuple[str, ...], betas: tuple[float, ...]) -> list[str]:
    """Regime names in training order (``flnpf`` last: it needs the trained ReLU net); ``soft`` expands
    to one ``soft-b<β>`` per β."""
    bad = set(families) - set(FAMILIES)
    if bad or not families:
        raise ConfigError(f"regimes must be among {FAMILIES}, got {families}")
    if "flnpf" in families and "relu" not in families:
        raise ConfigError("regime flnpf copies the trained ReLU net's gates: add relu to regimes")
    if "soft" in families and (not betas or min(betas) <= 0):
        raise ConfigError(f"betas must be positive soft-gate sharpnesses, got {betas}")
    names: list[str] = []
    for fam in FAMILIES:
        if fam in families:
            names += [f"soft-b{b:g}" for b in betas] if fam == "soft" else [fam]
    return names


def family(name: str) -> str:
    """``soft-b4`` -> ``soft``; other names are their own family."""
    return name.split("-")[0]


def beta_of(name: str) -> float:
    """The β of a ``soft-b<β>`` regime name."""
    return float(name.split("-b", 1)[1])


def build(name: str, arch: Arch, seed: int, cfg, relu_trained: ReLUNet | None = None) -> nn.Module:
    """Regime ``name``'s model at initialisation (``flnpf``: gates of ``relu_trained``, frozen)."""
    kind = family(name)
    if kind == "relu":
        return ReLUNet(arch, init=cfg.init, seed=seed)
    if kind == "frnpf":
        return DGN.regime("frnpf-ii", arch, seed=seed, init=cfg.init)
    if kind == "soft":  # the DGN paper's gating values in [0, 1]: ε = 0
        return DGN.regime("dlnpf", arch, seed=seed, init=cfg.init, beta=beta_of(name), eps=0.0)
    if kind == "dlnpf":
        return DGN.regime("dlnpf", arch, seed=seed, init=cfg.init, beta=cfg.dlnpf_beta, eps=cfg.dlnpf_eps)
    return DGN.regime("flnpf", arch, seed=seed, init=cfg.init, relu_net=relu_trained)


@torch.no_grad()
def gate_state(model: nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``(on/off sides 1{q > 0}, gate values)`` per hidden layer on ``x`` (for hard gates the two agree
    up to the gate's ``1 + ε``), computed on the CPU in float64.

    Shape:
        ``x: (n, d) -> ([(n, units_l)], [(n, units_l)])``.
    """
    m = copy.deepcopy(model).cpu().double().eval()
    x = x.cpu().double()
    return [(q > 0).flatten(1) for q in m.preactivations(x)], m.gates(x)


@torch.no_grad()
def measure(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int, init: tuple[list, list]
) -> dict:
    """On the fixed subset ``x, y``: the fraction of gates whose on/off side changed since ``init``
    (a :func:`gate_state`), the mean absolute change of the gate values, and the NPK's label alignment
    (ν per one-vs-rest problem, with ``ridge`` 1e-8 added to ``H / tr H`` only where ``H`` is singular,
    and the centred alignment, with ±1 one-hot targets).

    Shape:
        ``x: (n, d)``, ``y: (n,)`` integer labels.
    """
    sides, values = gate_state(model, x)
    flips = sum(int((a != b).sum()) for a, b in zip(sides, init[0]))
    units = sum(a.numel() for a in sides)
    shift = sum(float((a - b).abs().sum()) for a, b in zip(values, init[1])) / units
    h = npk(copy.deepcopy(model).cpu().double().eval(), x.cpu().double())
    targets = one_hot(y.cpu(), num_classes, off=-1.0, dtype=torch.float64)
    try:
        nu_value, ridge = nu(h, targets) / num_classes, 0.0
    except ValueError:  # a singular NPK (e.g. a point with every gate of a layer off): a tiny ridge
        nu_value, ridge = nu(h, targets, ridge=1e-8) / num_classes, 1e-8
    return {
        "gates_changed": flips / units,
        "gate_value_change": shift,
        "active": float(np.mean([float(a.double().mean()) for a in sides])),
        "nu": nu_value,
        "nu_ridge": ridge,
        "alignment": target_alignment(h, targets, centered=True),
    }
