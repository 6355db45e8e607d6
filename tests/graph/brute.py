"""Brute-force path view of the zoo networks: the oracle for the library's path view of a module.

Conventions (shared with the library under test, which this file does not import):

* A *path* runs from a source to one output unit through one unit at every node it passes. Sources
  are the input coordinates x_i and the biases b_j of the units of layers that have one (a bias path
  starts at its unit j; the output layer's biases are paths of length zero).
* Feature φ_x(p) = (x_i, or 1 for a bias path) × Π gates × Π fixed linear coefficients on the path;
  value v(p) = (b_j for a bias path, else 1) × Π learnable weights on its edges, so that
  ``model(x)[:, k] = Σ_p φ_x(p) v_k(p)`` (Identity 1).
* Gates: ReLU 1{q > 0}, LeakyReLU(α) 1 if q > 0 else α, on the pre-activation q; max-pooling is a
  gate on the edges (j, i) from window j to its units i: 1 if i is torch's argmax, else 0.
* Fixed linear maps: average pools contribute 1/|window| per edge to the feature; Flatten, view,
  Dropout (eval) and Identity rename units.
* BatchNorm (eval) right after a Linear/Conv is folded into it: a = γ/sqrt(running_var + eps),
  W' = a·W, b' = a·(b − running_mean) + β (b = 0 without a bias), so the folded layer has a bias.
* ``phi`` is (n, P) over the paths into output unit 0; ``v`` is (P, k) with ``v[:, k]`` the value of
  the same path ending at output unit k (the output layer is always a Linear). Paths are enumerated
  structurally, whatever the gates (features of paths through closed gates are 0).
* Residual adds ``y = s(x) + F(x)`` of block b: a path through the add passes through exactly one
  operand. Sub-architectures partition the paths: ``choices[b] == "branch"`` keeps the paths that
  pass through the residual branch F of block b; ``"skip"`` keeps all the others, i.e. those through
  the shortcut operand (identity or projection) **and** those that start after the add (the bias
  paths of later layers). Over the 2^b choice combinations every path is counted exactly once; gates
  are always those of the full network. With ``late_paths="both"`` the paths that start after a
  block's add are kept under either choice for it instead: the paths of the network whose add is
  replaced by the chosen operand (no longer a partition: the combinations then count a path that
  starts after m adds 2^m times). :func:`enumerate_tagged` exposes the raw operand codes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .dag import BRANCH, NONE, SKIP, Dag, adaptive_windows, pool_windows
from .zoo import BLOCKS, inputs

Affine = nn.Linear | nn.Conv1d | nn.Conv2d
BatchNorm = nn.BatchNorm1d | nn.BatchNorm2d


def _check(dag: Dag, name: str, h: Tensor) -> None:
    assert dag.shape(name) == tuple(h.shape[1:]), (name, dag.shape(name), tuple(h.shape))


def _affine(
    dag: Dag, name: str, src: str, h: Tensor, layer: Affine, bn: BatchNorm | None = None
) -> tuple[str, Tensor]:
    """A Linear/Conv layer, with the eval BatchNorm that follows it folded in."""
    weight, bias = layer.weight, layer.bias
    out = layer(h)
    if bn is not None:
        assert not bn.training and bn.track_running_stats
        a = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        weight = a.reshape(-1, *[1] * (weight.dim() - 1)) * weight
        bias = a * ((bias if bias is not None else torch.zeros_like(a)) - bn.running_mean) + bn.bias
        out = bn(out)
    if isinstance(layer, nn.Linear):
        dag.dense(name, src, weight, bias)
    else:
        dag.conv(name, src, layer, weight, bias)
    _check(dag, name, out)
    return name, out


def _relu(dag: Dag, name: str, src: str, pre: Tensor) -> tuple[str, Tensor]:
    dag.gate(name, src, pre)
    return name, F.relu(pre)


def _walk(dag: Dag, modules: list[nn.Module], src: str, h: Tensor, prefix: str) -> tuple[str, Tensor]:
    """Run ``modules`` one by one on ``h``, adding each one's unrolled edges to ``dag``."""
    i = 0
    while i < len(modules):
        m, name = modules[i], f"{prefix}{i}"
        if isinstance(m, Affine):
            nxt = modules[i + 1] if i + 1 < len(modules) else None
            bn = nxt if isinstance(nxt, BatchNorm) else None
            src, h = _affine(dag, name, src, h, m, bn)
            i += 2 if bn is not None else 1
            continue
        if isinstance(m, nn.ReLU):
            src = dag.gate(name, src, h)
        elif isinstance(m, nn.LeakyReLU):
            src = dag.gate(name, src, h, slope=m.negative_slope)
        elif isinstance(m, nn.MaxPool1d | nn.MaxPool2d):
            src = dag.maxpool(name, src, m, h)
        elif isinstance(m, nn.AvgPool2d):
            assert m.padding == 0 and not m.ceil_mode
            ksize = (m.kernel_size,) * 2 if isinstance(m.kernel_size, int) else m.kernel_size
            stride = (m.stride,) * 2 if isinstance(m.stride, int) else m.stride
            out_sp, windows = pool_windows(dag.shape(src)[1:], ksize, stride)
            src = dag.average(name, src, out_sp, windows)
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            out_sp = (m.output_size,) * 2 if isinstance(m.output_size, int) else m.output_size
            src = dag.average(name, src, out_sp, adaptive_windows(dag.shape(src)[1:], out_sp))
        elif isinstance(m, nn.Flatten | nn.Dropout | nn.Identity):
            assert not m.training
            src = dag.rename(name, src, tuple(m(h).shape[1:]))
        else:
            raise TypeError(f"no brute-force rule for {type(m).__name__}")
        h = m(h)
        _check(dag, src, h)
        i += 1
    return src, h


