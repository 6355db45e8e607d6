"""Structured empirical NTK of any module whose parameters sit in ``Linear`` / ``Conv`` / ``BatchNorm``.

Every parametrised layer ``u = layer(a)`` contributes ``⟨∂f/∂θ(x), ∂f/∂θ(x')⟩`` through its input
``a`` and its signal ``δ = ∂f/∂u``, read off one forward pass (forward hooks) and one backward pass
per output (``∂(Σ_i f_k(x_i))/∂u`` is every sample's own ``δ``, samples being independent in eval
mode). The data flow between layers — ReLUs, max-pooling, residual adds, concatenation, a DGN's
gates, anything — is autograd's business, so residual and max-pool nets, and the value and gating
networks of ``DGN.from_module``, are covered alike:

- ``Linear`` on ``(n, d)``: ``⟨a, a'⟩·⟨δ, δ'⟩ (+ ⟨δ, δ'⟩ for the bias)``: Gram matrices only;
- ``Conv1d``/``Conv2d`` (any stride, padding, dilation, groups): the per-sample gradient
  ``Σ_pos δ(pos) ⊗ patch(pos)`` by one batched product with the unfolded input, then its Gram;
- ``BatchNorm`` (eval): ``∂f/∂γ = Σ_pos δ·x̂``, ``∂f/∂β = Σ_pos δ``, per sample.

A module called more than once in a forward pass (shared weights) or a parameter outside these
layers has no such form: :func:`module_plan` returns ``None`` and ``ntk`` uses the reference.

Shape:
    ``x: (b, *in_shape)`` -> terms of ``(b, p)`` factors and ``(b, k, q)`` signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..graph.windows import conv_pads
from .gram import Factor, Term

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d)


@dataclass(frozen=True)
class LayerSel:
    """A parametrised layer and which of its parameters the NTK differentiates."""

    name: str
    module: nn.Module
    weight: bool
    bias: bool


def module_plan(model: nn.Module, names: list[str]) -> list[LayerSel] | None:
    """The layers holding the parameters ``names``; ``None`` if one is outside :data:`LAYERS`."""
    owner = {}
    for mname, m in model.named_modules():
        for pname, _ in m.named_parameters(recurse=False):
            owner.setdefault(f"{mname}.{pname}" if mname else pname, (mname, m, pname))
    plan: dict[int, LayerSel] = {}
    for n in names:
        mname, m, pname = owner[n]
        if not isinstance(m, LAYERS) or pname not in ("weight", "bias"):
            return None
        sel = plan.get(id(m), LayerSel(mname, m, False, False))
        plan[id(m)] = LayerSel(mname, m, sel.weight or pname == "weight", sel.bias or pname == "bias")
    return list(plan.values())


def check_eval(model: nn.Module) -> None:
    """Refuse BatchNorm / Dropout in training mode (samples would not be independent)."""
    for name, m in model.named_modules():
        if m.training and isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)):
            raise ValueError(
                f"ntk: layer '{name}' ({type(m).__name__}) is in training mode, where samples are not "
                "independent (batch statistics / random masks); call model.eval() first"
            )


def _conv_grads(m: nn.Module, a: Tensor, sig: Tensor, w_on: bool, b_on: bool) -> Tensor:
    """Per-sample gradient of a conv layer. Shape: ``a (n, C_in, *sp), sig (n, k, C_out, *sp_out)
    -> (n, k, q)``."""
    n, k, c_out = sig.shape[:3]
    parts = []
    if w_on:
        one_d = isinstance(m, nn.Conv1d)
        x = F.pad(a, conv_pads(m))
        if one_d:
            x = x.unsqueeze(2)  # (n, C, L) -> (n, C, 1, L)
        ks, st, dl = [(1, *v) if one_d else v for v in (m.kernel_size, m.stride, m.dilation)]
        unf = F.unfold(x, ks, dilation=dl, stride=st)  # (n, C_in k², P)
        s = sig.reshape(n, k, c_out, -1)  # (n, k, C_out, *sp) -> (n, k, C_out, P)
        if m.groups == 1:
            g = torch.bmm(s.reshape(n, k * c_out, -1), unf.transpose(1, 2))  # (n, k C_out, C_in k²)
        else:
            grp = m.groups
            u = unf.reshape(n, grp, -1, unf.shape[-1])  # (n, G, C_in/G k², P)
            g = torch.einsum("ngip,nkgop->nkgoi", u, s.reshape(n, k, grp, c_out // grp, -1))
        parts.append(g.reshape(n, k, -1))
    if b_on:
        parts.append(sig.flatten(3).sum(3))  # (n, k, C_out)
    return torch.cat(parts, -1) if len(parts) > 1 else parts[0]


def _bn_grads(m: nn.Module, a: Tensor, sig: Tensor, w_on: bool, b_on: bool) -> Tensor:
    """Per-sample gradient of an eval-mode BatchNorm's ``γ`` and ``β``. Shape: ``-> (n, k, q)``."""
    shape = (1, -1) + (1,) * (a.ndim - 2)
    xhat = (a - m.running_mean.view(shape)) * torch.rsqrt(m.running_var + m.eps).view(shape)
    n, k = sig.shape[:2]
    parts = []
    if w_on:
        parts.append((sig * xhat[:, None]).reshape(n, k, sig.shape[2], -1).sum(-1))
    if b_on:
        parts.append(sig.reshape(n, k, sig.shape[2], -1).sum(-1))
    return torch.cat(parts, -1) if len(parts) > 1 else parts[0]


