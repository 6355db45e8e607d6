"""Weight initialisation schemes, seeded through an explicit ``torch.Generator``.

- ``"torch"``: PyTorch's default for ``nn.Linear`` / ``nn.Conv2d`` (kaiming-uniform, a=sqrt(5)).
- ``"glorot"``: Glorot/Xavier uniform weights and zero biases (the Keras default the NPF code used).
- ``"he"``: He/Kaiming normal, ``N(0, 2/fan_in)``, zero biases.
- ``"pm"``: ``+-sigma`` with probability 1/2 each (the NPF notebooks' ``+-sqrt(2/width)``);
  ``sigma=None`` uses ``sqrt(2/fan_in)`` per layer. Zero biases.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from ..checks import positive_int, real

SCHEMES = ("torch", "glorot", "he", "pm")


def make_generator(seed: int | torch.Generator | None) -> torch.Generator | None:
    """``None`` -> use the global RNG; an int -> a fresh seeded CPU generator."""
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    seed = positive_int("seed (an int, a torch.Generator or None)", seed, minimum=0)
    return torch.Generator().manual_seed(seed)


def _fan_in(w: torch.Tensor) -> int:
    return math.prod(w.shape[1:])


@torch.no_grad()
def init_layers_(
    layers: Iterable[nn.Module],
    scheme: str = "torch",
    *,
    generator: torch.Generator | None = None,
    sigma: float | None = None,
) -> None:
    """Re-initialise the weights (and biases) of ``nn.Linear``/``nn.Conv2d`` layers in place.

    Random numbers are drawn on the CPU from ``generator`` and copied, so a seed gives the same
    weights on every device and dtype.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}: use one of {SCHEMES}")
    if sigma is not None:
        real("sigma", sigma, low=0.0, strict=True)
    for m in layers:
        w = m.weight
        cpu = torch.empty(w.shape, dtype=torch.float64)
        fan_in = _fan_in(w)
        if scheme == "torch":
            bound = 1.0 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) gives bound 1/sqrt(fan_in)
            cpu.uniform_(-bound, bound, generator=generator)
        elif scheme == "glorot":
            fan_out = w.shape[0] * math.prod(w.shape[2:])
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            cpu.uniform_(-bound, bound, generator=generator)
        elif scheme == "he":
            cpu.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)
        else:
            s = math.sqrt(2.0 / fan_in) if sigma is None else sigma
            signs = torch.randint(0, 2, w.shape, generator=generator, dtype=torch.float64)
            cpu = s * (2 * signs - 1)
        w.copy_(cpu)
        if getattr(m, "bias", None) is not None:
            if scheme == "torch":
                b = torch.empty(m.bias.shape, dtype=torch.float64)
                m.bias.copy_(b.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator))
            else:
                m.bias.zero_()