def _block(dag: Dag, name: str, block: nn.Module, src: str, h: Tensor) -> tuple[str, Tensor]:
    """``relu(s(h) + l2(relu(l1(h))))`` with s the identity or ``block.shortcut``."""
    l1, l2 = (block.lin1, block.lin2) if hasattr(block, "lin1") else (block.conv1, block.conv2)
    s1, h1 = _affine(dag, f"{name}.l1", src, h, l1)
    s1, h1 = _relu(dag, f"{name}.relu1", s1, h1)
    s2, h2 = _affine(dag, f"{name}.l2", s1, h1, l2)
    shortcut = getattr(block, "shortcut", None)
    sk, hk = (src, h) if shortcut is None else _affine(dag, f"{name}.shortcut", src, h, shortcut)
    s = dag.add(f"{name}.add", sk, s2, block=name)
    s, out = _relu(dag, f"{name}.relu", s, hk + h2)
    torch.testing.assert_close(out, block(h), rtol=0, atol=1e-12)
    return s, out


# ------------------------------------------------------------------------ one builder per network
def _sequential(dag: Dag, m: nn.Module, x: Tensor) -> tuple[str, Tensor]:
    return _walk(dag, list(m), "input", x, "")


def _functional_relu(dag: Dag, m: nn.Module, x: Tensor) -> tuple[str, Tensor]:
    s, h = "input", x
    for i, fc in enumerate([m.fc1, m.fc2, m.fc3], start=1):
        s, h = _affine(dag, f"fc{i}", s, h, fc)
        s, h = _relu(dag, f"relu{i}", s, h)
    return _affine(dag, "fc4", s, h, m.fc4)


def _conv_same_dilation_groups(dag: Dag, m: nn.Module, x: Tensor) -> tuple[str, Tensor]:
    s, h = _affine(dag, "conv1", "input", x, m.conv1)
    s, h = _relu(dag, "relu1", s, h)
    s, h = _affine(dag, "conv2", s, h, m.conv2)
    s, h = _relu(dag, "relu2", s, h)
    image = list(itertools.product(*(range(size) for size in h.shape[2:])))
    s, h = dag.average("mean", s, (), [image]), h.mean(dim=(2, 3))  # one unit per channel
    _check(dag, s, h)
    return _affine(dag, "fc", s, h, m.fc)


def _cat_view(dag: Dag, m: nn.Module, x: Tensor) -> tuple[str, Tensor]:
    sa, ha = _relu(dag, "relu_a", *_affine(dag, "a", "input", x, m.a))
    sb, hb = _relu(dag, "relu_b", *_affine(dag, "b", "input", x, m.b))
    s, h = dag.cat("cat", [sa, sb]), torch.cat([ha, hb], dim=1)
    h = h.view(h.size(0), -1)
    s = dag.rename("view", s, tuple(h.shape[1:]))
    return _affine(dag, "head", s, h, m.head)


