"""Structured empirical NTK of ReLU nets, DGNs and DLGNs: layer inputs and back-propagated signals.

For a dense layer with input ``a(x)`` and signal ``δ(x) = ∂f/∂u`` (``u`` its pre-activation),
``∂f/∂W = δ aᵀ`` and ``∂f/∂b = δ``, so its NTK term is ``⟨a,a'⟩·⟨δ,δ'⟩ (+ ⟨δ,δ'⟩)``: Gram matrices
of ``(n, width)`` tensors, never a per-sample Jacobian. For ``k`` outputs ``δ`` is ``(n, k, w)`` and
its Gram ``(n k, n k)``; the output layer's ``δ`` is the identity over outputs.

Value network (``h_0`` = x or ones; ``u_j = W_j h_{j-1} + b_j``, ``h_j = u_j ⊙ G_j``): with
``t_j = ∂f/∂(u_j ⊙ G_j)``, one batched backward recursion gives, for all samples at once,

    ``t_{L-1} = W_dᵀ``,   ``δ_j = t_j ⊙ G_j``,   ``t_{j-1} = W_jᵀ δ_j``   (conv: transposed conv),

and a pooling step between conv and dense stacks is replaced by its adjoint (GAP: broadcast / HW).

Gating network (``q_j = F_j z_{j-1} + c_j``, ``z_j = act(q_j)``, ``z_{-1} = x``; gates
``G_j = gate(q_j)``): the gate enters ``f`` through ``h_j``, so ``∂f/∂G_j = t_j ⊙ u_j`` and

    ``e_j = ∂f/∂q_j = (t_j ⊙ u_j ⊙ gate'(q_j)) + act'(q_j) ⊙ F_{j+1}ᵀ e_{j+1}``

(``act' = 1{q>0}`` for ``"relu"`` gating, ``1`` for ``"linear"``; ``"shallow"`` gating ``q_j = V_j x``
has no chain term). The gating terms are ``⟨z_{j-1}, z'_{j-1}⟩⟨e_j, e'_j⟩ (+ ⟨e_j,e'_j⟩)``. Soft
gates ``(1+ε)σ(βq)`` have ``gate' = β G (1 − G/(1+ε))``; hard gates have ``gate' = 0``: the gating
NTK is then zero and is not computed.

Conv layers: the per-sample gradient of each conv layer, ``Σ_pos δ(pos) ⊗ patch(pos)`` by one
batched matmul of the signal with the unfolded input (``(n k, C_out·C_in·k²)``), then its Gram.
The alternative, patch Grams ⊙ signal Grams summed over position pairs, costs ``n² P² (C_in k² +
C_out)`` against ``n P C_out C_in k² + n² C_out C_in k²`` here (``P`` positions), so it only wins
for images of a few pixels: benchmarks/bench_ntk_conv.py measured the per-sample gradient form
2.6x (4x4 images, 64 channels) to 460x (16x16, 16 channels) faster.

Shape:
    ``x: (b, *in_shape)`` -> terms of ``(b, p)`` factors and ``(b, k, q)`` signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..gate import Gate
from ..models.arch import Arch, apply_layer, chain_forward, layer_params
from ..models.dgn import DGN
from ..models.mlp import ReLUNet
from .gram import Factor, Term


@dataclass(frozen=True)
class Plan:
    """What the structured path needs to know about a model: its two networks and gate."""

    arch: Arch
    value: list[nn.Module]
    gating: list[nn.Module] | None  # None: gates are 1{u > 0} of the value net itself (ReLU net)
    mode: str  # gating network: "relu", "linear" or "shallow"
    gate: Gate
    value_input: str
    names: dict[int, str]  # id(parameter) -> name


def plan_for(model: nn.Module) -> Plan | None:
    """A :class:`Plan` for the library's ReLU nets and DGNs/DLGNs; ``None`` for anything else."""
    names = {id(p): n for n, p in model.named_parameters()}
    cls = type(model)
    if isinstance(model, ReLUNet) and cls.forward is ReLUNet.forward:
        return Plan(model.arch, list(model.layers), None, "relu", Gate(), "x", names)
    if not isinstance(model, DGN) or any(
        getattr(cls, m) is not getattr(DGN, m) for m in ("forward", "gate_maps", "preactivations")
    ):
        return None
    if model.tied:
        if not model.gate.hard:
            return None  # one weight feeds both networks through soft gates: use the reference
        if model.gate.eps == 0 and model.value_input == "x" and model.gating_kind == "relu":
            return Plan(model.arch, list(model.value), None, "relu", model.gate, "x", names)
    return Plan(
        model.arch,
        list(model.value),
        list(model.gating),
        model.gating_kind,
        model.gate,
        model.value_input,
        names,
    )


