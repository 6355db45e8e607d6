"""Read a module's forward pass (a ``torch.fx`` trace) into a :class:`~neuralpaths.graph.ir.PathGraph`.

Module and functional forms alike: ``nn.ReLU``, ``F.relu``, ``torch.relu``, ``x.relu()``; ``x + y``,
``torch.add``; ``torch.cat``; ``flatten`` / ``view`` / ``reshape``; ``F.max_pool2d``; ``x.mean(...)``.
Anything without a gate/path reading (tanh, GELU, softmax inside the net, attention, layer norm,
data-dependent control flow, ...) raises :class:`~neuralpaths.graph.ir.UnsupportedLayerError`
naming the layer (its qualified name) and why.

BatchNorm in eval mode directly after a ``Linear``/``Conv`` whose output goes nowhere else is
folded into that layer (``W' = a·W``, ``b' = a·(b − mean) + β`` with ``a = γ/√(var+ε)``, so it may
create a bias); any other BatchNorm is a per-channel ``affine`` layer of its own.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .ir import PathGraph, Ref, Step, UnsupportedLayerError

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
MOVES = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d)
POOLS = (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
MAXPOOLS = (nn.MaxPool1d, nn.MaxPool2d)

_WHY = {
    (nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.ReLU6, nn.Softsign, nn.Hardsigmoid): (
        "saturates: its output is not a gate times its input"
    ),
    (nn.GELU, nn.SiLU, nn.ELU, nn.SELU, nn.CELU, nn.Softplus, nn.Mish, nn.Hardswish): (
        "is a smooth activation: its output is not a 0/1 (or {α, 1}) gate times its input"
    ),
    (nn.PReLU,): "learns its negative slope: only LeakyReLU with a fixed slope is a gate",
    (
        nn.Softmax,
        nn.LogSoftmax,
        nn.Softmin,
    ): "normalises across units (softmax inside the net): no path reading",
    (nn.MultiheadAttention,): "multiplies data-dependent weights with the data (attention): no fixed paths",
    (nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.LocalResponseNorm): (
        "divides each sample by its own statistics: not a fixed linear map"
    ),
    (nn.Embedding, nn.EmbeddingBag): "looks rows up by integer index: no input coordinates to start paths",
    (nn.RNNBase,): "is recurrent: unroll it into Linear layers and gates",
}

_RELU_FNS = {F.relu, torch.relu, torch.relu_, F.relu_}
_MAXPOOL_FNS = {F.max_pool1d: 1, F.max_pool2d: 2}
_AVGPOOL_FNS = {F.avg_pool1d: 1, F.avg_pool2d: 2, F.adaptive_avg_pool1d: 1, F.adaptive_avg_pool2d: 2}
_ADD_FNS = {operator.add, operator.iadd, torch.add}
_SCALE_FNS = {operator.mul, operator.imul, torch.mul, operator.truediv, operator.itruediv, torch.div}
_MOVE_FNS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, torch.permute, torch.transpose}
_MOVE_METHODS = {"flatten", "view", "reshape", "contiguous", "squeeze", "unsqueeze", "permute", "transpose"}
_SHAPE_METHODS = {"size", "dim"}


class _Tracer(fx.Tracer):
    """A tracer that remembers which module is running, to name it when tracing fails."""

    def __init__(self) -> None:
        super().__init__()
        self._running: list[str] = []
        self.failed_in: str | None = None  # the innermost module running when tracing failed

    def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        self._running.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:
                self.failed_in = self._running[-1]
            raise
        finally:
            self._running.pop()


def _refs(a: Any) -> Any:
    return fx.node.map_arg(a, lambda n: Ref(n.name))


def _tensor_inputs(node: fx.Node) -> tuple[str, ...]:
    return tuple(n.name for n in node.all_input_nodes)


def _scope(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    return next(reversed(stack)) if stack else ""


def _fname(target: Any) -> str:
    name = getattr(target, "__name__", str(target))
    return "max_pool" if name == "fn" else name


def _unsupported_module(name: str, m: nn.Module) -> UnsupportedLayerError:
    for types, why in _WHY.items():
        if isinstance(m, types):
            return UnsupportedLayerError(f"layer '{name}' ({type(m).__name__}) {why}")
    return UnsupportedLayerError(
        f"layer '{name}' ({type(m).__name__}) has no gate/path reading; supported: Linear, Conv1d/2d, "
        "ReLU, LeakyReLU, MaxPool, AvgPool, AdaptiveAvgPool, BatchNorm (eval), Flatten, Dropout (eval), "
        "Identity, residual adds and torch.cat"
    )


def _module_step(node: fx.Node, m: nn.Module) -> Step:
    name, inputs = node.target, _tensor_inputs(node)
    base = dict(name=node.name, inputs=inputs, where=f"layer '{name}'", module=name)
    if isinstance(m, LAYERS):
        if getattr(m, "padding_mode", "zeros") != "zeros":
            raise UnsupportedLayerError(
                f"layer '{name}' pads with {m.padding_mode!r}: only zero padding keeps the path "
                "structure fixed"
            )
        return Step(kind="layer", **base)
    if isinstance(m, NORMS):
        if not m.track_running_stats:
            raise UnsupportedLayerError(
                f"layer '{name}' ({type(m).__name__}) keeps no running statistics, so even in eval mode it "
                "normalises by the batch: no path reading"
            )
        return Step(kind="bn", **base)
    if isinstance(m, nn.LeakyReLU):
        return Step(kind="gate", info={"alpha": float(m.negative_slope)}, **base)
    if isinstance(m, nn.ReLU):
        return Step(kind="gate", info={"alpha": 0.0}, **base)
    if isinstance(m, MAXPOOLS):
        if m.return_indices:
            raise UnsupportedLayerError(f"layer '{name}' returns indices: use return_indices=False")
        return Step(kind="maxpool", info={"dims": 1 if isinstance(m, nn.MaxPool1d) else 2}, **base)
    if isinstance(m, POOLS):
        return Step(kind="pool", info={"dims": 1 if "1d" in type(m).__name__ else 2}, **base)
    if isinstance(m, MOVES):
        return Step(kind="move", **base)
    raise _unsupported_module(name, m)


def _maxpool_info(node: fx.Node, dims: int) -> dict:
    args = list(node.args[1:])
    names = ["kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"]
    info = dict(zip(names, args)) | dict(node.kwargs)
    if info.get("return_indices"):
        raise UnsupportedLayerError(f"max_pool in {_scope(node) or 'forward'} returns indices: not supported")
    stride = info.get("stride")
    return {
        "dims": dims,
        "kernel_size": info["kernel_size"],
        "stride": info["kernel_size"] if stride in (None, [], ()) else stride,
        "padding": info.get("padding", 0),
        "dilation": info.get("dilation", 1),
        "ceil_mode": bool(info.get("ceil_mode", False)),
    }


def _function_step(node: fx.Node, kinds: dict[str, str]) -> Step:
    t, scope = node.target, _scope(node)
    where = f"{_fname(t) if node.op == 'call_function' else '.' + str(t) + '()'} in {scope or 'forward'}"
    base = dict(name=node.name, inputs=_tensor_inputs(node), where=where, args=_refs(node.args))
    base["kwargs"] = _refs(dict(node.kwargs))
    tensors = [a for a in node.args if isinstance(a, fx.Node) and kinds.get(a.name) != "shape"]
    method = t if node.op == "call_method" else None
    fn = t if node.op == "call_function" else None
    if method is not None:
        if not hasattr(torch.Tensor, method):
            raise UnsupportedLayerError(f"{where}: unknown tensor method {method!r}")
        base["fn"] = getattr(torch.Tensor, method)  # x.view(...) == torch.Tensor.view(x, ...)
    else:
        base["fn"] = fn

    if fn in _RELU_FNS or method in ("relu", "relu_"):
        return Step(kind="gate", info={"alpha": 0.0}, **base)
    if fn is F.leaky_relu:
        slope = node.args[1] if len(node.args) > 1 else node.kwargs.get("negative_slope", 0.01)
        return Step(kind="gate", info={"alpha": float(slope)}, **base)
    if fn in _MAXPOOL_FNS:
        return Step(kind="maxpool", info=_maxpool_info(node, _MAXPOOL_FNS[fn]), **base)
    if fn in _AVGPOOL_FNS:
        return Step(kind="pool", info={"dims": _AVGPOOL_FNS[fn]}, **base)
    if fn is torch.mean or method == "mean":
        return Step(kind="pool", info={"dims": 0}, **base)
    if fn is torch.sum or method == "sum":
        return Step(kind="pool", info={"dims": 0, "sum": True}, **base)
    if fn in _ADD_FNS or method in ("add", "add_", "__add__"):
        if len(tensors) == 2 and len(node.args) == 2 and not node.kwargs:
            return Step(kind="add", info={"label": scope or node.name}, **base)
        if len(tensors) == 1:
            raise UnsupportedLayerError(
                f"{where} adds a constant: a fixed bias has no learnable value; use a layer's bias"
            )
    if fn in _SCALE_FNS or method in ("mul", "div", "mul_", "div_"):
        consts = [a for a in node.args if isinstance(a, (int, float))]
        if len(tensors) == 1 and len(consts) == 1 and len(node.args) == 2:
            if fn in (operator.truediv, operator.itruediv, torch.div) or method in ("div", "div_"):
                if node.args[0] is not tensors[0]:
                    raise UnsupportedLayerError(f"{where} divides a constant by a tensor: not linear")
                return Step(kind="scale", info={"c": 1.0 / float(consts[0])}, **base)
            return Step(kind="scale", info={"c": float(consts[0])}, **base)
        if len(tensors) == 2:
            raise UnsupportedLayerError(
                f"{where} multiplies two data-dependent tensors: not a linear map of either (no path reading)"
            )
    if fn in (torch.cat, torch.concat):
        return Step(kind="cat", **base)
    if fn in _MOVE_FNS or method in _MOVE_METHODS:
        return Step(kind="move", **base)
    if fn is operator.getitem:
        src = node.args[0]
        kind = "shape" if isinstance(src, fx.Node) and kinds.get(src.name) == "shape" else "move"
        return Step(kind=kind, **base)
    if (fn is getattr and node.args[1] in ("shape", "ndim")) or method in _SHAPE_METHODS:
        return Step(kind="shape", **base)
    raise UnsupportedLayerError(
        f"{where}: {_fname(t)} has no gate/path reading (supported functions: relu, leaky_relu, max/avg "
        "pooling, mean, +, * or / by a constant, cat, flatten/view/reshape/indexing)"
    )


def _fold_batchnorms(steps: list[Step], users: dict[str, int], root: nn.Module) -> list[Step]:
    """Fold each BatchNorm fed only by a Linear/Conv into it; the others become ``affine`` steps."""
    by_name = {s.name: s for s in steps}
    out = {s.name: s for s in steps}
    for s in steps:
        if s.kind != "bn":
            continue
        src = by_name[s.inputs[0]]
        if src.kind == "layer" and users[src.name] == 1 and "bn" not in out[src.name].info:
            prev = out[src.name]
            out[src.name] = Step(**{**prev.__dict__, "info": {**prev.info, "bn": s.module}})
        else:
            out[s.name] = Step(**{**s.__dict__, "kind": "affine"})
    return [out[s.name] for s in steps]


def trace(module: nn.Module) -> PathGraph:
    """The :class:`PathGraph` of ``module``'s forward pass.

    Raises:
        UnsupportedLayerError: a layer or operation without a gate/path reading (named), data-dependent
            control flow, several inputs or outputs.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(module).__name__}")
    tracer = _Tracer()
    try:
        graph = tracer.trace(module)
    except UnsupportedLayerError:
        raise
    except Exception as e:  # fx's TraceError and friends: name the module that was running
        where = f"layer '{tracer.failed_in}'" if tracer.failed_in else f"{type(module).__name__}.forward"
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "control flow" in reason or "iterate" in reason or isinstance(e, fx.proxy.TraceError):
            reason = f"data-dependent Python control flow cannot be read as fixed paths ({reason})"
        raise UnsupportedLayerError(f"{where}: {reason}") from None
    steps: list[Step] = []
    kinds: dict[str, str] = {}
    users: dict[str, int] = {}
    output = None
    for node in graph.nodes:
        users[node.name] = len(node.users)
        if node.op == "placeholder":
            if steps:
                raise UnsupportedLayerError(
                    f"{type(module).__name__}.forward takes several inputs: the path view needs one "
                    "input tensor"
                )
            step = Step(node.name, "input", (), "input")
        elif node.op == "call_module":
            step = _module_step(node, module.get_submodule(node.target))
        elif node.op in ("call_function", "call_method"):
            step = _function_step(node, kinds)
        elif node.op == "get_attr":
            raise UnsupportedLayerError(
                f"{_scope(node) or type(module).__name__}.forward uses the tensor '{node.target}' directly: "
                "put learnable weights in nn.Linear / nn.Conv layers"
            )
        else:  # output
            if not isinstance(node.args[0], fx.Node):
                raise UnsupportedLayerError(
                    f"{type(module).__name__}.forward returns {type(node.args[0]).__name__}: the path view "
                    "needs a single output tensor"
                )
            output = node.args[0].name
            continue
        kinds[step.name] = step.kind
        steps.append(step)
    return PathGraph(tuple(_fold_batchnorms(steps, users, module)), output)
