"""The neural path kernel ``H(x, x') = ⟨φ_x, φ_x'⟩``, without enumerating paths.

Fully connected: ``H = (X1 X2ᵀ) ⊙ Π_l G_l(X1) G_l(X2)ᵀ`` (with the all-ones value input,
``X1 X2ᵀ`` is the constant ``d_in``, so that always ``H = npf(x1) @ npf(x2).T``).

Any architecture (Identity 2): ``H(x, x')`` is the scalar output of the *unit-weight* network (every
weight 1, one output unit) fed ``x ⊙ x'`` with gates ``G(x) ⊙ G(x')``, fixed linear maps entering
squared (average pooling divides by ``(HW)²``). ``method="unit"`` runs that network literally,
batched over pairs. ``method="closed"`` (the default) uses what the unit-weight network reduces to:
a 3x3 all-ones conv sums channels and box-filters positions, so per pair and position

    ``s_0 = Σ_c x̃_c x̃'_c``,   ``s_l = box(s_{l-1}) ⊙ Σ_c G_l,c G'_l,c``,

then ``Σ_pos s_L`` (divided by ``(HW)²`` for GAP) times ``Π_dense G_l G'_lᵀ``. Cost
``O(n1 n2 Σ_l HW (C_l + k²))`` instead of ``O(n1 n2 Σ_l HW C_l C_{l-1} k²)``.

Any other ``nn.Module`` (biases, strides, max-pooling, residual blocks, ...; and the library's own
models with value biases): the unit-weight network of its path graph, run on pairs
(:mod:`neuralpaths.graph.pairs`), bias paths included. :func:`npk_parts` splits the NPK of a
residual network into its sub-architectures' NPKs (the NPF paper's ensemble view).

Large ``n``: fully connected kernels are formed ``block_size × block_size`` tile by tile
(:mod:`~neuralpaths.kernels.gram`: one Gram per layer per tile, multiplied in place; the symmetric
case computes tiles on and above the diagonal only); conv kernels a block of ``x1`` rows at a time.

Shape:
    ``x1: (n1, *in_shape)``, ``x2: (n2, *in_shape)`` -> ``(n1, n2)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_pair, optional_block_size
from ..graph import paths as general
from ..graph.model import PathModel, path_model
from ..graph.pairs import unit_kernel
from ..models.arch import gated_forward
from ..models.base import GatedModel
from ..progress import progress_bar
from .gram import Factor, Term, tiled_kernel

METHODS = ("auto", "closed", "unit")
_BLOCK_BYTES = 256 * 2**20  # peak memory target for the pairwise intermediates


def _check(model: GatedModel, x1: Tensor, x2: Tensor | None) -> None:
    model.check_input(x1, "x1")
    if x2 is not None:
        model.check_input(x2, "x2")


def _general(
    pm: PathModel,
    x1: Tensor,
    x2: Tensor | None,
    what: str,
    choices: dict[str, int] | None = None,
    **kw,
) -> Tensor:
    """The unit-weight network of any path model on pairs (see :mod:`neuralpaths.graph.pairs`)."""
    general.check_x(pm, x1, what, "x1")
    if x2 is not None:
        general.check_x(pm, x2, what, "x2")
    g1 = pm.gates(x1)
    g2 = g1 if x2 is None else pm.gates(x2)
    h1 = pm.value_input_for(x1)
    h2 = h1 if x2 is None else pm.value_input_for(x2)
    late = general.late_operands(pm.graph)
    return unit_kernel(
        pm.graph, pm.value, h1, h2, g1, g2, units=pm.units(x1), choices=choices, late=late, **kw
    )


def _prepare(model: GatedModel, x1: Tensor, x2: Tensor | None):
    g1 = model.gate_maps(x1)
    g2 = g1 if x2 is None else model.gate_maps(x2)
    h1 = model.value_input_for(x1)
    h2 = h1 if x2 is None else model.value_input_for(x2)
    return h1, h2, g1, g2


@torch.no_grad()
def npk(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    normalize: bool = False,
    method: str = "auto",
    ignore_bias: bool = False,
    block_size: int | None = None,
    progress: bool | None = None,
    check_finite: bool = True,
) -> Tensor:
    """Neural path kernel of ``model``'s gates between ``x1`` and ``x2`` (default ``x2 = x1``).

    ``model``: the library's models, a ``DGN.from_module``, or any supported ``nn.Module`` (its bias
    paths included: ``H = npf(x1) @ npf(x2).T`` either way).

    Args:
        normalize: divide by ``Π_l units_l`` (the number of gate combinations), so that for hard
            gates ``H/⟨x,x'⟩`` is the fraction of paths on for both inputs.
        method: ``"closed"`` (fast closed form of the library's bias-free models), ``"unit"`` (the
            literal unit-weight network) or ``"auto"`` (closed where it exists, else unit).
        ignore_bias: leave out the bias paths (the kernel of the input paths only).
        block_size: rows per block (default: fully connected ``1024``; conv and ``"unit"`` as many
            as keep the pairwise intermediates near 256 MiB).
        progress: a progress bar over blocks; ``None`` shows it for jobs longer than 2 s.
        check_finite: refuse inputs with NaN or infinity (one reduction per input); ``False``
            skips the check.

    Peak memory: the result (``n1·n2`` numbers) plus, fully connected, at most six ``block_size²``
    tile buffers and the inputs and gates (``(n1 + n2)·(d_in + Σ_l w_l)`` numbers, or of two blocks at a
    time above 1 GiB); conv, ``block_size·n2·H·W`` numbers per intermediate (a few of them);
    ``"unit"``, ``block_size·n2·max_l units_l``. Runs on the tensors' device.

    Shape:
        ``(n1, *in_shape), (n2, *in_shape) -> (n1, n2)``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown npk method {method!r}: use one of {METHODS}")
    block_size = optional_block_size("block_size", block_size)
    check_pair(x1, x2, check_finite)
    layered = isinstance(model, GatedModel) and (ignore_bias or not model.has_value_bias)
    if not layered:
        if method == "closed":
            raise ValueError(
                "npk: method='closed' is for the library's bias-free models; use 'auto' or 'unit'"
            )
        pm = path_model(model)
        k = _general(pm, x1, x2, "npk", ignore_bias=ignore_bias, block_size=block_size, progress=progress)
        return k / float(general.total_units(pm, x1)) if normalize else k
    _check(model, x1, x2)
    if method == "unit":
        h1, h2, g1, g2 = _prepare(model, x1, x2)
        k = _npk_unit(model, h1, h2, g1, g2, block_size, progress)
    elif model.arch.is_conv:
        h1, h2, g1, g2 = _prepare(model, x1, x2)
        k = _npk_conv(model, h1, h2, g1, g2, block_size, progress)
    else:
        k = tiled_kernel(
            lambda xb: _fc_terms(model, xb), x1, x2, 1, block_size=block_size, progress=progress, desc="npk"
        )
    if normalize:
        k = k / float(math.prod(model.arch.widths))  # Python int: exact, may pass 2**63
    return k


