"""The empirical neural tangent kernel ``Θ(x, x') = Σ_θ ∂f(x)/∂θ · ∂f(x')/∂θ``.

:func:`ntk_reference` is the plain, always-correct recipe (``torch.func``: per-sample Jacobians
by ``vmap(jacrev)``, contracted parameter by parameter). It works for any ``nn.Module``.

:func:`ntk` uses the structured form (Gram matrices of layer inputs and back-propagated signals):
:mod:`~neuralpaths.kernels.ntk_structured` for the library's models, and
:mod:`~neuralpaths.kernels.ntk_modules` for any module whose parameters sit in ``Linear`` / ``Conv``
/ ``BatchNorm`` layers (plain ``nn.Sequential`` nets, residual and max-pool nets, ``DGN.from_module``).
The reference is the fallback for anything else (e.g. weights shared between two calls).

``wrt`` picks the parameters differentiated: ``"all"``, ``"trainable"`` (``requires_grad``),
``"value"`` / ``"gating"`` (a DGN's two networks), or an explicit list of parameter names.

Shape:
    scalar output: ``(n1, *in), (n2, *in) -> (n1, n2)``; ``k`` outputs: ``-> (n1, n2, k, k)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from ..checks import check_like, check_pair, optional_block_size
from ..models.base import GatedModel
from .gram import Factor, Term, tiled_kernel
from .ntk_modules import check_eval, module_plan, module_terms
from .ntk_structured import plan_for, structured_terms

PARAM_SETS = ("all", "trainable", "value", "gating")


def select_params(model: nn.Module, params: str | Sequence[str] = "all") -> list[str]:
    """Names of the parameters an NTK differentiates (see module docstring)."""
    named = dict(model.named_parameters())
    if not isinstance(params, str):
        unknown = [p for p in params if p not in named]
        if unknown:
            raise ValueError(f"unknown parameter names {unknown}; the model has {list(named)}")
        return list(params)
    if params not in PARAM_SETS:
        raise ValueError(f"unknown wrt={params!r}: use one of {PARAM_SETS} or a list of parameter names")
    if params == "all":
        return list(named)
    if params == "trainable":
        return [n for n, p in named.items() if p.requires_grad]
    if not hasattr(model, "gating") or not hasattr(model, "value"):
        raise ValueError(f"wrt={params!r} needs a DGN/DLGN (with value and gating networks); use 'all'")
    if getattr(model, "tied", False):
        raise ValueError(
            "the gating and value networks share their weights (a ReLU net, regime 'relu'), so "
            f"wrt={params!r} is ambiguous; use wrt='all'"
        )
    return [n for n in named if n.startswith(params + ".")]


def _wrt(wrt: str | Sequence[str], params: str | Sequence[str] | None) -> str | Sequence[str]:
    """``wrt``, or the deprecated ``params`` (which clashes with torch.func's parameter values)."""
    if params is None:
        return wrt
    warnings.warn("ntk(params=...) is deprecated: use wrt=...", DeprecationWarning, stacklevel=3)
    return params


def ntk_reference(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    wrt: str | Sequence[str] = "all",
    block_size: int | None = None,
    params: str | Sequence[str] | None = None,
) -> Tensor:
    """Empirical NTK by per-sample Jacobians (``torch.func``); the reference every fast path matches.

    ``wrt``: the parameters differentiated (as :func:`ntk`); ``block_size``: samples per ``vmap``
    chunk (``None``: all at once). Memory: ``O((n1 + n2) · k · max_θ |θ|)`` for one parameter
    tensor's Jacobians at a time.
    """
    chunk_size = block_size
    params = _wrt(wrt, params)
    names = select_params(model, params)
    if not names:
        raise ValueError(f"wrt={params!r} selects no parameters of this model")
    all_params = {n: p.detach() for n, p in model.named_parameters()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def jacobians(name: str, x: Tensor) -> Tensor:
        fixed = {n: p for n, p in all_params.items() if n != name} | buffers

        def f(theta: Tensor, xi: Tensor) -> Tensor:
            return functional_call(model, ({name: theta}, fixed), (xi[None],))[0]  # (k,)

        jac = vmap(jacrev(f), in_dims=(None, 0), chunk_size=chunk_size)(all_params[name], x)
        return jac.flatten(2)  # (n, k, *shape) -> (n, k, |θ|)

    kernel = None
    for name in names:
        j1 = jacobians(name, x1)
        j2 = j1 if x2 is None else jacobians(name, x2)
        term = torch.einsum("akp,blp->abkl", j1, j2)
        kernel = term if kernel is None else kernel + term
    return kernel[:, :, 0, 0] if kernel.shape[-1] == 1 else kernel


METHODS = ("auto", "structured", "reference")
OUTPUTS = ("full", "trace", "mean")


def ntk(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    wrt: str | Sequence[str] = "all",
    method: str = "auto",
    block_size: int | None = None,
    progress: bool | None = None,
    outputs: str = "full",
    params: str | Sequence[str] | None = None,
    check_finite: bool = True,
) -> Tensor:
    """Empirical NTK of ``model`` between ``x1`` and ``x2`` (default ``x2 = x1``).

    ``method="structured"`` sums Gram matrices of layer inputs and back-propagated signals
    (:mod:`~neuralpaths.kernels.ntk_structured`; ReLU nets, conv nets, DGNs and DLGNs);
    ``"reference"`` contracts per-sample Jacobians (:func:`ntk_reference`, any ``nn.Module``);
    ``"auto"`` takes the structured path when the model is one it knows, else the reference.

    Blocks: the kernel is computed in ``block_size``-row tiles (default ``1024 // k`` rows).
    Peak memory of the structured path: the result (``n1·n2·k²`` numbers), at most six tile buffers
    of ``(block_size·k)²`` numbers, and the layer inputs and signals (``(n1 + n2)·k·Σ_l width_l``
    numbers, conv layers ``k·|θ_l|`` per sample) of every block if they fit in 1 GiB, else of two
    blocks at a time, recomputed as needed. The reference path uses ``block_size`` as the
    ``vmap`` chunk size. Works on any device; the tensors' device and dtype are kept.

    Args:
        wrt: the parameters differentiated: ``"all"``, ``"trainable"``, ``"value"``,
            ``"gating"`` or a list of names (see :func:`select_params`). ``params=`` is its
            deprecated name.
        outputs: ``"full"`` (every pair of outputs), ``"trace"`` (``Σ_k Θ_kk``) or ``"mean"``
            (``(1/k) Σ_k Θ_kk``): the reduced forms cost ``k²`` times less memory and are formed
            without the full kernel on the structured paths.
        progress: a progress bar over tiles: ``None`` shows it for jobs longer than 2 s.
        check_finite: refuse inputs with NaN or infinity (one reduction per input); ``False``
            skips the check.

    Shape:
        ``-> (n1, n2)`` for a scalar output, ``(n1, n2, k, k)`` for ``k`` outputs.
    """
    params = _wrt(wrt, params)
    if method not in METHODS:
        raise ValueError(f"unknown ntk method {method!r}: use one of {METHODS}")
    if outputs not in OUTPUTS:
        raise ValueError(f"unknown outputs {outputs!r}: use one of {OUTPUTS}")
    block_size = optional_block_size("block_size", block_size)
    if not isinstance(model, nn.Module):
        raise TypeError(f"ntk: model must be a torch.nn.Module, got {type(model).__name__}")
    check_pair(x1, x2, check_finite)
    if isinstance(model, GatedModel):
        model.check_input(x1, "x1")
        if x2 is not None:
            model.check_input(x2, "x2")
    else:
        _check_plain(model, x1, x2)
    plan = plan_for(model) if method != "reference" else None
    if plan is None and method != "reference":
        kernel = _module_ntk(model, x1, x2, params, block_size, progress, outputs)
        if kernel is not None:
            return kernel
    if plan is None:
        if method == "structured":
            raise ValueError(
                f"ntk: no structured form for {type(model).__name__}: its parameters must all sit in "
                "Linear/Conv/BatchNorm layers called once per forward pass; use method='reference' or 'auto'"
            )
        full = ntk_reference(model, x1, x2, wrt=params, block_size=block_size)
        if outputs == "full" or full.ndim == 2:
            return full
        red = full.diagonal(dim1=2, dim2=3).sum(-1)  # (n1, n2, k, k) -> (n1, n2)
        return red / full.shape[-1] if outputs == "mean" else red
    names = select_params(model, params)
    if not names:
        raise ValueError(f"wrt={params!r} selects no parameters of this model")
    k = plan.arch.out_dim
    chosen = set(names)
    return _tiled(lambda xb: structured_terms(plan, xb, chosen, k), x1, x2, k, block_size, progress, outputs)


def _traced(terms: list[Term], k: int, n: int) -> list[Term]:
    """Terms of ``Σ_k Θ_kk``: a signal's Gram traced over outputs is the Gram of the signal
    flattened over (output, unit); the identity over outputs has trace ``k``."""
    out = []
    for t in terms:
        if t.signal is None:
            out.append(Term([Factor(None, float(k)), *t.factors]))
        else:
            out.append(Term([*t.factors, Factor(t.signal.reshape(n, -1))]))  # (b, k, q) -> (b, k q)
    return out


def _tiled(
    make_terms, x1: Tensor, x2: Tensor | None, k: int, block_size, progress, outputs: str = "full"
) -> Tensor:
    """The kernel from per-block terms, as ``(n1, n2)`` or ``(n1, n2, k, k)``."""
    if outputs != "full" and k > 1:
        flat = _tiled(lambda xb: _traced(make_terms(xb), k, len(xb)), x1, x2, 1, block_size, progress)
        return flat / k if outputs == "mean" else flat
    with torch.no_grad():
        flat = tiled_kernel(
            make_terms,
            x1.detach(),
            None if x2 is None else x2.detach(),
            k,
            block_size=block_size,
            progress=progress,
            desc="ntk",
        )
    if k == 1:
        return flat
    n1, n2 = len(x1), flat.shape[1] // k
    return flat.view(n1, k, n2, k).permute(0, 2, 1, 3).contiguous()  # (n1 k, n2 k) -> (n1, n2, k, k)


def _check_plain(model: nn.Module, x1: Tensor, x2: Tensor | None) -> None:
    """Clear errors for inputs that do not fit a plain module's weights."""
    w = next(model.parameters(), None)
    if w is None:
        raise ValueError(f"ntk: {type(model).__name__} has no parameters, so it has no tangent kernel")
    for name, x in (("x1", x1), ("x2", x2)):
        if x is not None:
            check_like(name, x, w)


def _module_ntk(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None,
    params: str | Sequence[str],
    block_size: int | None,
    progress: bool | None,
    outputs: str = "full",
) -> Tensor | None:
    """The structured NTK of :mod:`~neuralpaths.kernels.ntk_modules`, or ``None`` when it does not apply."""
    names = select_params(model, params)
    if not names:
        raise ValueError(f"wrt={params!r} selects no parameters of this model")
    layers = module_plan(model, names)
    if layers is None:
        return None
    check_eval(model)
    try:
        with torch.no_grad():
            k = model(x1[:1]).reshape(1, -1).shape[1]
    except RuntimeError as e:  # a shape mismatch deep inside the module: say so in one line
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"ntk: the model could not run on x1 of shape {tuple(x1.shape)}: {first}") from None
    try:
        return _tiled(lambda xb: module_terms(model, layers, xb, k), x1, x2, k, block_size, progress, outputs)
    except LookupError:  # a layer ran twice: shared weights
        return None


def value_ntk_constant(sigmas: Sequence[float]) -> float:
    """``Σ_l Π_{l'≠l} σ_{l'}²``: Identity 3's constant, ``E[K_value] = const · NPK``.

    For value weights drawn iid with zero mean and variance ``σ_l²`` in layer ``l``, independently
    of the gates; equal ``σ`` over ``d`` layers gives ``d · σ^{2(d-1)}``.
    """
    sq = [float(s) ** 2 for s in sigmas]
    total = 0.0
    for skip in range(len(sq)):
        prod = 1.0
        for i, s in enumerate(sq):
            if i != skip:
                prod *= s
        total += prod
    return total
