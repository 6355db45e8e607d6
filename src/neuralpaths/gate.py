"""Gate functions. A ReLU is a gate: on when its pre-activation is positive.

- hard gate: ``G(q) = 1{q > 0}``
- soft gate: ``G(q) = (1 + eps) * sigmoid(beta * q)`` (the NPF paper's DLNPF used eps=0.1, beta=4;
  the DLGN papers use eps=0).

The hard gate is the ``beta -> inf`` limit of the soft gate with ``eps = 0``; :class:`Gate` with
``beta=math.inf`` *is* the hard gate, so one setting covers both.

Shape:
    Gate functions act elementwise: ``(*) -> (*)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .checks import real


def hard_gate(q: Tensor) -> Tensor:
    """``1{q > 0}`` in ``q``'s dtype. No gradient flows through it (as in a ReLU net)."""
    return (q > 0).to(q.dtype)


def soft_gate(q: Tensor, beta: float = 4.0, eps: float = 0.0) -> Tensor:
    """``(1 + eps) * sigmoid(beta * q)``: a differentiable gate with values in ``(0, 1 + eps)``."""
    return (1.0 + eps) * torch.sigmoid(beta * q)


@dataclass(frozen=True)
class Gate:
    """A gate setting: ``beta = inf`` is the hard gate ``(1 + eps) * 1{q > 0}``.

    >>> Gate()              # hard gate 1{q > 0}
    >>> Gate(beta=4, eps=0.1)  # the NPF paper's soft gate
    """

    beta: float = math.inf
    eps: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.beta, int | float) and not isinstance(self.beta, bool) and not self.beta > 0:
            raise ValueError(f"gate beta must be positive (math.inf for a hard gate), got {self.beta}")
        object.__setattr__(self, "beta", real("gate beta", self.beta, low=0.0, strict=True, allow_inf=True))
        object.__setattr__(self, "eps", real("gate eps", self.eps, low=0.0))

    @property
    def hard(self) -> bool:
        return math.isinf(self.beta)

    def __call__(self, q: Tensor) -> Tensor:
        if self.hard:
            g = hard_gate(q)
            return g if self.eps == 0 else (1.0 + self.eps) * g
        return soft_gate(q, self.beta, self.eps)

    @classmethod
    def parse(cls, spec: Gate | str | None, beta: float = 4.0, eps: float = 0.0) -> Gate:
        """``"hard"`` -> ``Gate()``, ``"soft"`` -> ``Gate(beta, eps)``; a ``Gate`` passes through.
        ``beta`` and ``eps`` are checked whichever gate is chosen."""
        cls(beta=beta, eps=eps)  # NaN / negative / non-numeric settings are errors even when unused
        if spec is None or spec == "hard":
            return cls()
        if spec == "soft":
            return cls(beta=beta, eps=eps)
        if isinstance(spec, Gate):
            return spec
        raise ValueError(f"unknown gate {spec!r}: use 'hard', 'soft' or a neuralpaths.Gate(beta, eps)")