def _fc_terms(model: GatedModel, x: Tensor) -> list[Term]:
    """``(X Xᵀ) ⊙ Π_l G_l G_lᵀ`` as one term of Gram factors (ones input: the constant ``d_in``)."""
    first = Factor(x) if model.value_input == "x" else Factor(None, float(model.arch.in_dim))
    return [Term([first, *(Factor(g) for g in model.gates(x))])]


def _row_blocks(n1: int, n2: int, units: int, block_size: int | None, progress: bool | None, desc: str):
    """``(start, end)`` of each block of ``x1`` rows, under a progress bar."""
    rows = block_size or max(1, _BLOCK_BYTES // (8 * max(1, n2 * units)))
    starts = range(0, n1, rows)
    bar = progress_bar(
        starts, desc=desc, unit="block", enabled=progress, delay=2.0 if progress is None else 0
    )
    return ((s, min(n1, s + rows)) for s in bar)


def _npk_unit(
    model: GatedModel,
    h1: Tensor,
    h2: Tensor,
    g1: list[Tensor],
    g2: list[Tensor],
    block_size: int | None,
    progress: bool | None,
) -> Tensor:
    """Identity 2 literally: run the unit-weight network on every pair, a block of x1 rows at a time."""
    arch = model.arch
    ws = [torch.ones_like(m.weight) for m in model.value_layers]
    ws[-1] = ws[-1][:1]
    n1, n2 = len(h1), len(h2)
    out = h1.new_empty(n1, n2)
    units = max([arch.in_dim, *arch.widths])
    for s, e in _row_blocks(n1, n2, units, block_size, progress, "npk (unit)"):
        b = e - s
        h0 = (h1[s : s + b, None] * h2[None]).flatten(0, 1)  # (b, n2, *in) -> (b*n2, *in)
        gates = [(a[s : s + b, None] * c[None]).flatten(0, 1) for a, c in zip(g1, g2)]
        out[s : s + b] = gated_forward(arch, ws, h0, gates, pool_power=2).view(b, n2)
    return out


def _npk_conv(
    model: GatedModel,
    h1: Tensor,
    h2: Tensor,
    g1: list[Tensor],
    g2: list[Tensor],
    block_size: int | None,
    progress: bool | None,
) -> Tensor:
    """The unit-weight recursion for conv nets, a block of x1 rows at a time."""
    arch = model.arch
    n_conv, (hh, ww) = len(arch.conv), arch.in_shape[1:]
    k = arch.kernel_size
    box = h1.new_ones(1, 1, k, k)
    n1, n2 = len(h1), len(h2)
    out = h1.new_empty(n1, n2)

    def overlap(a: Tensor, b: Tensor) -> Tensor:
        """Per-position channel overlap. Shape: ``(b1, C, H, W), (n2, C, H, W) -> (b1*n2, 1, H, W)``."""
        pa = a.flatten(2).permute(2, 0, 1)  # (b1, C, HW) -> (HW, b1, C)
        pb = b.flatten(2).permute(2, 1, 0)  # (n2, C, HW) -> (HW, C, n2)
        return torch.bmm(pa, pb).permute(1, 2, 0).reshape(-1, 1, hh, ww)  # (HW, b1, n2) -> (b1*n2, 1, H, W)

    for s, e in _row_blocks(n1, n2, 3 * hh * ww, block_size, progress, "npk (conv)"):
        acc = overlap(h1[s:e], h2)
        for layer in range(n_conv):
            acc = F.conv2d(acc, box, padding=k // 2) * overlap(g1[layer][s:e], g2[layer])
        acc = acc.sum(dim=(1, 2, 3)).view(e - s, n2)  # (b1*n2, 1, H, W) -> (b1, n2)
        if arch.pool == "gap":
            acc = acc / (hh * ww) ** 2
        for a, b in zip(g1[n_conv:], g2[n_conv:]):
            acc = acc * (a[s:e] @ b.T)
        out[s:e] = acc
    return out


@torch.no_grad()
def npk_parts(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    ignore_bias: bool = False,
    block_size: int | None = None,
    progress: bool | None = None,
    check_finite: bool = True,
) -> dict[str, Tensor]:
    """The NPK of a residual network split into its sub-architectures' NPKs (ensemble view).

    With ``b`` residual adds there are up to ``2^b`` sub-architectures, each keeping one operand of
    every add it reaches: ``{"block1=skip, block2=branch": H_part, ...}`` (block = the module whose
    ``forward`` adds). The paths of the network are the disjoint union of theirs (a bias path that
    starts after an add goes with that add's skip operand), so ``Σ_parts H_part = npk(model, x1, x2)``.

    ``check_finite``: as for :func:`npk`.

    Shape:
        ``(n1, *in_shape), (n2, *in_shape) -> {label: (n1, n2)}``.
    """
    block_size = optional_block_size("block_size", block_size)
    check_pair(x1, x2, check_finite)
    pm = path_model(model)
    parts = general.sub_architectures(pm.graph)
    kw = dict(ignore_bias=ignore_bias, block_size=block_size, progress=progress)
    return {label: _general(pm, x1, x2, "npk_parts", choices, **kw) for label, choices in parts.items()}
