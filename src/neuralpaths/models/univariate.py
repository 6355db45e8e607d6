"""Shallow univariate ReLU networks ``f(x) = M Σ_i c_i relu(a_i x + b_i) (+ alpha x + beta)``.

Unit ``i`` is a *knot* ``e_i = -b_i / a_i`` where the slope of ``f`` jumps by the *delta-slope*
``mu_i = M c_i |a_i|`` (Williams et al., NeurIPS 2019): ``f`` is piecewise linear and ``f''`` is the
sum of ``mu_i`` times a Dirac at ``e_i``. ``M`` is the parameterisation's multiplier.

Initialisations (``init``), all with ``a, b`` of scale ``s_in`` and ``c`` of scale ``s_out``:

- ``"scale"`` (standard parameterisation, ``M = 1``): ``s_out / s_in = scale`` and
  ``s_in * s_out = gain / width``, i.e. ``s_in = sqrt(gain / (width * scale))`` and
  ``s_out = sqrt(gain * scale / width)``. The typical delta-slope ``s_in s_out`` (hence the function
  at initialisation and the NTK's size) does not depend on ``scale``; ``scale`` only moves weight
  between the layers (the rescaling ``(a, b, c) -> (a/λ, b/λ, λc)`` leaves ``f`` unchanged but not the
  gradient dynamics). Small ``scale``: kernel regime (knots barely move); large: adaptive regime.
  Where the crossover lies depends on ``gain`` and on how much curvature the data need, not on the
  width (e.g. near ``scale = 0.01`` for ``gain = 10`` and 8 zig-zag samples on ``[-1, 1]``).
- ``"ntk"``: ``M = 1/sqrt(width)``, ``s_in = s_out = 1``.
- ``"mean-field"``: ``M = 1/width``, ``s_in = s_out = 1``.

Multiplying every weight by ``λ = sqrt(M)`` turns ``M Σ c relu(ax + b)`` into the standard
parameterisation, and gradient descent with a step size ``∝ 1/λ_max(Hessian)`` (as
:func:`neuralpaths.univariate.train_univariate` uses) then visits the same functions: ``"ntk"`` is
``"scale"`` with ``scale=1, gain=sqrt(width)`` and ``"mean-field"`` is ``scale=1, gain=1`` (a test
checks this). So ``gain`` moves from mean-field (1) to NTK (``sqrt(width)``) and ``scale`` sets the
ratio between the layers.

Knot placement (``knots``):

- ``"uniform"``: ``a_i = ±s_in`` (random sign), ``b_i = -a_i u_i`` with ``u_i ~ U[lo - margin, hi +
  margin]`` for ``interval = (lo, hi)``: knots uniform on the widened interval, every ``|a_i|`` equal,
  so the knot density weighted by ``a²`` (see :meth:`Univariate.knot_density`) is uniform there.
- ``"stratified"``: as ``"uniform"`` with less randomness: half the units face right (``a = +s_in``)
  and half left, and each half has one knot in each of its equal cells of the widened interval
  (uniform within the cell). Same density; the empirical knot density is flat at the scale
  ``1/width``, so frozen-knot interpolants reach their wide limit at much smaller widths.
- ``"normal"``: ``a_i, b_i ~ N(0, s_in²)`` iid; the knots ``-b/a`` are Cauchy distributed.

``c_i ~ N(0, s_out²)``. With ``symmetric=True`` (width must be even) unit ``i + width/2`` copies
``(a_i, b_i)`` of unit ``i`` and has ``c = -c_i``, so ``f ≡ 0`` at initialisation. The linear term
(``linear=True``) starts at ``alpha = beta = 0``. Numbers are drawn in float64 on the CPU and
stored in the default dtype (call ``.double()`` for float64, as for every model here).

Shape:
    ``x: (n,) or (n, 1) -> (n,)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..checks import positive_int, real
from .init import make_generator

INITS = ("scale", "ntk", "mean-field")
KNOTS = ("uniform", "stratified", "normal")


def univariate_preactivations(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``a_i x_j + b_i``.

    Shape:
        ``x: (n,), a, b: (m,) -> (n, m)``.
    """
    return x[:, None] * a + b  # (n, 1) * (m,) -> (n, m)


def univariate_forward(
    x: Tensor,
    a: Tensor,
    b: Tensor,
    c: Tensor,
    multiplier: float = 1.0,
    alpha: Tensor | None = None,
    beta: Tensor | None = None,
) -> Tensor:
    """``M Σ_i c_i relu(a_i x + b_i) (+ alpha x + beta)``.

    Shape:
        ``x: (n,), a, b, c: (m,), alpha, beta: () -> (n,)``.
    """
    out = multiplier * (torch.relu(univariate_preactivations(x, a, b)) @ c)
    if alpha is not None:
        out = out + alpha * x + beta
    return out


