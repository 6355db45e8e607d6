"""Running a :class:`~neuralpaths.graph.ir.PathGraph`: the network, its gates, the gated value network,
and the ``|w|^p`` network of path norms.

- :func:`record` runs the module as it is and records every gate: ``G = gate(q)`` at a ReLU or
  LeakyReLU (``α + (1−α)·gate(q)``) and the window selection at a max-pool.
- :func:`gated` is the value network of a DGN: ``h = u ⊙ G`` at every gate step and ``Σ_K s ⊙ window``
  at every max-pool, with the gates given. With the network's own hard gates it *is* the network:
  ``relu(u) = u·1{u>0}``, ``leaky(u) = u·(α + (1−α)1{u>0})``, ``max = Σ_K onehot ⊙ window``.
- :func:`power` is the network with every weight and bias replaced by ``|w|^p`` (BatchNorm folded),
  every gate open, every max-pool summing its window and every fixed coefficient 1: fed ones, its
  output ``k`` is ``Σ_{paths into k} |v(p)|^p`` (``p = 0`` counts the paths).

Shape:
    ``x: (n, *in_shape) -> (n, k)``; ``gates[name]``: ReLU ``(n, *unit_shape)``, max-pool
    ``(n, C, K, L)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..gate import Gate
from .ir import PathGraph, Ref, Step
from .windows import pool_coef, select, selection, window_params, windows


def resolve(a: Any, env: dict[str, Any]) -> Any:
    """Replace every :class:`Ref` in ``a`` (nested lists/tuples/dicts) by its value."""
    if isinstance(a, Ref):
        return env[a.name]
    if isinstance(a, (list, tuple)):
        return type(a)(resolve(v, env) for v in a)
    if isinstance(a, dict):
        return {k: resolve(v, env) for k, v in a.items()}
    return a


def call(step: Step, env: dict[str, Any], root: nn.Module) -> Any:
    """The step's own operation, as the module's forward does it."""
    if step.fn is None:  # a module
        return root.get_submodule(step.module)(*(env[i] for i in step.inputs))
    return step.fn(*resolve(step.args, env), **resolve(step.kwargs, env))


def bn_affine(m: nn.Module) -> tuple[Tensor, Tensor]:
    """Eval-mode BatchNorm as ``a·u + shift``: ``a = γ/√(var+ε)``, ``shift = β − mean·a``."""
    a = torch.rsqrt(m.running_var + m.eps)
    if m.weight is not None:
        a = a * m.weight
    shift = -m.running_mean * a
    return a, shift if m.bias is None else shift + m.bias


def effective(root: nn.Module, step: Step) -> tuple[Tensor, Tensor | None]:
    """Weight and bias of a ``layer`` step with its BatchNorm folded in (``W' = a·W``,
    ``b' = a·b + shift``), or an ``affine`` step's ``(a, shift)``."""
    m = root.get_submodule(step.module)
    if step.kind == "affine":
        return bn_affine(m)
    w, b = m.weight, m.bias
    if "bn" in step.info:
        a, shift = bn_affine(root.get_submodule(step.info["bn"]))
        w = w * a.view(-1, *[1] * (w.ndim - 1))
        b = shift if b is None else a * b + shift
    return w, b


def channel_view(v: Tensor, h: Tensor) -> Tensor:
    """A per-channel vector shaped to broadcast over ``h``: ``(C,) -> (1, C, 1, ...)``."""
    return v.view(1, -1, *[1] * (h.ndim - 2))


def apply_layer(m: nn.Module, h: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """``m``'s linear map (its stride, padding, dilation, groups) with weight ``w`` and bias ``b``."""
    if isinstance(m, nn.Linear):
        return F.linear(h, w, b)
    conv = F.conv1d if isinstance(m, nn.Conv1d) else F.conv2d
    return conv(h, w, b, m.stride, m.padding, m.dilation, m.groups)


def gate_values(q: Tensor, alpha: float, gate: Gate) -> Tensor:
    """The gate of a ReLU (``alpha = 0``) or LeakyReLU on pre-activation ``q``."""
    g = gate(q)
    return g if alpha == 0 else alpha + (1.0 - alpha) * g


def evaluate(
    graph: PathGraph, h0: Tensor, handle: Callable[[Step, dict[str, Any]], Any]
) -> tuple[Tensor, dict[str, Any]]:
    """Run the steps in order; ``handle(step, env)`` computes each (the input step gets ``h0``)."""
    env: dict[str, Any] = {}
    for s in graph.steps:
        env[s.name] = h0 if s.kind == "input" else handle(s, env)
    return env[graph.output], env


def record(graph: PathGraph, root: nn.Module, x: Tensor, gate: Gate | None = None) -> tuple[Tensor, dict]:
    """The module's output on ``x`` and its gates: ``{step name: gate tensor}`` in step order."""
    gate = gate or Gate()
    gates: dict[str, Tensor] = {}

    def handle(s: Step, env: dict[str, Any]) -> Any:
        if s.kind == "gate":
            gates[s.name] = gate_values(env[s.inputs[0]], s.info["alpha"], gate)
        elif s.kind == "maxpool":
            gates[s.name] = selection(env[s.inputs[0]], window_params(s, root), gate.beta)
        return call(s, env, root)

    out, _ = evaluate(graph, x, handle)
    return out, gates


def gated(graph: PathGraph, root: nn.Module, h0: Tensor, gates: dict[str, Tensor]) -> Tensor:
    """The value network: ``root``'s layers, with ``gates`` at every gate and max-pool step."""

    def handle(s: Step, env: dict[str, Any]) -> Any:
        if s.kind == "gate":
            return env[s.inputs[0]] * gates[s.name]
        if s.kind == "maxpool":
            return select(env[s.inputs[0]], gates[s.name], window_params(s, root))
        return call(s, env, root)

    return evaluate(graph, h0, handle)[0]


def power(
    graph: PathGraph,
    root: nn.Module,
    h0: Tensor,
    p: float,
    ignore_bias: bool = False,
    choices: dict[str, int] | None = None,
    late: dict[str, int] | None = None,
    taps: dict[str, tuple[Tensor, Tensor]] | None = None,
) -> Tensor:
    """The ``|w|^p`` network (see the module docstring) on ``h0``; ``p = 0`` counts paths.

    ``choices`` (``{add step: operand}``) restricts it to one sub-architecture's paths (bias paths
    after an add go with its ``late`` operand: :meth:`PathGraph.bias_owners`). ``taps``, if given,
    receives ``{layer step: (its input, its output)}`` (for gradients along the network).
    """
    choices = choices or {}
    biases = set() if ignore_bias else graph.bias_owners(choices, late or {})

    def handle(s: Step, env: dict[str, Any]) -> Any:
        h = env[s.inputs[0]] if s.inputs else None
        if s.kind == "add" and s.name in choices:
            return env[s.inputs[choices[s.name]]]
        if s.kind in ("layer", "affine"):
            w, b = effective(root, s)
            w = w.detach().to(h0.dtype).abs() ** p  # computed in the input's dtype (counts: float64)
            b = None if b is None or s.name not in biases else b.detach().to(h0.dtype).abs() ** p
            if s.kind == "affine":
                out = h * channel_view(w, h)
                return out if b is None else out + channel_view(b, h)
            out = apply_layer(root.get_submodule(s.module), h, w, b)
            if taps is not None:
                taps[s.name] = (h, out)
            return out
        if s.kind in ("gate", "bn"):
            return h
        if s.kind == "maxpool":
            cols, shape = windows(h, window_params(s, root))
            return cols.sum(2).reshape(*h.shape[:2], *shape)
        if s.kind == "scale":
            return h
        if s.kind == "pool":
            out = call(s, env, root)
            return out / pool_coef(s, root, h, out)
        return call(s, env, root)

    return evaluate(graph, h0, handle)[0]
