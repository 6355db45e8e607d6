"""Infinite-width kernels of fully connected ReLU networks, and the limit of the normalised NPK.

**Network.** Depth ``d`` = number of weight layers (``d − 1`` hidden ReLU layers of widths
``n_1..n_{d−1}``; ``n_0 = d_in``), scalar output ``f = u_d``, ``h_0 = x``, ``h_l = relu(u_l)``:

- ``"standard"`` parameterisation: ``u_l = W_l h_{l−1} + b_l``, ``W_l ~ N(0, σ_w²/n_{l−1})``,
  ``b_l ~ N(0, σ_b²)`` (``nn.Linear`` with He-normal weights when ``σ_w² = 2``);
- ``"ntk"`` parameterisation: ``u_l = (σ_w/√n_{l−1}) ω_l h_{l−1} + σ_b β_l``, ``ω, β ~ N(0, 1)``.

Both give the same function at initialisation, hence the same NNGP. With the arc-cosine kernels
(Cho & Saul 2009) of a centred Gaussian pair ``(u, u')`` with covariance ``[[v, c], [c, v']]`` and
angle ``θ = arccos(c/√(v v'))``:

    ``κ₁ = E[relu(u) relu(u')] = √(v v') (sin θ + (π − θ) cos θ) / (2π)``,
    ``κ₀ = E[relu'(u) relu'(u')] = P(u > 0, u' > 0) = (π − θ) / (2π)``,

the NNGP (Lee et al. 2018) and NTK (Jacot et al. 2018; Arora et al. 2019) are

    ``Σ_1 = σ_w² ⟨x, x'⟩ / d_in + σ_b²``,   ``Σ_{l+1} = σ_w² κ₁(Σ_l) + σ_b²``,
    ``P_d = 1``,   ``P_l = σ_w² κ₀(Σ_l) P_{l+1}``   (``P_l = lim ⟨δ_l(x), δ_l(x')⟩``, ``δ_l = ∂f/∂u_l``),
    ``"ntk"``:      ``Θ = Σ_{l=1}^{d} Σ_l P_l``
                    (equivalently ``Θ_1 = Σ_1``, ``Θ_{l+1} = Σ_{l+1} + σ_w² κ₀(Σ_l) Θ_l``),
    ``"standard"``: ``Θ = Σ_{l=1}^{d} (n_{l−1} (Σ_l − σ_b²)/σ_w² + [bias]) P_l``.

The ``"standard"`` kernel is the large-width value of the NTK of a net of the *given* widths (each
weight term is ``⟨h_{l−1}, h'_{l−1}⟩ ≈ n_{l−1} E[relu relu]``; it grows with width, as in
Sohl-Dickstein et al. 2020 and neural-tangents' ``parameterization="standard"``); ``[bias]`` is 1 when
the net has (trainable) biases. In the ``"ntk"`` parameterisation a bias enters as ``σ_b²``. The
NNGP is the covariance ``E[f(x) f(x')]`` of the output at initialisation.

All three kernels are elementwise recursions on ``(n1, n2)`` matrices, evaluated in place on small
tiles (:mod:`neuralpaths.kernels.arccos`), ``block_size`` rows of ``x1`` at a time (peak memory
``block_size · n2`` numbers beyond the ``(n1, n2)`` result). ``x2=None`` results are exactly
symmetric (the lower triangle is computed and mirrored).

Calling convention (every kernel of the library): ``K(arch, x1, x2=None, *, block_size, progress,
...)`` with ``arch`` an :class:`~neuralpaths.models.arch.Arch` (or a library model; fully connected:
depth, hidden widths and biases are read from it). The older ``K(x1, x2, depth=...)`` still works
and warns (``DeprecationWarning``). Inputs must be finite floating-point ``(n, d_in)`` tensors of
one dtype and device (``check_finite=False`` skips the NaN/infinity check).

Shape:
    ``x1: (n1, d_in), x2: (n2, d_in) -> (n1, n2)`` (one output; ``k`` outputs: ``Θ ⊗ I_k``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import check_pair, check_tensor, real
from .arccos import BLOCK_SIZE, arccos_kernels, relu_layers, tiled

__all__ = ["BLOCK_SIZE", "arccos_kernels", "npk_limit", "relu_nngp", "relu_ntk"]
PARAMETERIZATIONS = ("ntk", "standard")
GATINGS = ("relu", "linear", "shallow")


def _inputs(
    x1: Tensor, x2: Tensor | None, depth: int, sigma_w: float, sigma_b: float, check_finite: bool = True
) -> tuple[Tensor, Tensor]:
    for name, x in (("x1", x1), ("x2", x2)):
        if x is not None:
            check_tensor(name, x, ndim=2, floating=True, hint="(n, d_in); flatten images with x.flatten(1)")
    check_pair(x1, x2, check_finite)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth is the number of weight layers and must be an int >= 1, got {depth!r}")
    real("sigma_w", sigma_w, low=0.0, strict=True)
    real("sigma_b", sigma_b, low=0.0)
    return x1, x1 if x2 is None else x2


@dataclass(frozen=True)
class _Net:
    """What the closed forms need: depth ``d`` (weight layers), hidden widths, biases."""

    depth: int
    widths: tuple[int, ...] | None
    bias: bool | None


def _resolve(name: str, arch, x1, x2, depth, widths, bias) -> tuple[_Net, Tensor, Tensor | None]:
    """The network and inputs of either calling convention (see the module docstring)."""
    if isinstance(arch, Tensor) or arch is None:  # the older K(x1, x2, depth=...)
        warnings.warn(
            f"{name}(x1, x2, depth=...) is deprecated: pass the architecture first, "
            f"{name}(Arch.mlp(d_in, widths), x1, x2)",
            DeprecationWarning,
            stacklevel=3,
        )
        if depth is None:
            raise ValueError(f"{name}: pass the architecture (an Arch) as the first argument")
        return _Net(depth, None if widths is None else _widths(widths, depth), bias), arch, x1
    arch = getattr(arch, "arch", arch)
    if not hasattr(arch, "dense") or not hasattr(arch, "depth"):
        raise TypeError(
            f"{name}: the first argument must be an Arch or a library model, got {type(arch).__name__}"
        )
    if arch.is_conv:
        raise ValueError(
            f"{name} covers fully connected ReLU nets; this architecture has conv layers (use the empirical "
            "kernels neuralpaths.npk / neuralpaths.ntk)"
        )
    if not isinstance(x1, Tensor):
        raise TypeError(f"{name}: x1 must be a torch.Tensor, got {type(x1).__name__}")
    if x1.ndim == 2 and x1.shape[1] != arch.in_dim:
        raise ValueError(
            f"{name}: inputs have {x1.shape[1]} features but the architecture takes {arch.in_dim}"
        )
    return _Net(arch.depth, tuple(arch.dense), arch.bias), x1, x2


def _widths(widths: int | Sequence[int], depth: int) -> tuple[int, ...]:
    ns = (widths,) * (depth - 1) if isinstance(widths, int) else tuple(int(w) for w in widths)
    if len(ns) != depth - 1 or min(ns, default=1) < 1:
        raise ValueError(f"widths must give {depth - 1} positive hidden widths, got {widths!r}")
    return ns


def relu_nngp(
    arch,
    x1: Tensor | None = None,
    x2: Tensor | None = None,
    *,
    sigma_w: float = math.sqrt(2.0),
    sigma_b: float = 0.0,
    block_size: int | None = None,
    progress: bool | None = None,
    depth: int | None = None,
    check_finite: bool = True,
) -> Tensor:
    """NNGP kernel ``Σ_d(x, x') = E[f(x) f(x')]`` of a depth-``d`` ReLU net (``arch``) at
    initialisation. ``block_size``: rows of ``x1`` per block (``None``: automatic).

    Shape:
        ``(n1, d_in), (n2, d_in) -> (n1, n2)``.
    """
    net, x1, x2 = _resolve("relu_nngp", arch, x1, x2, depth, None, None)
    depth = net.depth
    _inputs(x1, x2, depth, sigma_w, sigma_b, check_finite)
    sw2, sb2, d_in = sigma_w**2, sigma_b**2, x1.shape[1]

    def kernel(gram: Tensor, sq1: Tensor, sq2: Tensor) -> Tensor:
        *_, (cov, _) = relu_layers(gram, sq1, sq2, d_in, depth, sw2, sb2)
        return cov

    return tiled(kernel, x1, x2, block_size, "NNGP", progress)


def relu_ntk(
    arch,
    x1: Tensor | None = None,
    x2: Tensor | None = None,
    *,
    sigma_w: float = math.sqrt(2.0),
    sigma_b: float = 0.0,
    parameterization: str = "ntk",
    block_size: int | None = None,
    progress: bool | None = None,
    depth: int | None = None,
    widths: int | Sequence[int] | None = None,
    bias: bool | None = None,
    check_finite: bool = True,
) -> Tensor:
    """Infinite-width NTK of a ReLU net of architecture ``arch`` (see the module docstring).

    Args:
        arch: an ``Arch`` (or library model), fully connected: depth, hidden widths (used by
            ``"standard"``) and whether it has biases are read from it.
        parameterization: ``"ntk"`` (width-independent limit) or ``"standard"`` (the large-width
            NTK of a net of ``arch``'s widths).
        block_size: rows of ``x1`` per block (``None``: automatic).
        depth: the older calling convention only (deprecated), like ``widths`` and ``bias``.
        widths: see ``depth``.
        bias: see ``depth``.

    Shape:
        ``(n1, d_in), (n2, d_in) -> (n1, n2)``.
    """
    net, x1, x2 = _resolve("relu_ntk", arch, x1, x2, depth, widths, bias)
    depth, bias = net.depth, net.bias
    _inputs(x1, x2, depth, sigma_w, sigma_b, check_finite)
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"unknown parameterization {parameterization!r}: use one of {PARAMETERIZATIONS}")
    sw2, sb2, d_in = sigma_w**2, sigma_b**2, x1.shape[1]
    if parameterization == "ntk":  # Θ_1 = Σ_1, Θ_{l+1} = Σ_{l+1} + σ_w² κ₀(Σ_l) Θ_l
        coef, const = [1.0] * depth, [0.0] * depth
    elif net.widths is None:
        raise ValueError("parameterization='standard' needs the hidden widths: pass an Arch")
    else:  # the same recursion with the terms n_{l−1} (Σ_l − σ_b²)/σ_w² + [bias]
        fan_in = [d_in, *net.widths]
        bias_term = float(sigma_b > 0 if bias is None else bias)
        coef = [f / sw2 for f in fan_in]
        const = [bias_term - f * sb2 / sw2 for f in fan_in]

    def kernel(gram: Tensor, sq1: Tensor, sq2: Tensor) -> Tensor:
        theta = torch.zeros_like(gram)
        for l, (cov, k0) in enumerate(relu_layers(gram, sq1, sq2, d_in, depth, sw2, sb2)):  # noqa: E741
            theta.add_(cov, alpha=coef[l]).add_(const[l])
            if k0 is not None:
                theta.mul_(k0).mul_(sw2)
        return theta

    return tiled(kernel, x1, x2, block_size, "NTK", progress)


def npk_limit(
    arch,
    x1: Tensor | None = None,
    x2: Tensor | None = None,
    *,
    gating: str | None = None,
    sigma_w: float = math.sqrt(2.0),
    sigma_b: float = 0.0,
    value_input: str | None = None,
    block_size: int | None = None,
    progress: bool | None = None,
    depth: int | None = None,
    check_finite: bool = True,
) -> Tensor:
    """Infinite-width limit of the *normalised* NPK (``npk(..., normalize=True)``) at random init.

    ``arch``: an ``Arch`` or a library model (a ``DGN``/``DLGN`` also gives ``gating`` and
    ``value_input``; defaults ``"relu"`` and ``"x"``).

    Gating weights Gaussian, ``N(0, σ_w²/fan_in)``, biases ``N(0, σ_b²)``, hard gates.

    Derivation: ``H/Π_l w_l = ⟨x, x'⟩ Π_l (1/w_l) Σ_i G_{l,i}(x) G_{l,i}(x')``. Given the layer's
    input, the pre-activations ``(q_{l,i}(x), q_{l,i}(x'))`` are iid over units ``i``, centred
    Gaussian with covariance ``Σ̂_l`` (``σ_w² ⟨z, z'⟩/n + σ_b²``), so by Sheppard's formula each
    unit is on for both inputs with probability ``κ₀ = (π − θ_l)/(2π)``, ``θ_l`` the angle of
    ``Σ̂_l``; averaging over the ``w_l → ∞`` units gives that probability, and ``Σ̂_l → Σ_l``:

    - ``"relu"`` gating (a ReLU net's own gates): ``Σ_l`` is the NNGP recursion
      (``Σ_{l+1} = σ_w² κ₁(Σ_l) + σ_b²``); without biases ``cos θ_{l+1} = (sin θ_l + (π − θ_l) cos θ_l)/π``
      (the normalised arc-cosine map), starting from the angle ``θ_0`` of ``x, x'``;
    - ``"linear"`` gating (DLGN): ``Σ_{l+1} = σ_w² Σ_l + σ_b²``, so without biases ``θ_l = θ_0``;
    - ``"shallow"``: every layer sees ``x``: ``Σ_l = Σ_1``.

    Hence ``lim H/Π w_l = ⟨x, x'⟩ Π_{l=1}^{d−1} (π − θ_l)/(2π)`` (``value_input="ones"``: ``d_in``
    instead of ``⟨x, x'⟩``). Without biases ``σ_w`` cancels.

    Shape:
        ``(n1, d_in), (n2, d_in) -> (n1, n2)``.
    """
    model = arch
    net, x1, x2 = _resolve("npk_limit", arch, x1, x2, depth, None, None)
    depth = net.depth
    gating = gating or getattr(model, "gating_kind", "relu")
    value_input = value_input or getattr(model, "value_input", "x")
    _inputs(x1, x2, depth, sigma_w, sigma_b, check_finite)
    if gating not in GATINGS:
        raise ValueError(f"unknown gating {gating!r}: use one of {GATINGS}")
    if value_input not in ("x", "ones"):
        raise ValueError(f"unknown value_input {value_input!r}: use 'x' or 'ones'")
    sw2, sb2, d_in = sigma_w**2, sigma_b**2, x1.shape[1]

    def kernel(gram: Tensor, sq1: Tensor, sq2: Tensor) -> Tensor:
        out = gram.clone() if value_input == "x" else torch.full_like(gram, float(d_in))
        for _, k0 in relu_layers(gram, sq1, sq2, d_in, depth, sw2, sb2, gating):
            if k0 is not None:
                out.mul_(k0)
        return out

    return tiled(kernel, x1, x2, block_size, "NPK limit", progress)