def _resnet_identity(dag: Dag, m: nn.Module, x: Tensor) -> tuple[str, Tensor]:
    s, h = _walk(dag, list(m.stem), "input", x, "stem.")
    s, h = _block(dag, "block1", m.block1, s, h)
    return _affine(dag, "head", s, h, m.head)


def _resnet_projection(dag: Dag, m: nn.Module, x: Tensor) -> tuple[str, Tensor]:
    s, h = _walk(dag, list(m.stem), "input", x, "stem.")
    s, h = _block(dag, "block1", m.block1, s, h)
    s, h = _block(dag, "block2", m.block2, s, h)
    return _walk(dag, list(m.head), s, h, "head.")


_BUILDERS: dict[str, Callable[[Dag, nn.Module, Tensor], tuple[str, Tensor]]] = {
    "mlp_bias": _sequential,
    "functional_relu": _functional_relu,
    "leaky": _sequential,
    "conv_valid_stride": _sequential,
    "conv_same_dilation_groups": _conv_same_dilation_groups,
    "conv1d": _sequential,
    "maxpool": _sequential,
    "avgpool": _sequential,
    "resnet_identity": _resnet_identity,
    "resnet_projection": _resnet_projection,
    "batchnorm": _sequential,
    "cat_view": _cat_view,
}


# ------------------------------------------------------------------------------------ public API
def build_dag(name: str, model: nn.Module, x: Tensor) -> tuple[Dag, str]:
    """The explicit DAG of zoo network ``name`` on the batch ``x``, and its output layer's name.
    The step-by-step forward that supplies the gates is checked against ``model(x)``."""
    assert x.dtype == torch.float64 and not model.training
    dag = Dag(x, BLOCKS.get(name, ()))
    with torch.no_grad():
        out, h = _BUILDERS[name](dag, model, x)
        torch.testing.assert_close(h, model(x), rtol=0, atol=1e-12)
    return dag, out


def enumerate_tagged(name: str, model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """All paths: phi (n, P), v (P, k), and per residual block a (P,) code of the operand each path
    passes through at that block's add: 0 = none (it starts after the add), 1 = skip, 2 = branch."""
    dag, out = build_dag(name, model, x)
    with torch.no_grad():
        phi, v, codes = dag.enumerate(out)
    return phi, v, {b: codes[:, i] for i, b in enumerate(dag.blocks)}


def enumerate_paths(
    name: str,
    model: nn.Module,
    x: Tensor,
    choices: dict[str, str] | None = None,
    *,
    late_paths: Literal["skip", "both"] = "skip",
) -> tuple[Tensor, Tensor]:
    """phi (n, P) and v (P, k) by explicit enumeration of the paths of zoo network ``name``.

    ``choices`` (residual nets only) maps a block name to "skip" or "branch" and keeps only the paths
    of that sub-architecture; blocks not listed keep both operands. ``late_paths`` says where the
    paths that start after a block's add go: to its "skip" sub-architectures (a partition, the
    default) or to "both" (see the module docstring).
    """
    if late_paths not in ("skip", "both"):
        raise ValueError(f"late_paths must be 'skip' or 'both', not {late_paths!r}")
    phi, v, codes = enumerate_tagged(name, model, x)
    keep = torch.ones(v.shape[0], dtype=torch.bool)
    for block, choice in (choices or {}).items():
        if block not in codes or choice not in ("skip", "branch"):
            raise ValueError(f"bad choice {block!r}: {choice!r} for {name!r}")
        code = codes[block]
        mask = code == (BRANCH if choice == "branch" else SKIP)
        if choice == "skip" or late_paths == "both":
            mask |= code == NONE  # paths that start after the add
        keep &= mask
    return phi[:, keep], v[keep]


def path_norm(name: str, model: nn.Module, p: float) -> Tensor:
    """(Σ_paths Σ_k |v_k(path)|^p)^(1/p) over all paths (the values do not depend on the gates)."""
    _, v = enumerate_paths(name, model, inputs(name, 1))
    return v.abs().pow(p).sum().pow(1 / p)
