"""Path-SGD (Neyshabur, Salakhutdinov & Srebro, NeurIPS 2015): steepest descent in the geometry of the
path regulariser, invariant to the node-wise rescalings that leave a ReLU network's function unchanged.

Every weight and bias ``e`` of the network's path graph (a bias is an edge from a constant-1 unit) gets
the scaling

    ``γ_e = Σ_{paths p ∋ e} Π_{e' ∈ p, e' ≠ e} |w_{e'}|^p``,        ``κ_e = γ_e^{2/p}``

(``p = 2``, the default: ``κ_e = γ_e``, the sum over paths through ``e`` of the product of the *other*
weights squared), and the update is ``w_e ← w_e − lr · g_e / κ_e``. Paths run from an input unit or a
bias to any output unit, whatever the gates; with ``p = 2`` and no biases ``γ_e`` factorises as
``γ_in(u) · γ_out(v)`` for the edge ``u → v``.

No path is enumerated: the ``|w|^p`` network (:func:`neuralpaths.path_norm`'s, every gate open) is run
forward on an all-ones input and its summed output ``S = Σ_paths Π_e |w_e|^p`` is differentiated once
with respect to every layer's output ``δ``; then ``γ`` of a layer's weights is the gradient of the
linear map ``W ↦ ⟨δ, layer(a, W)⟩`` (``a`` its input in that network) and ``γ`` of its bias is ``δ``
summed over positions — exactly ``∂S/∂|w_e|^p``, also where ``w_e = 0``. One forward and one backward
pass of the ``|w|^p`` network per step, whatever the size of the net.

Parameters outside the path graph (the gating network of a DGN whose gates train) get plain SGD
(``κ = 1``); so does an edge with ``γ_e = 0`` (every path through it carries a zero weight, so its
gradient is zero too). Under the rescaling "incoming weights and bias of a hidden unit × c, outgoing
× 1/c", ``g_e`` scales as ``1/c`` and ``κ_e`` as ``1/c²`` on incoming edges (and the other way round
on outgoing ones), so the step scales like the weight itself and the trajectory of the function is
unchanged; momentum keeps this (the buffer scales with the weight), weight decay does not.

Differences from the authors' public code (``bneyshabur/path-sgd``): there the scaled gradient would
also be multiplied once by ``‖g‖/‖g/κ‖`` measured at the start (not rescaling-invariant), and, as
written, its parameter generator is consumed before the update loop, so the scaling is never applied;
here it is, at every step, at the current weights.

Shape:
    :func:`path_scaling`: ``{parameter name: tensor of the parameter's shape}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from ..graph.ir import UnsupportedLayerError
from ..graph.model import PathModel, path_model
from ..graph.run import apply_layer, power


def _check_graph(pm: PathModel, what: str) -> None:
    """Refuse BatchNorm: its folded weights are not parameters a per-weight step could rescale."""
    for s in pm.graph.steps:
        if s.kind in ("affine", "bn") or (s.kind == "layer" and "bn" in s.info):
            raise UnsupportedLayerError(
                f"{what}: BatchNorm ({s.where}) has no per-weight path scaling; use a network of "
                "Linear/Conv layers, ReLU/LeakyReLU, pooling and residual adds"
            )


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Dropout off while the ``|w|^p`` network runs; every module's mode restored afterwards."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _check_p(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not (math.isfinite(p) and p > 0):
        raise ValueError(f"p must be a finite number > 0 (2 is Path-SGD's), got {p!r}")
    return float(p)


def scalings(pm: PathModel, p: float = 2.0, in_shape: tuple[int, ...] | None = None) -> dict[int, Tensor]:
    """``κ = γ^{2/p}`` of every weight and bias on the paths of ``pm``, keyed by ``id(parameter)``
    (a module used at several steps adds up its steps' ``γ``).

    Shape:
        each value has its parameter's shape.
    """
    p = _check_p(p)
    _check_graph(pm, "path scaling")
    shape = tuple(in_shape) if in_shape is not None else pm.input_shape("path scaling")
    w0 = next(pm.value.parameters())
    ones = torch.ones((1, *shape), dtype=w0.dtype, device=w0.device, requires_grad=True)
    taps: dict[str, tuple[Tensor, Tensor]] = {}
    with torch.enable_grad(), _eval_mode(pm.value):
        total = power(pm.graph, pm.value, ones, p, taps=taps).sum()  # Σ_paths Π |w|^p
        names = list(taps)
        deltas = torch.autograd.grad(total, [taps[n][1] for n in names], allow_unused=True)
        gammas: dict[int, Tensor] = {}
        for name, delta in zip(names, deltas):
            m = pm.value.get_submodule(pm.graph[name].module)
            params = [t for t in (m.weight, m.bias) if t is not None]
            if delta is None:  # a layer whose output never reaches the output: no path through it
                grads = [torch.zeros_like(t) for t in params]
            elif isinstance(m, nn.Linear):  # ⟨δ, a Wᵀ + b⟩: an outer product, and δ summed
                a, dl = taps[name][0].detach().reshape(-1, m.in_features), delta.reshape(-1, m.out_features)
                grads = [dl.T @ a, dl.sum(0)][: len(params)]
            else:  # the layer is linear in (W, b): its gradient at zero is exactly ⟨δ, ·⟩'s
                probes = [torch.zeros_like(t, dtype=ones.dtype, requires_grad=True) for t in params]
                bias = probes[1] if len(probes) > 1 else None
                y = apply_layer(m, taps[name][0].detach(), probes[0], bias)
                grads = torch.autograd.grad(y, probes, grad_outputs=delta)
            for t, g in zip(params, grads):
                gammas[id(t)] = gammas[id(t)] + g if id(t) in gammas else g.detach()
    return {k: g if p == 2.0 else g.clamp_min(0) ** (2.0 / p) for k, g in gammas.items()}


def path_scaling(
    model: nn.Module, p: float = 2.0, *, in_shape: tuple[int, ...] | None = None
) -> dict[str, Tensor]:
    """Path-SGD's per-weight scaling ``κ_e = γ_e^{2/p}`` (``p = 2``: ``γ_e``, the sum over paths
    through ``e`` of the product of the other weights squared) of every parameter of ``model`` on its
    paths (biases included), by name. ``in_shape``: one sample's shape (plain conv modules).

    Shape:
        ``{name: (*parameter.shape)}``.
    """
    by_id = scalings(path_model(model), p, in_shape)
    return {name: by_id[id(t)] for name, t in model.named_parameters() if id(t) in by_id}


class PathSGD(torch.optim.Optimizer):
    """Path-SGD: ``w_e ← w_e − lr · g_e / κ_e`` with ``κ`` from :func:`path_scaling` at the current
    weights, recomputed every step (see the module docstring).

    Args:
        model: the network (the library's ``MLP``/``ReLUNet``/``ConvNet``, a ``DGN``'s value network,
            ``DGN.from_module``, or any ReLU ``nn.Module`` the path view reads, e.g. an
            ``nn.Sequential`` of ``Linear`` and ``ReLU``).
        lr: the step size.
        momentum: heavy-ball momentum on the scaled step (``buf ← μ·buf + g/κ``; ``w ← w − lr·buf``).
        weight_decay: adds ``weight_decay · w`` to the gradient before scaling (breaks the invariance).
        p: the path norm's ``p`` (2: the paper's Path-SGD).
        params: the parameters to train (default: every parameter of ``model`` with ``requires_grad``).
        in_shape: one sample's shape, for plain conv modules whose paths depend on the image size.
    """

    def __init__(
        self,
        model: nn.Module,
        lr: float = 1e-2,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        *,
        p: float = 2.0,
        params: Iterable[nn.Parameter] | None = None,
        in_shape: tuple[int, ...] | None = None,
    ):
        for name, v in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"PathSGD: {name} must be a finite number >= 0, got {v!r}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"PathSGD needs the network (an nn.Module) first, got {type(model).__name__}")
        params = [t for t in model.parameters() if t.requires_grad] if params is None else list(params)
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})
        self._pm = path_model(model)
        self._p = _check_p(p)
        self._in_shape = in_shape
        scalings(self._pm, self._p, in_shape)  # fail now, not at the first step, on a net without paths

    @torch.no_grad()
    def step(self, closure=None):
        """One Path-SGD step on the gradients in ``.grad`` (``closure``: re-evaluates the loss)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        kappa = scalings(self._pm, self._p, self._in_shape)
        for group in self.param_groups:
            for t in group["params"]:
                if t.grad is None:
                    continue
                d = t.grad if group["weight_decay"] == 0 else t.grad.add(t, alpha=group["weight_decay"])
                k = kappa.get(id(t))
                if k is not None:  # γ = 0: every path through it has a zero weight, so g = 0 there too
                    d = d / k.masked_fill_(k == 0, 1.0)
                if group["momentum"] != 0:
                    state = self.state[t]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = d.clone()
                    else:
                        state["momentum_buffer"].mul_(group["momentum"]).add_(d)
                    d = state["momentum_buffer"]
                t.add_(d, alpha=-group["lr"])
        return loss
