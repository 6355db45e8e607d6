"""The path view of a network as data: a list of :class:`Step`\\ s read from its forward pass.

Every step is one operation of the forward pass, with its reading in the path view:

=========  =====================================================================================
kind       what it is on a path
=========  =====================================================================================
input      the sources ``x(i)`` (or ones, for a value network fed the all-ones input)
layer      ``Linear`` / ``Conv1d`` / ``Conv2d``: an edge per connection, carrying a learnable
           weight; a bias starts a new path at every output unit (its feature: the gates after it)
affine     ``BatchNorm`` in eval mode that could not be folded into a layer before it: a
           per-channel weight ``γ/√(var+ε)`` and a bias ``β − mean·γ/√(var+ε)``
bn         ``BatchNorm`` in eval mode folded into the layer before it (``fold`` of that layer):
           nothing of its own on a path
gate       ``ReLU`` (gate ``1{q>0}``) or ``LeakyReLU(α)`` (gate ``α + (1−α)·1{q>0}``)
maxpool    a gate on the window's edges: the argmax's edge passes, the others do not
pool       average pooling, adaptive average pooling, ``mean``: an edge per window element with
           the fixed coefficient ``1/size`` (in the feature; it enters the NPK squared)
scale      multiplication/division by a constant ``c`` (fixed coefficient ``c``)
move       ``flatten`` / ``view`` / ``reshape`` / indexing / ``Dropout`` and ``Identity`` in eval
           mode: units are renamed, paths go through unchanged
add        ``x + y``: the paths of both operands (a residual connection)
cat        ``torch.cat`` along a non-batch dimension: the paths of both parts, side by side
shape      ``x.size(0)``, ``x.shape`` and friends: no tensor, just sizes for ``view``
=========  =====================================================================================

Shape:
    every tensor step's value is ``(n, *unit_shape)``: the first dimension is the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

KINDS = ("input", "layer", "affine", "bn", "gate", "maxpool", "pool", "scale", "move", "add", "cat", "shape")


class UnsupportedLayerError(ValueError):
    """A layer or operation that has no reading as gates and paths; the message names it."""


@dataclass(frozen=True)
class Ref:
    """A reference to the value of another step, inside a step's arguments."""

    name: str


@dataclass(frozen=True)
class Step:
    """One operation of the forward pass.

    Attributes:
        name: unique name (the traced node's name).
        kind: one of :data:`KINDS` (see the module docstring).
        inputs: names of the tensor steps it reads, in order.
        where: a readable location for messages (a module's qualified name, or the function and
            the module whose ``forward`` calls it).
        module: qualified name of the module that holds its parameters or settings, if any.
        fn: how to compute it from its arguments (functional steps), else ``None``.
        args, kwargs: the call's arguments, with :class:`Ref` for other steps' values.
        info: kind-specific settings (a gate's ``alpha``, a scale's ``c``, a pool's window,
            a layer's folded ``bn``, a cat's ``dim``, an add's ``label``).
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    where: str
    module: str | None = None
    fn: Callable[..., Any] | None = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PathGraph:
    """The steps of a network's forward pass in execution order; the last one is the output.

    ``adds`` lists the residual connections (``add`` steps) with readable labels: the qualified name
    of the module whose ``forward`` adds (``"layer1.0"``), or the step's name at top level.
    """

    steps: tuple[Step, ...]
    output: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {s.name: s for s in self.steps})

    def __getitem__(self, name: str) -> Step:
        return self._by_name[name]  # type: ignore[attr-defined]

    def of_kind(self, *kinds: str) -> list[Step]:
        return [s for s in self.steps if s.kind in kinds]

    @property
    def gate_steps(self) -> list[Step]:
        """Steps with data-dependent gates (ReLU/LeakyReLU and max-pooling), in order."""
        return self.of_kind("gate", "maxpool")

    @property
    def adds(self) -> list[Step]:
        return self.of_kind("add")

    def ancestors(self, name: str) -> set[str]:
        """The steps whose values flow into step ``name`` (itself included)."""
        seen, todo = set(), [name]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo += list(self[n].inputs)
        return seen

    def bias_owners(self, choices: dict[str, int], late: dict[str, int]) -> set[str]:
        """Layer/affine steps whose bias paths belong to the sub-architecture ``choices``
        (``{add step: operand kept}``).

        A bias path that starts after a residual add never meets it; it is counted with that add's
        ``late[add]`` operand (the skip connection), so the sub-architectures partition the paths. A
        bias is kept iff it is upstream of every add where ``choices`` takes the other operand.
        """
        keep = {s.name for s in self.of_kind("layer", "affine")}
        for add, pick in choices.items():
            if pick != late.get(add, 0):
                keep &= self.ancestors(add)
        return keep

    def check_eval(self, root: nn.Module, what: str) -> None:
        """Refuse BatchNorm and Dropout in training mode: they have no path reading."""
        for s in self.steps:
            if s.module is None or s.kind not in ("bn", "affine", "move"):
                continue
            m = root.get_submodule(s.module)
            if m.training and isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)):
                why = (
                    "mixes the samples of a batch"
                    if isinstance(m, nn.modules.batchnorm._BatchNorm)
                    else "multiplies by random masks"
                )
                raise UnsupportedLayerError(
                    f"{what}: layer '{s.module}' ({type(m).__name__}) is in training mode, where it {why}; "
                    "call model.eval() first"
                )

    def describe(self, root: nn.Module) -> str:
        """A one-line summary of the layers, e.g. ``conv(1→8, 3x3, s2) → relu → maxpool → ...``."""
        parts = []
        for s in self.steps:
            if s.kind in ("layer", "affine"):
                m = root.get_submodule(s.module)
                if isinstance(m, nn.Linear):
                    parts.append(f"linear({m.in_features}→{m.out_features})")
                elif isinstance(m, nn.modules.conv._ConvNd):
                    k = "x".join(map(str, m.kernel_size))
                    extra = "".join(
                        f", {t}{v[0] if len(set(v)) == 1 else v}"
                        for t, v in (("s", m.stride), ("d", m.dilation))
                        if any(i != 1 for i in v)
                    )
                    parts.append(f"conv({m.in_channels}→{m.out_channels}, {k}{extra})")
                else:
                    parts.append("bn")
            elif s.kind == "gate":
                parts.append("relu" if s.info["alpha"] == 0 else f"leaky({s.info['alpha']:g})")
            elif s.kind in ("maxpool", "pool", "add", "cat"):
                parts.append({"pool": "avgpool"}.get(s.kind, s.kind))
        return " → ".join(parts)
