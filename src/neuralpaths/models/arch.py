"""Architectures as data, and the forward passes as plain functions of weight lists.

An :class:`Arch` describes a bias-optional feed-forward net: a stack of 3x3 "same" conv layers, a
pooling step (``"flatten"`` or global average pooling ``"gap"``), a stack of dense layers, and a
linear output layer. Every hidden layer (conv or dense) is gated. Fully connected nets have no conv
layers. The functions below take the weights as a list of tensors, so the same code runs a ReLU
net, the value network of a DGN, the unit-weight network of the NPK (Identity 2) and the
``|w|^p`` network of the path norm.

Shape:
    x: ``(n, *arch.in_shape)``; hidden layer ``l``: ``(n, *arch.hidden_shapes[l])``;
    output: ``(n, arch.out_dim)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_like, check_tensor, int_tuple, positive_int

POOLS = ("flatten", "gap")


@dataclass(frozen=True)
class Arch:
    """A feed-forward architecture: ``conv`` channels -> pool -> ``dense`` widths -> ``out_dim``.

    Use the constructors :meth:`mlp`, :meth:`vconv`, :meth:`gconv`, :meth:`c4gap`.
    """

    in_shape: tuple[int, ...]
    conv: tuple[int, ...] = ()
    dense: tuple[int, ...] = ()
    out_dim: int = 1
    pool: str = "flatten"
    kernel_size: int = 3
    bias: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_shape", int_tuple("in_shape", self.in_shape))
        object.__setattr__(self, "conv", int_tuple("conv", self.conv))
        object.__setattr__(self, "dense", int_tuple("widths", self.dense))
        object.__setattr__(self, "out_dim", positive_int("out_dim", self.out_dim))
        object.__setattr__(self, "kernel_size", positive_int("kernel_size", self.kernel_size))
        if not isinstance(self.bias, bool):
            raise TypeError(f"bias must be True or False, got {self.bias!r}")
        if self.conv and len(self.in_shape) != 3:
            raise ValueError(f"a conv net needs in_shape (C, H, W), got {self.in_shape}")
        if not self.conv and len(self.in_shape) != 1:
            raise ValueError(f"a fully connected net needs in_shape (d,), got {self.in_shape}")
        if self.pool not in POOLS:
            raise ValueError(f"unknown pool {self.pool!r}: use one of {POOLS}")
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {self.kernel_size}")
        if not self.conv and not self.dense:
            raise ValueError("an architecture needs at least one hidden (gated) layer")

    # --- constructors -------------------------------------------------------------------------
    @classmethod
    def mlp(cls, in_dim: int, widths: Sequence[int], out_dim: int = 1, bias: bool = False) -> Arch:
        """Fully connected: ``in_dim -> widths[0] -> ... -> widths[-1] -> out_dim``."""
        return cls(in_shape=(in_dim,), dense=tuple(widths), out_dim=out_dim, bias=bias)

    @classmethod
    def vconv(cls, *args: Any, **kwargs: Any) -> Arch:
        """NPF paper's VCONV: 3x3 same convs, no pooling, flatten -> dense -> classes; the arguments
        of :meth:`gconv` (``in_channels=3, image_size=32, num_classes=10, channels=(64, 64, 128, 128),
        dense=(256, 256), bias=False``)."""
        return replace(cls.gconv(*args, **kwargs), pool="flatten")

    @classmethod
    def gconv(
        cls,
        in_channels: int = 3,
        image_size: int = 32,
        num_classes: int = 10,
        channels: Sequence[int] = (64, 64, 128, 128),
        dense: Sequence[int] = (256, 256),
        bias: bool = False,
    ) -> Arch:
        """NPF paper's GCONV: 3x3 same convs -> global average pooling -> dense -> classes."""
        return cls(
            (in_channels, image_size, image_size), tuple(channels), tuple(dense), num_classes, "gap", 3, bias
        )

    @classmethod
    def c4gap(
        cls,
        in_channels: int = 3,
        image_size: int = 32,
        num_classes: int = 10,
        width: int = 128,
        bias: bool = False,
    ) -> Arch:
        """DLGN papers' C4GAP: four 3x3 convs of ``width`` channels -> GAP -> linear classes."""
        return cls((in_channels, image_size, image_size), (width,) * 4, (), num_classes, "gap", 3, bias)

    # --- derived sizes ------------------------------------------------------------------------
    @property
    def is_conv(self) -> bool:
        return bool(self.conv)

    @property
    def in_dim(self) -> int:
        return math.prod(self.in_shape)

    @property
    def n_hidden(self) -> int:
        """Number of gated (hidden) layers; the net has ``n_hidden + 1`` weight layers."""
        return len(self.conv) + len(self.dense)

    @property
    def depth(self) -> int:
        """Number of weight layers ``d``."""
        return self.n_hidden + 1

    @property
    def hidden_shapes(self) -> list[tuple[int, ...]]:
        """Per-unit shape of each hidden layer: ``(C, H, W)`` for conv, ``(w,)`` for dense."""
        spatial = self.in_shape[1:]
        return [(c, *spatial) for c in self.conv] + [(w,) for w in self.dense]

    @property
    def widths(self) -> list[int]:
        """Number of units (gates) in each hidden layer (conv: channels x positions)."""
        return [math.prod(s) for s in self.hidden_shapes]

    @property
    def pooled_dim(self) -> int:
        """Input size of the first layer after the conv stack."""
        if not self.conv:
            return self.in_dim
        c, h, w = self.conv[-1], *self.in_shape[1:]
        return c if self.pool == "gap" else c * h * w

    def layer_dims(self) -> list[tuple[int, int]]:
        """``(fan_in, fan_out)`` in channels/features of each weight layer, in order."""
        dims, prev = [], self.in_shape[0] if self.conv else self.in_dim
        for c in self.conv:
            dims.append((prev, c))
            prev = c
        prev = self.pooled_dim
        for w in (*self.dense, self.out_dim):
            dims.append((prev, w))
            prev = w
        return dims