def univariate_ntk(
    x1: Tensor,
    x2: Tensor,
    a: Tensor,
    b: Tensor,
    c: Tensor,
    multiplier: float = 1.0,
    *,
    train: str = "all",
    linear: bool = False,
) -> Tensor:
    """The neural tangent kernel ``Σ_θ ∂f(x1)/∂θ ∂f(x2)/∂θ`` in closed form.

    ``K = M² Σ_i [relu(a_i x1 + b_i) relu(a_i x2 + b_i) + c_i² (x1 x2 + 1) 1{a_i x1 + b_i > 0}
    1{a_i x2 + b_i > 0}] (+ x1 x2 + 1 with a trained linear term)``; ``train="output"`` keeps only the
    terms of ``c`` (and of the linear term).

    Shape:
        ``x1: (n1,), x2: (n2,), a, b, c: (m,) -> (n1, n2)``.
    """
    if train not in ("all", "output"):
        raise ValueError(f"train must be 'all' or 'output', got {train!r}")
    p1, p2 = univariate_preactivations(x1, a, b), univariate_preactivations(x2, a, b)
    k = torch.relu(p1) @ torch.relu(p2).T
    if train == "all":
        g1, g2 = (p1 > 0).to(p1.dtype) * c, (p2 > 0).to(p2.dtype) * c  # (n, m) gates times c
        k = k + (g1 @ g2.T) * (x1[:, None] * x2 + 1)
    k = multiplier**2 * k
    if linear:
        k = k + x1[:, None] * x2 + 1
    return k


