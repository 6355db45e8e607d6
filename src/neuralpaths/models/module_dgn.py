"""A deep gated network made of copies of *your* module: ``DGN.from_module(module, regime)``.

The gating network and the value network are two copies of the same ``nn.Module`` (any module the
path view reads: see :func:`neuralpaths.graph.trace`). The gating copy runs as it is and its gates
are recorded — ``G = gate(q)`` at every ReLU / LeakyReLU, the window selection at every max-pool —
and the value copy runs with those gates in place of its own: ``h = u ⊙ G`` at a ReLU,
``Σ_K s ⊙ window`` at a max-pool. With hard gates and the two copies being one module (regime
``relu``), that *is* the module: identical outputs, gates and gradients.

Soft gates (regime ``dlnpf``): ``(1+ε)·σ(β q)`` at a ReLU (``α + (1−α)·(1+ε)σ(βq)`` at a LeakyReLU),
and at a max-pool the window's ``softmax(β q)`` — a soft argmax, differentiable in the gating
weights, that becomes the hard selection as ``β → ∞``.

============  ============================================================  ==============
regime        gating network                                                value network
============  ============================================================  ==============
relu          the module itself (tied)                                      the module
frnpf-ii      a freshly initialised copy, frozen                            copy of module
frnpf-di      a copy of the module (its current = initial weights), frozen  copy of module
flnpf         a copy of the (trained) module, frozen                        fresh copy
dlnpf         a freshly initialised copy, trained through soft gates        copy of module
============  ============================================================  ==============

A frozen gating network also stays in eval mode while the DGN trains (its BatchNorm statistics
and its gates do not move).

Shape:
    ``x: (n, *in_shape) -> (n, k)``.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from ..gate import Gate
from ..graph.ir import PathGraph
from ..graph.model import PathModel
from ..graph.run import gated, record
from ..graph.trace import trace
from .init import init_layers_, make_generator

REGIMES = ("relu", "frnpf-ii", "frnpf-di", "flnpf", "dlnpf")


@torch.no_grad()
def reinitialise_(
    module: nn.Module, init: str = "torch", seed: int | torch.Generator | None = None
) -> nn.Module:
    """Draw fresh weights for every ``Linear``/``Conv`` (``init`` scheme, seeded) and reset every
    BatchNorm (``γ = 1``, ``β = 0``, running statistics 0 / 1). Returns ``module``."""
    g = make_generator(seed)
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            init_layers_([m], init, generator=g)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_parameters()
    return module


class ModuleDGN(nn.Module):
    """A DGN whose gating and value networks are copies of one module (see the module docstring).

    Build it with :meth:`neuralpaths.models.DGN.from_module`. Attributes ``value`` and ``gating`` are the two
    networks (the same module when ``tied``); ``gate`` the gate setting; ``regime`` its name.
    """

    def __init__(
        self,
        value: nn.Module,
        gating: nn.Module,
        *,
        gate: Gate | None = None,
        regime: str = "",
        value_input: str = "x",
        in_shape: tuple[int, ...] | None = None,
    ):
        super().__init__()
        self.value, self.gating, self.gate, self.regime = value, gating, gate or Gate(), regime
        self.value_input = value_input
        self.in_shape = tuple(in_shape) if in_shape is not None else None
        self.graph: PathGraph = trace(value)
        if gating is not value and [s.kind for s in trace(gating).steps] != [
            s.kind for s in self.graph.steps
        ]:
            raise ValueError("the gating and value networks must be copies of the same module")

    @property
    def tied(self) -> bool:
        return self.gating is self.value

    @property
    def gating_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.gating.parameters())

    def freeze_gating(self) -> ModuleDGN:
        if self.tied:
            raise ValueError("cannot freeze the gating network of a tied DGN (it is the value network)")
        for p in self.gating.parameters():
            p.requires_grad_(False)
        self.gating.eval()
        return self

    def train(self, mode: bool = True) -> ModuleDGN:
        super().train(mode)
        if not self.tied and self.gating_frozen:
            self.gating.eval()  # frozen gates do not move, BatchNorm statistics included
        return self

    def value_parameters(self) -> list[nn.Parameter]:
        return list(self.value.parameters())

    def gating_parameters(self) -> list[nn.Parameter]:
        return list(self.gating.parameters())

    def gate_dict(self, x: Tensor) -> dict[str, Tensor]:
        """Gates per gate step of the graph (``{name: tensor}``, in order)."""
        if self.gate.hard:  # no gradient passes a hard gate
            with torch.no_grad():
                return record(self.graph, self.gating, x, self.gate)[1]
        return record(self.graph, self.gating, x, self.gate)[1]

    def gate_maps(self, x: Tensor) -> list[Tensor]:
        """Gates per gate step: ReLU ``(n, *unit_shape)``, max-pool ``(n, C, K, L)``."""
        return list(self.gate_dict(x).values())

    def gates(self, x: Tensor) -> list[Tensor]:
        """Gates per gate step, flattened: ``[(n, units)]``."""
        return [g.flatten(1) for g in self.gate_maps(x)]  # (n, *shape) -> (n, units)

    def value_input_for(self, x: Tensor) -> Tensor:
        return x if self.value_input == "x" else x.new_ones(x.shape)

    def forward(self, x: Tensor) -> Tensor:
        return gated(self.graph, self.value, self.value_input_for(x), self.gate_dict(x))

    def path_model(self) -> PathModel:
        return PathModel(self.graph, self.value, self.gate_dict, self.value_input, self.in_shape, self.gating)

    def extra_repr(self) -> str:
        return f"regime={self.regime!r}, gate={self.gate}, tied={self.tied}"

    @classmethod
    def build(
        cls,
        module: nn.Module,
        regime: str = "relu",
        *,
        seed: int | torch.Generator | None = None,
        init: str = "torch",
        beta: float = 4.0,
        eps: float = 0.1,
        in_shape: tuple[int, ...] | None = None,
    ) -> ModuleDGN:
        """Build regime ``regime`` from any supported ``nn.Module`` (biases, strides, max-pooling,
        residual blocks, ...); also reached as ``DGN.from_module``. The gating and value networks are
        copies of ``module`` (``relu``: ``module`` itself, tied); same regimes and meaning as
        :meth:`~neuralpaths.models.dgn.DGN.from_relu` (table in the module docstring); a max-pool is
        gated too (soft: the window's softmax). Fresh weights use ``init`` and ``seed``; ``beta``,
        ``eps`` set the soft gates of ``dlnpf``; ``in_shape`` (one sample's shape) is needed by
        ``npv``/``path_norm`` of conv nets.
        """
        key = regime.lower().replace("_", "-")
        if key not in REGIMES:
            raise ValueError(f"unknown regime {regime!r}: use one of {', '.join(REGIMES)}")
        if not isinstance(module, nn.Module):
            raise TypeError(f"from_module needs a torch.nn.Module, got {type(module).__name__}")
        if key == "relu":
            return cls(module, module, regime=key, in_shape=in_shape)
        g = make_generator(seed)
        gate = Gate(beta=beta, eps=eps) if key == "dlnpf" else Gate()
        value = copy.deepcopy(module)
        if key == "flnpf":  # gates learned by the module, a fresh value network
            gating, value = value, reinitialise_(copy.deepcopy(module), init, g)
        elif key == "frnpf-di":  # gates of the module's own (initial) weights
            gating = copy.deepcopy(module)
        else:  # frnpf-ii, dlnpf: gates of an independent initialisation
            gating = reinitialise_(copy.deepcopy(module), init, g)
        dgn = cls(value, gating, gate=gate, regime=key, in_shape=in_shape)
        for p in dgn.value.parameters():
            p.requires_grad_(True)
        if key != "dlnpf":
            dgn.freeze_gating()
        dgn.train(module.training)
        return dgn
