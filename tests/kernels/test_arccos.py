"""The in-place, tiled arc-cosine recursion equals the plain formulas, whatever the tiling."""

from __future__ import annotations

import math

import pytest
import torch

from neuralpaths.kernels import arccos as A
from neuralpaths.kernels import npk_limit, relu_nngp, relu_ntk
from neuralpaths.models import Arch

torch.manual_seed(0)


def plain_layers(x1, x2, depth, sw2, sb2, gating="relu"):
    """The recursion transcribed from the formulas with :func:`arccos_kernels` (new tensors everywhere)."""
    d_in = x1.shape[1]
    cov = sw2 * (x1 @ x2.T) / d_in + sb2
    v1 = sw2 * (x1 * x1).sum(1) / d_in + sb2
    v2 = sw2 * (x2 * x2).sum(1) / d_in + sb2
    out = []
    for _ in range(depth - 1):
        k1, k0 = A.arccos_kernels(cov, v1, v2)
        out.append((cov.clone(), k0))
        if gating == "relu":
            cov, v1, v2 = sw2 * k1 + sb2, sw2 * v1 / 2 + sb2, sw2 * v2 / 2 + sb2
        elif gating == "linear":
            cov, v1, v2 = sw2 * cov + sb2, sw2 * v1 + sb2, sw2 * v2 + sb2
    return [*out, (cov, None)]


@pytest.mark.parametrize("gating", ["relu", "linear", "shallow"])
@pytest.mark.parametrize("sb2", [0.0, 0.3])
def test_in_place_layers_equal_the_plain_formulas(gating, sb2):
    x1, x2 = torch.randn(7, 5, dtype=torch.float64), torch.randn(9, 5, dtype=torch.float64)
    x1[2] = 0.0  # a zero input: κ₀ = 0 without biases
    sq1, sq2 = (x1 * x1).sum(1), (x2 * x2).sum(1)
    fast = [
        (c.clone(), None if k is None else k.clone())
        for c, k in A.relu_layers(x1 @ x2.T, sq1, sq2, 5, 4, 2.0, sb2, gating)
    ]
    for (c, k), (pc, pk) in zip(fast, plain_layers(x1, x2, 4, 2.0, sb2, gating), strict=True):
        torch.testing.assert_close(c, pc, rtol=1e-12, atol=1e-12)
        if pk is not None:
            torch.testing.assert_close(k, pk, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "kernel",
    [
        lambda a, b: relu_ntk(Arch.mlp(6, [8, 8, 8], 1), a, b, parameterization="standard"),
        lambda a, b: relu_nngp(Arch.mlp(6, [8, 8], 1), a, b, sigma_b=0.2),
        lambda a, b: npk_limit(Arch.mlp(6, [8, 8], 1), a, b, gating="linear"),
    ],
    ids=["ntk-standard", "nngp-bias", "npk-limit-linear"],
)
def test_tiles_do_not_change_the_kernel(monkeypatch, kernel):
    x = torch.randn(300, 6, dtype=torch.float64)
    whole = kernel(x, None), kernel(x[:37], x)
    monkeypatch.setattr(A, "TILE_ENTRIES", 64)  # tiles of a few entries, ragged at every edge
    monkeypatch.setattr(A, "TILE_ROWS", 5)
    tiled = kernel(x, None), kernel(x[:37], x)
    for w, t in zip(whole, tiled, strict=True):
        torch.testing.assert_close(t, w, rtol=1e-13, atol=1e-13)
    assert torch.equal(tiled[0], tiled[0].T)


def test_the_diagonal_is_exact_where_the_angle_is_zero():
    # σ_w² = 2, no biases: Σ_l(x, x) = 2‖x‖²/d_in at every layer and σ_w² κ₀(θ = 0) = 1, so the NTK
    # (NTK parameterisation) of depth d is d · 2‖x‖²/d_in on the diagonal. arccos of a cosine one
    # rounding below 1 would give an angle of 1.5e-8 and a relative error ~1e-9.
    d_in, depth = 784, 6
    x = torch.rand(500, d_in, dtype=torch.float64)
    K = relu_ntk(Arch.mlp(d_in, [128] * (depth - 1), 1), x)
    exact = depth * 2 * (x * x).sum(1) / d_in
    torch.testing.assert_close(K.diagonal(), exact, rtol=1e-14, atol=0)


def test_snap_only_touches_angles_the_cosine_cannot_resolve():
    eps = torch.finfo(torch.float64).eps
    assert math.acos(1 - A.SNAP * eps) < 6e-8