class Univariate(nn.Module):
    """Two-layer ReLU network on scalar inputs; see the module docstring for the initialisations."""

    def __init__(
        self,
        width: int,
        *,
        init: str = "scale",
        scale: float = 1.0,
        gain: float = 1.0,
        knots: str = "uniform",
        interval: tuple[float, float] = (-1.0, 1.0),
        margin: float = 0.1,
        symmetric: bool = True,
        linear: bool = False,
        seed: int | torch.Generator | None = None,
    ):
        super().__init__()
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}: use one of {INITS}")
        if knots not in KNOTS:
            raise ValueError(f"unknown knots {knots!r}: use one of {KNOTS}")
        width = positive_int("width", width)
        if symmetric and width % 2:
            raise ValueError(f"width must be a positive even int (symmetric=True), got {width!r}")
        scale, gain = real("scale", scale, low=0.0, strict=True), real("gain", gain, low=0.0, strict=True)
        margin = real("margin", margin, low=0.0)
        if not isinstance(interval, tuple | list) or len(interval) != 2:
            raise ValueError(f"interval must be a pair (lo, hi), got {interval!r}")
        interval = (real("interval[0]", interval[0]), real("interval[1]", interval[1]))
        if not (scale > 0 and gain > 0 and margin >= 0 and interval[0] < interval[1]):
            raise ValueError(
                f"need scale > 0, gain > 0, margin >= 0 and interval lo < hi; got scale={scale}, "
                f"gain={gain}, margin={margin}, interval={interval}"
            )
        self.width, self.init, self.knot_init = width, init, knots
        self.interval, self.margin = (float(interval[0]), float(interval[1])), float(margin)
        if init == "scale":
            self.multiplier = 1.0
            self.scale_in = math.sqrt(gain / (width * scale))
            self.scale_out = math.sqrt(gain * scale / width)
        else:
            self.multiplier = 1.0 / math.sqrt(width) if init == "ntk" else 1.0 / width
            self.scale_in = self.scale_out = 1.0
        a, b, c = self._draw(width // 2 if symmetric else width, make_generator(seed))
        if symmetric:
            a, b, c = torch.cat([a, a]), torch.cat([b, b]), torch.cat([c, -c])
        dt = torch.get_default_dtype()
        self.a, self.b, self.c = (nn.Parameter(t.to(dt)) for t in (a, b, c))
        self.alpha = nn.Parameter(torch.zeros((), dtype=dt)) if linear else None
        self.beta = nn.Parameter(torch.zeros((), dtype=dt)) if linear else None

    def _draw(self, m: int, g: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor]:
        """Random ``(a, b, c)`` of ``m`` units in float64 on the CPU (same numbers on every device)."""
        kw = {"dtype": torch.float64, "generator": g}
        lo, hi = self.interval[0] - self.margin, self.interval[1] + self.margin
        if self.knot_init == "uniform":
            sign = 2.0 * torch.randint(0, 2, (m,), generator=g).to(torch.float64) - 1.0
            u = torch.rand(m, **kw)
        elif self.knot_init == "stratified":  # one knot per cell, for each orientation
            right = (m + 1) // 2
            sign = torch.cat([torch.ones(right), -torch.ones(m - right)]).to(torch.float64)
            u = torch.cat([(torch.arange(k) + torch.rand(k, **kw)) / k for k in (right, m - right)])
        if self.knot_init != "normal":
            a = self.scale_in * sign
            b = -a * (lo + (hi - lo) * u)
        else:
            a, b = self.scale_in * torch.randn(m, **kw), self.scale_in * torch.randn(m, **kw)
        return a, b, self.scale_out * torch.randn(m, **kw)

    @property
    def linear(self) -> bool:
        return self.alpha is not None

    @staticmethod
    def flat_input(x: Tensor) -> Tensor:
        """``(n,)`` or ``(n, 1)`` -> ``(n,)``; anything else is an error."""
        if x.dim() == 2 and x.shape[1] == 1:
            return x[:, 0]  # (n, 1) -> (n,)
        if x.dim() != 1:
            raise ValueError(f"Univariate expects inputs of shape (n,) or (n, 1), got {tuple(x.shape)}")
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Shape: ``(n,) or (n, 1) -> (n,)``."""
        return univariate_forward(
            self.flat_input(x), self.a, self.b, self.c, self.multiplier, self.alpha, self.beta
        )

    def preactivations(self, x: Tensor) -> Tensor:
        """Shape: ``(n,) or (n, 1) -> (n, width)``."""
        return univariate_preactivations(self.flat_input(x), self.a, self.b)

    def gates(self, x: Tensor) -> list[Tensor]:
        """One hidden layer of hard gates ``1{a_i x + b_i > 0}``. Shape: ``x -> [(n, width)]``."""
        q = self.preactivations(x)
        return [(q > 0).to(q.dtype)]

    def features(self, x: Tensor) -> Tensor:
        """Output-layer features ``M relu(a_i x + b_i)``. Shape: ``(n,) or (n, 1) -> (n, width)``."""
        return self.multiplier * torch.relu(self.preactivations(x))

    def knots(self) -> Tensor:
        """Knot positions ``-b_i / a_i`` (``±inf`` or ``nan`` where ``a_i = 0``). Shape: ``(width,)``."""
        return -self.b.detach() / self.a.detach()

    def delta_slopes(self) -> Tensor:
        """Slope jump of ``f`` at each knot, ``M c_i |a_i|`` (left to right). Shape: ``(width,)``."""
        return self.multiplier * self.c.detach() * self.a.detach().abs()

    def knot_weights(self) -> Tensor:
        """Each unit's weight ``M² a_i²`` in the curvature density ``rho``. Shape: ``(width,)``."""
        return self.multiplier**2 * self.a.detach() ** 2

    def knot_density(self, x: Tensor) -> Tensor:
        """Expected curvature weight density at initialisation, ``rho(x) = E[Σ_i M² a_i² δ(x - e_i)]``.

        ``"uniform"``, ``"stratified"``: ``width M² s_in² / (hi - lo + 2 margin)`` on the widened
        interval, 0 outside.
        ``"normal"``: ``width M² 2 s_in² / (π (1 + x²)²)``. A frozen-knot (kernel-regime) interpolant
        minimises ``∫ f''² / rho`` (see :func:`neuralpaths.univariate.curvature`).

        Shape:
            ``x: (n,) -> (n,)``.
        """
        w = self.width * self.multiplier**2 * self.scale_in**2
        if self.knot_init == "normal":
            return w * 2.0 / (math.pi * (1.0 + x**2) ** 2)
        lo, hi = self.interval[0] - self.margin, self.interval[1] + self.margin
        return torch.where((x >= lo) & (x <= hi), w / (hi - lo), torch.zeros_like(x))

    def ntk(self, x1: Tensor, x2: Tensor | None = None, *, train: str = "all") -> Tensor:
        """Closed-form NTK (:func:`univariate_ntk`). Shape: ``(n1,), (n2,) -> (n1, n2)``."""
        x1 = self.flat_input(x1)
        x2 = x1 if x2 is None else self.flat_input(x2)
        a, b, c = self.a.detach(), self.b.detach(), self.c.detach()
        return univariate_ntk(x1, x2, a, b, c, self.multiplier, train=train, linear=self.linear)

    def extra_repr(self) -> str:
        return (
            f"width={self.width}, init={self.init!r}, knots={self.knot_init!r}, M={self.multiplier:.3g}, "
            f"s_in={self.scale_in:.3g}, s_out={self.scale_out:.3g}, linear={self.linear}"
        )
