"""Any model as a :class:`PathModel`: a path graph, the module holding its value weights, and its gates.

- a plain ``nn.Module`` (a ReLU network): its own graph; the gates are its own (hard), read while
  it runs — the DGN with tied weights;
- a :class:`~neuralpaths.models.module_dgn.ModuleDGN` (``DGN.from_module``): gates from its gating
  copy (hard or soft), weights from its value copy;
- the library's own ``Arch`` models (``MLP``, ``ConvNet``, ``DGN``, ``DLGN``): their value layers as an
  ``nn.Sequential`` with a ReLU at every gated layer, gated by the model's own ``gate_maps``.

Shape:
    ``gates(x)``: ``{step name: (n, *unit_shape)}`` for ReLU/LeakyReLU steps, ``(n, C, K, L)`` for
    max-pool steps (``K`` window elements, ``L`` output positions).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..gate import Gate
from .ir import PathGraph, Step
from .run import call, evaluate, gated, record
from .trace import trace
from .windows import window_params


@dataclass
class PathModel:
    """What the path functions need: ``graph``, the ``value`` module, and ``gates(x)``."""

    graph: PathGraph
    value: nn.Module
    gate_fn: Callable[[Tensor], dict[str, Tensor]]
    value_input: str = "x"
    in_shape: tuple[int, ...] | None = None
    gating: nn.Module | None = None

    def gates(self, x: Tensor) -> dict[str, Tensor]:
        try:
            return self.gate_fn(x)
        except RuntimeError as e:  # a shape mismatch deep inside the module: say so in one line
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ValueError(
                f"the model could not run on an input of shape {tuple(x.shape)} (n, ...): {first}"
            ) from None

    def value_input_for(self, x: Tensor) -> Tensor:
        return x if self.value_input == "x" else x.new_ones(x.shape)

    def __call__(self, x: Tensor) -> Tensor:
        return gated(self.graph, self.value, self.value_input_for(x), self.gates(x))

    def check(self, what: str) -> None:
        """Refuse BatchNorm/Dropout in training mode in either network."""
        self.graph.check_eval(self.value, what)
        if self.gating is not None and self.gating is not self.value:
            self.graph.check_eval(self.gating, what)

    def input_shape(self, what: str) -> tuple[int, ...]:
        """The per-sample input shape: known, or read off a first ``Linear`` layer."""
        if self.in_shape is not None:
            return self.in_shape
        first = [s for s in self.graph.steps if s.inputs and self.graph.steps[0].name in s.inputs]
        if len(first) == 1 and first[0].kind == "layer":
            m = self.value.get_submodule(first[0].module)
            if isinstance(m, nn.Linear):
                return (m.in_features,)
        raise ValueError(
            f"{what}: the paths of this network depend on the input size; pass in_shape=(C, H, W) "
            "(one sample's shape)"
        )

    def units(self, x: Tensor) -> int:
        """The largest number of numbers per sample at any step (sizes the blocks of pairs): units,
        and for a max-pool its windows (output units × window size)."""
        sizes = [x[0].numel()]

        def handle(s: Step, env: dict) -> object:
            out = call(s, env, self.value)
            if isinstance(out, Tensor):
                k = math.prod(window_params(s, self.value)["kernel_size"]) if s.kind == "maxpool" else 1
                sizes.append(out[0].numel() * k)
            return out

        with torch.no_grad():
            evaluate(self.graph, self.value_input_for(x[:1]), handle)
        return max(sizes)


def describe(model: nn.Module) -> str:
    """One line of the layers of any supported model, e.g. ``conv(1→8, 3x3, s2) → relu → maxpool → …``."""
    pm = path_model(model)
    return pm.graph.describe(pm.value)


def _arch_sequential(model: nn.Module) -> nn.Sequential:
    """The value layers of an ``Arch`` model with a ReLU (a gate) after every hidden layer."""
    arch, layers = model.arch, list(model.value_layers)
    seq: list[nn.Module] = []
    for i, layer in enumerate(layers):
        seq.append(layer)
        if i < arch.n_hidden:
            seq.append(nn.ReLU())
        if arch.conv and i == len(arch.conv) - 1:
            seq += [nn.AdaptiveAvgPool2d(1), nn.Flatten()] if arch.pool == "gap" else [nn.Flatten()]
    return nn.Sequential(*seq)


def path_model(model: nn.Module) -> PathModel:
    """The :class:`PathModel` of any supported model (see the module docstring).

    Raises:
        UnsupportedLayerError: a layer without a gate/path reading (named in the message).
    """
    from ..models.base import GatedModel  # the models import this module
    from ..models.module_dgn import ModuleDGN

    if isinstance(model, PathModel):
        return model
    if isinstance(model, ModuleDGN):
        return model.path_model()
    if isinstance(model, GatedModel):
        seq = _arch_sequential(model)
        graph = trace(seq)
        names = [s.name for s in graph.gate_steps]
        return PathModel(
            graph,
            seq,
            lambda x: dict(zip(names, model.gate_maps(x))),
            model.value_input,
            tuple(model.arch.in_shape),
        )
    if _is_torch_leaf(model):  # a bare nn.Linear / nn.Conv2d / ...: the one-layer network of it
        model = nn.Sequential(model)
    graph = trace(model)
    return PathModel(graph, model, lambda x: record(graph, model, x, Gate())[1], gating=model)


def _is_torch_leaf(m: nn.Module) -> bool:
    """A layer of ``torch.nn`` itself (traced as one step inside a network, not through its code)."""
    containers = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
    return type(m).__module__.startswith("torch.nn.modules") and not isinstance(m, containers)
