"""The expected value NTK of a conv net with weight sharing: the *shared-weight* NPK.

Identity 3's proof pairs the two gradients ``∂f(x)/∂θ`` and ``∂f(x')/∂θ`` path by path: with iid
zero-mean value weights, ``E[Π_l w_l(p) w_l(p')] = Π_l σ_l²`` exactly when paths ``p`` and ``p'`` use
the *same weight* in every layer, so

    ``E[K_value(x, x')] = (Σ_l Π_{l'≠l} σ_{l'}²) · H̄(x, x')``,
    ``H̄(x, x') = Σ_{p, p' with the same weights} φ_x(p) φ_x'(p')``.

Fully connected (and conv nets that flatten before the dense layers) a weight sequence fixes the
path, so ``H̄ = H`` (the NPK). Conv layers with global average pooling share their weights over
positions: paths ``p, p'`` with the same taps are translates of each other (positions differ by the
same shift ``Δ`` in every layer), so ``H̄ = Σ_Δ H_Δ`` sums the path overlap of ``x`` and ``x'``
shifted by every ``Δ`` (the NPF paper's rotational invariance of the conv NPK, here with the zero
padding of "same" convolutions instead of circular shifts); ``H = H_0`` is one of its terms.

Computed by the unit-weight recursion on *pairs* of positions ``(b, b')``:

    ``s_0[b, b'] = Σ_c x_c(b) x'_c(b')``,
    ``s_l[b, b'] = (Σ_o s_{l−1}[b + o, b' + o]) · Σ_c G_l,c(x, b) G_l,c(x', b')``  (``o`` the taps),

then ``Σ_{b,b'} s_L[b, b'] / (HW)²`` (GAP; ``Σ_b s_L[b, b]`` when flattening) times the dense
layers' ``Π_l G_l G_lᵀ``. Cost ``O(n1 n2 (HW)² Σ_l (C_l + k²))``: small images only.

Shape:
    ``x1: (n1, C, H, W)``, ``x2: (n2, C, H, W)`` -> ``(n1, n2)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..checks import check_pair, optional_block_size
from ..models.base import GatedModel
from ..progress import progress_bar
from .npk import npk

_BLOCK_NUMBERS = 8 * 2**20  # pairs x positions² per block (64 MiB in float64)


def _pair_overlap(a: Tensor, b: Tensor) -> Tensor:
    """``Σ_c a_c(p) b_c(q)`` for every pair. Shape: ``(n1, C, H, W), (n2, C, H, W) -> (n1 n2, P, P)``."""
    pa, pb = a.flatten(2), b.flatten(2)  # (n, C, H, W) -> (n, C, P)
    return torch.einsum("icp,jcq->ijpq", pa, pb).flatten(0, 1)  # (n1, n2, P, P) -> (n1 n2, P, P)


def _diagonal_box(s: Tensor, hh: int, ww: int, k: int) -> Tensor:
    """``Σ_o s[b + o, b' + o]`` over the ``k × k`` taps ``o``, zero outside the image.

    Shape: ``(m, P, P) -> (m, P, P)`` with ``P = H·W``.
    """
    pad = k // 2
    s5 = s.view(-1, hh, ww, hh, ww)  # (m, P, P) -> (m, H, W, H, W)
    sp = F.pad(s5, (pad, pad) * 4)
    out = torch.zeros_like(s5)
    for dy in range(k):
        for dx in range(k):
            out += sp[:, dy : dy + hh, dx : dx + ww, dy : dy + hh, dx : dx + ww]
    return out.view(s.shape)


@torch.no_grad()
def shared_weight_npk(
    model: GatedModel,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    block_size: int | None = None,
    progress: bool | None = None,
    check_finite: bool = True,
) -> Tensor:
    """``H̄(x, x')``: the sum of ``φ_x(p) φ_x'(p')`` over pairs of paths with the same weights.

    Equals :func:`~neuralpaths.kernels.npk` for fully connected nets and for conv nets that
    flatten; for conv nets with global average pooling it sums the NPK over relative shifts.

    ``block_size``: rows of ``x1`` per block (``None``: as many as keep a block near 64 MiB);
    ``progress``: a bar over blocks (``None``: for jobs longer than 2 s); ``check_finite``: refuse
    inputs with NaN or infinity (``False`` skips the check).

    Shape:
        ``(n1, *in_shape), (n2, *in_shape) -> (n1, n2)``.
    """
    block_size = optional_block_size("block_size", block_size)
    if not isinstance(model, GatedModel):
        raise TypeError(
            f"shared_weight_npk needs a library model (MLP, ConvNet, DGN, DLGN), got {type(model).__name__}"
        )
    check_pair(x1, x2, check_finite)
    arch = model.arch
    if model.has_value_bias:
        raise ValueError("shared_weight_npk: the value network has biases; build the model with bias=False")
    if not arch.is_conv:
        return npk(model, x1, x2, block_size=block_size, progress=progress, check_finite=False)
    model.check_input(x1, "x1")
    if x2 is not None:
        model.check_input(x2, "x2")
    g1 = model.gate_maps(x1)
    g2 = g1 if x2 is None else model.gate_maps(x2)
    h1 = model.value_input_for(x1)
    h2 = h1 if x2 is None else model.value_input_for(x2)
    n_conv, (hh, ww) = len(arch.conv), arch.in_shape[1:]
    n1, n2, positions = len(h1), len(h2), hh * ww
    out = h1.new_empty(n1, n2)
    rows = block_size or max(1, _BLOCK_NUMBERS // max(1, n2 * positions**2))
    bar = progress_bar(
        range(0, n1, rows),
        desc="shared-weight NPK",
        unit="block",
        enabled=progress,
        delay=2.0 if progress is None else 0,
    )
    for s0 in bar:
        e = min(n1, s0 + rows)
        s = _pair_overlap(h1[s0:e], h2)
        for layer in range(n_conv):
            s = _diagonal_box(s, hh, ww, arch.kernel_size) * _pair_overlap(g1[layer][s0:e], g2[layer])
        if arch.pool == "gap":
            t = s.sum(dim=(1, 2)) / positions**2
        else:
            t = s.diagonal(dim1=1, dim2=2).sum(-1)
        t = t.view(e - s0, n2)  # (b n2,) -> (b, n2)
        for a, b in zip(g1[n_conv:], g2[n_conv:]):
            t = t * (a[s0:e] @ b.T)
        out[s0:e] = t
    return out