def make_layers(arch: Arch, n_layers: int | None = None, bias: bool | None = None) -> nn.ModuleList:
    """The first ``n_layers`` weight layers of ``arch`` (all of them by default) as modules."""
    bias = arch.bias if bias is None else bias
    layers = []
    for i, (fan_in, fan_out) in enumerate(arch.layer_dims()[:n_layers]):
        if i < len(arch.conv):
            k = arch.kernel_size
            layers.append(nn.Conv2d(fan_in, fan_out, k, padding=k // 2, bias=bias))
        else:
            layers.append(nn.Linear(fan_in, fan_out, bias=bias))
    return nn.ModuleList(layers)


def apply_layer(arch: Arch, i: int, h: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Weight layer ``i`` (conv or dense) applied to ``h``."""
    if i < len(arch.conv):
        return F.conv2d(h, weight, bias, padding=arch.kernel_size // 2)
    return F.linear(h, weight, bias)


def pool(arch: Arch, h: Tensor, power: int = 1) -> Tensor:
    """The step between the conv stack and the dense stack.

    ``gap`` sums over positions and divides by ``(H*W)**power``: ``power=1`` is average pooling,
    ``power=2`` its square (the NPK's unit-weight network), ``power=0`` sum pooling (path counting).

    Shape:
        ``(n, C, H, W) -> (n, C)`` for ``gap``, ``(n, C*H*W)`` for ``flatten``.
    """
    if arch.pool == "gap":
        return h.sum(dim=(2, 3)) / (h.shape[2] * h.shape[3]) ** power
    return h.flatten(1)  # (n, C, H, W) -> (n, C*H*W)


def _after(arch: Arch, i: int, h: Tensor, pool_power: int) -> Tensor:
    """Pool after the last conv layer (index ``len(arch.conv) - 1``)."""
    return pool(arch, h, pool_power) if arch.conv and i == len(arch.conv) - 1 else h


def gated_forward(
    arch: Arch,
    weights: Sequence[Tensor],
    h0: Tensor,
    gates: Sequence[Tensor] | None,
    biases: Sequence[Tensor | None] | None = None,
    pool_power: int = 1,
) -> Tensor:
    """The value network: ``h_l = (W_l h_{l-1}) * G_l``, output ``W_d h_{d-1}``.

    ``gates`` holds one tensor per hidden layer, shaped like that layer's pre-activation
    ``(n, *arch.hidden_shapes[l])`` (or broadcastable to it); ``None`` means every gate is on.
    """
    biases = biases if biases is not None else [None] * len(weights)
    h = h0
    for i in range(arch.n_hidden):
        h = apply_layer(arch, i, h, weights[i], biases[i])
        if gates is not None:
            h = h * gates[i]
        h = _after(arch, i, h, pool_power)
    return apply_layer(arch, arch.n_hidden, h, weights[-1], biases[-1])


def relu_forward(
    arch: Arch, weights: Sequence[Tensor], x: Tensor, biases: Sequence[Tensor | None] | None = None
) -> Tensor:
    """A plain ReLU network (the DGN with tied weights and hard gates, in one pass)."""
    biases = biases if biases is not None else [None] * len(weights)
    h = x
    for i in range(arch.n_hidden):
        h = _after(arch, i, torch.relu(apply_layer(arch, i, h, weights[i], biases[i])), 1)
    return apply_layer(arch, arch.n_hidden, h, weights[-1], biases[-1])


def chain_preactivations(
    arch: Arch,
    weights: Sequence[Tensor],
    x: Tensor,
    activation: Callable[[Tensor], Tensor] | None = torch.relu,
    biases: Sequence[Tensor | None] | None = None,
) -> list[Tensor]:
    """Pre-activations ``q_l`` of the hidden layers of a gating network ``z_l = act(q_l)``.

    ``activation=torch.relu`` is a DGN's gating net; ``activation=None`` a deep *linear* one (DLGN).
    Only the first ``arch.n_hidden`` weights are used.
    """
    return chain_forward(arch, weights, x, activation, biases)[0]


def chain_forward(
    arch: Arch,
    weights: Sequence[Tensor],
    x: Tensor,
    activation: Callable[[Tensor], Tensor] | None = torch.relu,
    biases: Sequence[Tensor | None] | None = None,
) -> tuple[list[Tensor], list[Tensor]]:
    """Pre-activations ``q_l`` and layer inputs ``z_{l-1}`` of a gating network (the one forward
    pass of DGNs, DLGNs and the structured NTK)."""
    biases = biases if biases is not None else [None] * len(weights)
    qs, zs, z = [], [], x
    for i in range(arch.n_hidden):
        zs.append(z)
        q = apply_layer(arch, i, z, weights[i], biases[i])
        qs.append(q)
        z = _after(arch, i, q if activation is None else activation(q), 1)
    return qs, zs


def layer_params(layers: Sequence[nn.Module]) -> tuple[list[Tensor], list[Tensor | None]]:
    """``(weights, biases)`` of a list of ``nn.Linear`` / ``nn.Conv2d`` layers."""
    return [m.weight for m in layers], [m.bias for m in layers]


def check_arch(arch: object) -> Arch:
    """``arch`` if it is an :class:`Arch`."""
    if not isinstance(arch, Arch):
        raise TypeError(
            f"arch must be a neuralpaths Arch (e.g. Arch.mlp(in_dim, widths)), got {type(arch).__name__}"
        )
    return arch


def check_input(arch: Arch, x: Tensor, like: Tensor, what: str = "input") -> None:
    """Raise a clear error when ``x`` does not fit ``arch`` or differs in dtype/device from ``like``."""
    check_tensor(what, x)
    if x.ndim != 1 + len(arch.in_shape) or tuple(x.shape[1:]) != arch.in_shape:
        hint = " (flatten images with x.flatten(1))" if not arch.is_conv and x.ndim > 2 else ""
        hint = " (a batch of one: x[None])" if tuple(x.shape) == arch.in_shape else hint
        want = ", ".join(map(str, arch.in_shape))
        raise ValueError(f"{what} has shape {tuple(x.shape)} but the model expects (n, {want}){hint}")
    check_like(what, x, like)
