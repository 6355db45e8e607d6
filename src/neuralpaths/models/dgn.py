"""Deep gated networks: a gating network decides which units are on, a value network holds the weights.

``q_l = Θᶠ_l z_{l-1}``, ``z_l = relu(q_l)`` (``gating="relu"``), ``z_l = q_l`` (``"linear"``, DLGN) or
``q_l = V_l x`` (``"shallow"``, DLGN-SF); gates ``G_l = gate(q_l)``; value network
``h_0 = x`` or ones, ``h_l = (Θᵛ_l h_{l-1}) ⊙ G_l``, ``ŷ = Θᵛ_d h_{d-1}``.

A ReLU network is the DGN whose gating layers *are* its value layers (``regime="relu"``). The NPF
paper's regimes are built by :meth:`DGN.regime` / :meth:`DGN.from_relu`:

============  ==============================================================  ===========
regime        gating network                                                  gates
============  ==============================================================  ===========
relu          tied to the value network                                       hard
frnpf-ii      random, initialised independently, frozen                       hard
frnpf-di      copy of the value network's initial weights, frozen             hard
flnpf         copy of a trained ReLU net, frozen; value network fresh         hard
dlnpf         random, trained jointly through soft gates                      soft β=4, ε=0.1
============  ==============================================================  ===========

Shape:
    ``x: (n, *arch.in_shape) -> (n, arch.out_dim)``.
"""

from __future__ import annotations

import copy
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..gate import Gate
from .arch import Arch, chain_preactivations, check_arch, gated_forward, layer_params, make_layers
from .base import VALUE_INPUTS, GatedModel
from .init import init_layers_, make_generator
from .mlp import ReLUNet
from .module_dgn import ModuleDGN

GATINGS = ("relu", "linear", "shallow")
REGIMES = ("relu", "frnpf-ii", "frnpf-di", "flnpf", "dlnpf")


def _check_regime(name: str) -> str:
    key = name.lower().replace("_", "-")
    if key not in REGIMES:
        raise ValueError(f"unknown regime {name!r}: use one of {', '.join(REGIMES)}")
    return key