def _is_conv(arch: Arch, j: int) -> bool:
    return j < len(arch.conv)


def _after(arch: Arch, j: int, h: Tensor) -> Tensor:
    """Pooling after the last conv layer. Shape: ``(m, C, H, W) -> (m, C | C*H*W)``."""
    if not (arch.conv and j == len(arch.conv) - 1):
        return h
    return h.mean(dim=(2, 3)) if arch.pool == "gap" else h.flatten(1)


def _after_adjoint(arch: Arch, j: int, s: Tensor) -> Tensor:
    """Adjoint of :func:`_after`. Shape: ``(m, C | C*H*W) -> (m, C, H, W)``."""
    if not (arch.conv and j == len(arch.conv) - 1):
        return s
    c, (hh, ww) = arch.conv[-1], arch.in_shape[1:]
    if arch.pool == "gap":
        return (s / (hh * ww))[:, :, None, None].expand(-1, -1, hh, ww)
    return s.reshape(-1, c, hh, ww)  # (m, C*H*W) -> (m, C, H, W)


def _backprop(arch: Arch, j: int, layer: nn.Module, s: Tensor) -> Tensor:
    """``∂/∂(input of layer j)`` from ``∂/∂(output of layer j)``, through the pooling before it.

    Shape: ``(n, k, *out_shape_j) -> (n, k, *hidden_shape_{j-1})``.
    """
    n, k = s.shape[:2]
    flat = s.reshape(n * k, *s.shape[2:])  # (n, k, ...) -> (n k, ...)
    if _is_conv(arch, j):
        back = F.conv_transpose2d(flat, layer.weight, padding=arch.kernel_size // 2)
    else:
        back = flat @ layer.weight
    back = _after_adjoint(arch, j - 1, back)
    return back.reshape(n, k, *back.shape[1:])


def _layer_term(
    arch: Arch, j: int, layer: nn.Module, a: Tensor | float, sig: Tensor | None, w_on: bool, b_on: bool
) -> Term:
    """NTK term of weight layer ``j`` (weight if ``w_on``, bias if ``b_on``): input ``a`` (a float: a
    constant all-ones input of that many features), signal ``sig`` (``None``: the output layer)."""
    n = len(sig) if sig is not None else None
    if _is_conv(arch, j):  # per-sample gradient (n, k, C_out, C_in k²), then its Gram
        parts = []
        if w_on:
            kk = arch.kernel_size
            unf = F.unfold(a, kk, padding=kk // 2)  # (n, C_in k², P)
            k = sig.shape[1]
            s = sig.reshape(n, k * sig.shape[2], -1)  # (n, k, C_out, H, W) -> (n, k C_out, P)
            parts.append(torch.bmm(s, unf.transpose(1, 2)).reshape(n, k, -1))
        if b_on:
            parts.append(sig.sum(dim=(3, 4)))  # (n, k, C_out)
        return Term([], torch.cat(parts, -1) if len(parts) > 1 else parts[0])
    bias = 1.0 if b_on else 0.0
    if not w_on:
        factor = Factor(None, 1.0)
    elif isinstance(a, Tensor):
        factor = Factor(a, bias)
    else:
        factor = Factor(None, a + bias)
    return Term([factor], None if sig is None else sig.reshape(n, sig.shape[1], -1))


def _selected(plan: Plan, layer: nn.Module, chosen: set[str]) -> tuple[bool, bool]:
    w = plan.names.get(id(layer.weight)) in chosen
    b = layer.bias is not None and plan.names.get(id(layer.bias)) in chosen
    return w, b


def _gate_grad(gate: Gate, g: Tensor) -> Tensor:
    """``gate'(q)`` from ``g = gate(q)`` for a soft gate ``(1+ε)σ(βq)``."""
    return gate.beta * g * (1.0 - g / (1.0 + gate.eps))


def structured_terms(plan: Plan, x: Tensor, chosen: set[str], k: int) -> list[Term]:
    """NTK terms of the parameters named in ``chosen`` for a block of inputs ``x``."""
    arch, value, L = plan.arch, plan.value, plan.arch.n_hidden
    sel_v = [_selected(plan, m, chosen) for m in value]
    soft = not plan.gate.hard and plan.gating is not None
    sel_g = [_selected(plan, m, chosen) for m in plan.gating] if soft else [(False, False)] * L
    need_v = [j for j in range(L) if any(sel_v[j])]
    need_g = [j for j in range(L) if any(sel_g[j])]
    lowest = min(need_v + need_g, default=L)

    # gating network forward: pre-activations q_j and inputs z_{j-1}
    qs, zs = None, None
    if plan.gating is not None:
        w, b = layer_params(plan.gating)
        if plan.mode == "shallow":  # every layer's gates a linear function of the input
            qs, zs = [F.linear(x, wj, bj) for wj, bj in zip(w, b)], [x] * len(w)
        else:
            qs, zs = chain_forward(arch, w, x, torch.relu if plan.mode == "relu" else None, b)
    # value network forward: inputs a_j, pre-activations u_j, gates G_j
    h: Tensor = x if plan.value_input == "x" else x.new_ones(x.shape)
    inputs: list[Tensor | float] = []
    us, gates = [], []
    for j in range(L):
        inputs.append(h)
        u = apply_layer(arch, j, h, value[j].weight, value[j].bias)
        g = (u > 0).to(u.dtype) if qs is None else plan.gate(qs[j])
        us.append(u)
        gates.append(g)
        h = _after(arch, j, torch.relu(u) if qs is None else u * g)
    inputs.append(h)
    if plan.value_input == "ones" and not _is_conv(arch, 0):
        inputs[0] = float(arch.in_dim)  # ⟨1, 1⟩ = d_in: no Gram needed

    # value network backward: t_j = ∂f/∂(u_j ⊙ G_j), δ_j = t_j ⊙ G_j
    n, ts, deltas = len(x), [None] * L, [None] * L
    if L > lowest:
        s = _after_adjoint(arch, L - 1, value[L].weight)[None]  # (1, k, *shape_{L-1})
        for j in range(L - 1, lowest - 1, -1):
            ts[j] = s
            deltas[j] = s * gates[j][:, None]  # (n, k, *shape_j)
            if j > lowest:
                s = _backprop(arch, j, value[j], deltas[j])

    terms = [_layer_term(arch, j, value[j], inputs[j], deltas[j], *sel_v[j]) for j in need_v]
    if any(sel_v[L]):
        terms.append(_layer_term(arch, L, value[L], inputs[L], None, *sel_v[L]))
    if need_g:  # gating network backward through the soft gates
        es = [None] * L
        for j in range(L - 1, min(need_g) - 1, -1):
            e = ts[j] * us[j][:, None] * _gate_grad(plan.gate, gates[j])[:, None]  # (n, k, *shape_j)
            if plan.mode != "shallow" and j < L - 1:
                back = _backprop(arch, j + 1, plan.gating[j + 1], es[j + 1])
                e = e + (back * (qs[j] > 0).to(back.dtype)[:, None] if plan.mode == "relu" else back)
            es[j] = e
        terms += [_layer_term(arch, j, plan.gating[j], zs[j], es[j], *sel_g[j]) for j in need_g]
    if k == 1:  # a single output: signals are per-sample factors
        terms = [
            Term([*t.factors, Factor(t.signal.reshape(n, -1))]) if t.signal is not None else t for t in terms
        ]
    return terms