@torch.enable_grad()  # callers (the tiled kernel) run under no_grad
def module_terms(model: nn.Module, plan: list[LayerSel], x: Tensor, k: int) -> list[Term]:
    """NTK terms of the layers in ``plan`` for a block of inputs ``x`` (see the module docstring)."""
    check_eval(model)
    seen: dict[int, list[tuple[Tensor, Tensor]]] = {}

    def hook(mod: nn.Module, inp: tuple, out: Tensor) -> None:
        seen.setdefault(id(mod), []).append((inp[0].detach(), out))

    handles = [sel.module.register_forward_hook(hook) for sel in plan]
    try:
        with torch.enable_grad():
            y = model(x.detach().requires_grad_(True)).reshape(len(x), -1)  # (b,) or (b, k) -> (b, k)
    finally:
        for h in handles:
            h.remove()
    if any(len(seen.get(id(sel.module), [])) != 1 for sel in plan):
        raise LookupError("a layer ran more than once (or not at all) in one forward pass")
    outs = [seen[id(sel.module)][0][1] for sel in plan]
    live = [i for i, o in enumerate(outs) if o.requires_grad]  # others: behind hard gates, no gradient
    grads: list[list[Tensor | None]] = [[None] * len(outs) for _ in range(k)]
    for j in range(k if live and y.requires_grad else 0):
        got = torch.autograd.grad(
            y[:, j].sum(), [outs[i] for i in live], retain_graph=j < k - 1, allow_unused=True
        )
        for i, g in zip(live, got):
            grads[j][i] = g
    n, terms = len(x), []
    for i, sel in enumerate(plan):
        per_out = [g[i] for g in grads]
        if all(g is None for g in per_out):
            continue  # no gradient reaches this layer (e.g. behind hard gates): its term is zero
        sig = torch.stack([g if g is not None else torch.zeros_like(outs[i]) for g in per_out], 1).detach()
        a, m = seen[id(sel.module)][0][0], sel.module
        if isinstance(m, nn.Linear) and a.ndim == 2:
            factor = Factor(a, 1.0 if sel.bias else 0.0) if sel.weight else Factor(None, 1.0)
            terms.append(Term([factor], sig))  # sig: (n, k, out)
        elif isinstance(m, nn.Linear):
            parts = []
            if sel.weight:
                parts.append(torch.einsum("nk...o,n...i->nkoi", sig, a).reshape(n, k, -1))
            if sel.bias:
                parts.append(sig.reshape(n, k, -1, sig.shape[-1]).sum(2))
            terms.append(Term([], torch.cat(parts, -1)))
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            terms.append(Term([], _bn_grads(m, a, sig, sel.weight, sel.bias)))
        else:
            terms.append(Term([], _conv_grads(m, a, sig, sel.weight, sel.bias)))
    if k == 1:  # a single output: signals are per-sample factors
        terms = [Term([*t.factors, Factor(t.signal.reshape(n, -1))]) for t in terms]
    return terms