class DGN(GatedModel):
    """A deep gated network of any :class:`Arch`.

    Args:
        arch: the architecture shared by the gating and value networks.
        gating: ``"relu"`` (DGN), ``"linear"`` (deep linear gating, DLGN) or ``"shallow"`` (each
            layer's gates a linear function of the input, DLGN-SF; fully connected only).
        gate: ``"hard"``, ``"soft"`` (with ``beta``, ``eps``) or a :class:`Gate`.
        value_input: ``"x"`` or ``"ones"`` (the value network is fed the all-ones input).
        init: initialisation scheme (see :mod:`neuralpaths.models.init`).
        seed: seed of the initialisation.
        gating_bias: biases in the gating network (default: ``arch.bias``, which also sets the value
            network's). Gating biases move the gates' hyperplanes off the origin without adding
            bias paths to the value network.

    Attributes: ``gating_kind`` (the ``gating`` argument), ``gating`` and ``value`` (the two networks,
    ``ModuleList``\\ s), ``gate``, ``value_input``.
    """

    def __init__(
        self,
        arch: Arch,
        *,
        gating: str = "relu",
        gate: Gate | str = "hard",
        beta: float = 4.0,
        eps: float = 0.1,
        value_input: str = "x",
        init: str = "torch",
        seed: int | torch.Generator | None = None,
        gating_bias: bool | None = None,
    ):
        super().__init__()
        check_arch(arch)
        if gating_bias is not None and not isinstance(gating_bias, bool):
            raise TypeError(f"gating_bias must be True, False or None (as arch.bias), got {gating_bias!r}")
        if gating not in GATINGS:
            raise ValueError(f"unknown gating network {gating!r}: use one of {GATINGS}")
        if gating == "shallow" and arch.is_conv:
            raise ValueError("shallow (DLGN-SF) gating is defined for fully connected nets only")
        if value_input not in VALUE_INPUTS:
            raise ValueError(f"unknown value_input {value_input!r}: use one of {VALUE_INPUTS}")
        self.arch, self.gating_kind, self.value_input = arch, gating, value_input
        self.gate = Gate.parse(gate, beta, eps)
        g = make_generator(seed)
        self.value = make_layers(arch)
        init_layers_(self.value, init, generator=g)
        gating_bias = arch.bias if gating_bias is None else gating_bias
        if gating == "shallow":
            self.gating = nn.ModuleList(nn.Linear(arch.in_dim, w, bias=gating_bias) for w in arch.dense)
        else:
            self.gating = make_layers(arch, arch.n_hidden, bias=gating_bias)
        init_layers_(self.gating, init, generator=g)

    # --- the two networks ---------------------------------------------------------------------
    @property
    def value_layers(self) -> nn.ModuleList:
        return self.value

    @property
    def gating_mode(self) -> str:
        """Deprecated name of ``gating_kind`` (``.gating`` is the gating *network*)."""
        warnings.warn("DGN.gating_mode is deprecated: use DGN.gating_kind", DeprecationWarning, stacklevel=2)
        return self.gating_kind

    @property
    def tied(self) -> bool:
        """True when the gating layers are the value network's own layers (a ReLU net)."""
        return all(g is v for g, v in zip(self.gating, self.value))

    @property
    def gating_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.gating.parameters())

    def freeze_gating(self) -> DGN:
        """Stop training the gating network: ``requires_grad=False`` on all its parameters."""
        if self.tied:
            raise ValueError("cannot freeze the gating network of a tied DGN (it is the value network)")
        for p in self.gating.parameters():
            p.requires_grad_(False)
        return self

    def value_parameters(self) -> list[nn.Parameter]:
        return list(self.value.parameters())

    def gating_parameters(self) -> list[nn.Parameter]:
        return list(self.gating.parameters())

    # --- forward ------------------------------------------------------------------------------
    def preactivations(self, x: Tensor) -> list[Tensor]:
        """Gate pre-activations ``q_l``, each ``(n, *arch.hidden_shapes[l])``."""
        self.check_input(x)
        w, b = layer_params(self.gating)
        if self.gating_kind == "shallow":
            return [F.linear(x, wi, bi) for wi, bi in zip(w, b)]
        act = torch.relu if self.gating_kind == "relu" else None
        return chain_preactivations(self.arch, w, x, act, b)

    def gate_maps(self, x: Tensor) -> list[Tensor]:
        return [self.gate(q) for q in self.preactivations(x)]

    def forward(self, x: Tensor) -> Tensor:
        gates = self.gate_maps(x)
        w, b = layer_params(self.value)
        return gated_forward(self.arch, w, self.value_input_for(x), gates, b)

    def extra_repr(self) -> str:
        return f"gating={self.gating_kind!r}, gate={self.gate}, value_input={self.value_input!r}"

    # --- the NPF paper's regimes --------------------------------------------------------------
    @classmethod
    def from_relu(
        cls,
        net: ReLUNet,
        regime: str = "relu",
        *,
        seed: int | torch.Generator | None = None,
        init: str = "torch",
        beta: float = 4.0,
        eps: float = 0.1,
    ) -> DGN:
        """Build a regime from a ReLU network ``net``.

        ``relu`` ties to ``net`` itself (same modules: identical outputs, gates and gradients);
        ``flnpf`` copies ``net``'s hidden layers into a frozen gating network and trains a fresh value
        network (``net`` is the *trained* ReLU net); ``frnpf-di`` copies ``net`` into both networks
        (``net`` holds the *initial* weights) and freezes the gating one; ``frnpf-ii`` copies ``net``
        into the value network and draws a fresh, frozen gating network; ``dlnpf`` copies ``net`` into
        the value network and draws a fresh gating network trained through soft gates (``beta``,
        ``eps``). Fresh weights use ``init`` and ``seed``.
        """
        regime = _check_regime(regime)
        if not isinstance(net, ReLUNet):
            raise TypeError(
                f"from_relu needs a neuralpaths ReLU network (MLP/ConvNet), got {type(net).__name__}"
            )
        gate = Gate(beta=beta, eps=eps) if regime == "dlnpf" else Gate()
        dgn = DGN(net.arch, gate=gate, init=init, seed=seed)  # fresh value and gating networks
        dgn.to(net.layers[0].weight)
        hidden = list(net.layers)[: net.arch.n_hidden]
        if regime == "relu":
            dgn.value = net.layers
            dgn.gating = nn.ModuleList(hidden)
            return dgn
        if regime in ("frnpf-di", "flnpf"):
            dgn.gating = copy.deepcopy(nn.ModuleList(hidden))
        if regime != "flnpf":
            dgn.value = copy.deepcopy(net.layers)
        if regime != "dlnpf":
            dgn.freeze_gating()
        for p in dgn.value.parameters():
            p.requires_grad_(True)
        return dgn

    # The NPF paper's regimes from any supported nn.Module: a ModuleDGN (see ModuleDGN.build).
    from_module = ModuleDGN.build

    @classmethod
    def regime(
        cls,
        name: str,
        arch: Arch,
        *,
        seed: int | torch.Generator | None = None,
        init: str = "torch",
        relu_net: ReLUNet | None = None,
        beta: float = 4.0,
        eps: float = 0.1,
    ) -> DGN:
        """Build regime ``name`` from scratch (``flnpf`` needs the trained ``relu_net``)."""
        name = _check_regime(name)
        g = make_generator(seed)
        if name == "flnpf":
            if relu_net is None:
                raise ValueError("regime 'flnpf' copies the gates of a trained ReLU network: pass relu_net=")
            if relu_net.arch != arch:
                raise ValueError(f"relu_net has architecture {relu_net.arch}, expected {arch}")
            return cls.from_relu(relu_net, name, seed=g, init=init, beta=beta, eps=eps)
        net = ReLUNet(arch, init=init, seed=g)
        return cls.from_relu(net, name, seed=g, init=init, beta=beta, eps=eps)
