"""Paths of any :class:`~neuralpaths.graph.model.PathModel`: gates, NPF, NPV, path counts and norms,
and the sub-architectures of residual networks.

Biases are paths: ``npf``/``npv`` include a path from every bias (feature: the gates after it; value:
the bias times the weights after it) unless ``ignore_bias=True``, so Identity 1
``output = npf(x) @ npv`` holds for nets with biases.

Shape:
    ``npf: (n, *in) -> (n, P)``; ``npv: -> (P, k)``; ``gates: -> [(n, units)]``.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from ..checks import check_like, check_tensor
from .enumerate import features, path_table, values
from .ir import PathGraph, Step
from .model import PathModel
from .run import effective, power


def check_x(pm: PathModel, x: Tensor, what: str, name: str = "input") -> None:
    """A clear error for a non-tensor ``x`` (called ``name``), one whose dtype/device differ from the
    weights, or whose shape differs from the model's input shape (``what``: the calling function)."""
    check_tensor(name, x)
    w = next(pm.value.parameters(), None)
    if w is not None:
        check_like(name, x, w)
    if pm.in_shape is not None and tuple(x.shape[1:]) != tuple(pm.in_shape):
        want = ", ".join(map(str, pm.in_shape))
        raise ValueError(f"{what}: {name} has shape {tuple(x.shape)} but the model expects (n, {want})")
    pm.check(what)


def gate_list(pm: PathModel, x: Tensor) -> list[Tensor]:
    """Gates per gate step, flattened ``(n, units)`` (a max-pool's: its window selections)."""
    return [g.flatten(1) for g in pm.gates(x).values()]  # (n, *shape) -> (n, units)


def count(
    pm: PathModel, in_shape: tuple[int, ...], ignore_bias: bool = False, choices: dict[str, int] | None = None
) -> int:
    """Number of paths into one output unit (the ``|w|^0`` network on ones), of one sub-architecture
    with ``choices``."""
    w = next(pm.value.parameters())
    ones = torch.ones((1, *in_shape), dtype=torch.float64, device=w.device)
    with torch.no_grad():
        out = power(pm.graph, pm.value, ones, 0.0, ignore_bias, choices, late_operands(pm.graph))
    return int(out.reshape(-1)[0].round().item())  # exact below 2^53


def _table(pm: PathModel, in_shape: tuple[int, ...], max_paths: int, ignore_bias: bool, what: str):
    n_paths = count(pm, in_shape, ignore_bias)
    if n_paths > max_paths:
        raise ValueError(
            f"{what}: the network has P = {n_paths:,} paths per output, more than max_paths = "
            f"{max_paths:,}; enumerate a smaller net, raise max_paths, or use neuralpaths.npk "
            "(no enumeration)"
        )
    return path_table(pm.graph, pm.value, in_shape, ignore_bias)


def npf(pm: PathModel, x: Tensor, max_paths: int, ignore_bias: bool = False) -> Tensor:
    check_x(pm, x, "npf")
    table, p = _table(pm, tuple(x.shape[1:]), max_paths, ignore_bias, "npf")
    return features(table, p, pm.value_input_for(x), gate_list(pm, x))


def npv(pm: PathModel, max_paths: int, ignore_bias: bool = False, in_shape=None) -> Tensor:
    pm.check("npv")
    in_shape = tuple(in_shape) if in_shape is not None else pm.input_shape("npv")
    table, p = _table(pm, in_shape, max_paths, ignore_bias, "npv")
    steps = pm.graph.of_kind("layer", "affine")
    params = [effective(pm.value, s) for s in steps]
    ws = [w.reshape(-1) for w, _ in params]
    bs = [None if b is None or ignore_bias else b.reshape(-1) for _, b in params]
    return values(table, p, ws, bs).to(ws[0].dtype)


def path_norm(pm: PathModel, p: float, per_output: bool, ignore_bias: bool, in_shape=None) -> Tensor:
    pm.check("path_norm")
    in_shape = tuple(in_shape) if in_shape is not None else pm.input_shape("path_norm")
    w = next(pm.value.parameters())
    ones = torch.ones((1, *in_shape), dtype=w.dtype, device=w.device)
    sums = power(pm.graph, pm.value, ones, p, ignore_bias).reshape(-1)  # (k,): Σ_paths |v_pk|^p
    return (sums if per_output else sums.sum()) ** (1.0 / p)


# --- residual networks: the ensemble of sub-architectures -------------------------------------
def operand_labels(graph: PathGraph, add: Step) -> tuple[str, str]:
    """``("skip", "branch")`` (or reversed) for a residual add: the operand with fewer weight layers
    since the two paths forked is the skip connection (identity or projection)."""
    a, b = (graph.ancestors(i) for i in add.inputs)
    common = a & b
    la, lb = (sum(graph[n].kind in ("layer", "affine") for n in s - common) for s in (a, b))
    if la == lb:
        return ("in0", "in1")
    return ("skip", "branch") if la < lb else ("branch", "skip")


def late_operands(graph: PathGraph) -> dict[str, int]:
    """Per residual add, the operand that owns bias paths starting after it: the skip connection."""
    labels = {a.name: operand_labels(graph, a) for a in graph.adds}
    return {name: lab.index("skip") if "skip" in lab else 0 for name, lab in labels.items()}


def sub_architectures(graph: PathGraph, limit: int = 12) -> dict[str, dict[str, int]]:
    """Every sub-architecture of a network with residual adds: ``{label: {add step: operand}}``.

    A sub-architecture keeps one operand at every add it reaches (paths through the other operand
    are left out); adds cut off by an earlier choice are not branched on. A bias path that starts
    after an add belongs to the sub-architectures that take that add's skip operand, so the
    sub-architectures partition the paths. Labels read ``"block1=skip, block2=branch"`` (``"all"``
    for a net without adds), the block being the module whose ``forward`` adds.
    """
    adds = graph.adds
    if not adds:
        return {"all": {}}
    if len(adds) > limit:
        raise ValueError(f"{len(adds)} residual adds make 2^{len(adds)} sub-architectures (limit {limit})")
    parts: dict[str, dict[str, int]] = {}
    for picks in itertools.product((0, 1), repeat=len(adds)):
        choice = {a.name: c for a, c in zip(adds, picks)}
        reached, todo = set(), [graph.output]
        while todo:
            n = todo.pop()
            if n in reached:
                continue
            reached.add(n)
            s = graph[n]
            todo += [s.inputs[choice[n]]] if s.kind == "add" else list(s.inputs)
        used = {a.name: choice[a.name] for a in adds if a.name in reached}
        label = ", ".join(
            f"{a.info['label']}={operand_labels(graph, a)[used[a.name]]}" for a in adds if a.name in used
        )
        parts.setdefault(label, used)
    return parts


def total_units(pm: PathModel, x: Tensor) -> int:
    """``Π`` over ReLU/LeakyReLU steps of their unit counts (``npk(normalize=True)``'s divisor)."""
    gates = pm.gates(x[:1])
    return math.prod(g[0].numel() for s, g in gates.items() if pm.graph[s].kind == "gate")


def part_counts(pm: PathModel, in_shape: tuple[int, ...], ignore_bias: bool = False) -> dict[str, int]:
    """Paths into one output unit per sub-architecture (labels as :func:`sub_architectures`)."""
    return {label: count(pm, in_shape, ignore_bias, ch) for label, ch in sub_architectures(pm.graph).items()}
