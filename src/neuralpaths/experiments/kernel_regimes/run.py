"""kernel-regimes: the protocol — train the net once, then score every kernel by kernel regression.

The kernels are functions ``(model, x1, x2) -> (n1, n2)`` (:func:`kernel_fn`). The empirical NTK of
a ``k``-output net is the mean over outputs of its diagonal blocks,
``Θ̄(x, x') = (1/k) Σ_c ⟨∂f_c(x)/∂θ, ∂f_c(x')/∂θ⟩`` (the trace over outputs, as neural-tangents'
``trace_axes``; the library's ``ntk(..., outputs="mean")``): one kernel used for all classes. The
closed forms (infinite-width NTK, limit of the NPK) are the library's. :func:`regress` scores a
kernel: ridge regression on one-hot targets with ``λ = ridge · tr K / n`` (the same relative ridge
for kernels of very different scales), test accuracy of ``argmax``.

Shape:
    ``x1: (n1, d_in)``, ``x2: (n2, d_in) | None`` -> ``(n1, n2)``.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from neuralpaths.data import Splits, load_dataset, nested_order
from neuralpaths.errors import ConfigError
from neuralpaths.io import atomic_torch_save, load_checkpoint
from neuralpaths.kernels import (
    KernelRegressor,
    accuracy,
    choose_solver,
    kernel_alignment,
    npk,
    npk_limit,
    ntk,
    one_hot,
    relu_ntk,
    target_alignment,
)
from neuralpaths.models import SCHEMES, Arch, ReLUNet
from neuralpaths.progress import progress_bar

from ..common import cached, resolve_device, train, train_config

DTYPES = {"float64": torch.float64, "float32": torch.float32}
SOLVERS = ("cholesky", "iterative", "auto")


def solver_for(n: int, solver: str) -> str:
    """The solver of training size ``n``: ``solver``, or for ``"auto"`` the estimator's choice."""
    return choose_solver(n) if solver == "auto" else solver


# --- the kernels compared, each a function (model, x1, x2) -> (n1, n2), and their scoring -------------
KERNELS = {
    "npk-random": "NPK, random gates (net at init)",
    "npk-trained": "NPK, trained gates",
    "npk-limit": "NPK, random gates, width → ∞",
    "ntk-inf": "NTK ∞ (standard param., same widths)",
    "ntk-inf-ntkparam": "NTK ∞ (NTK param.)",
    "ntk-init": "empirical NTK at init",
    "ntk-trained": "empirical NTK after training",
}
TRAINED = ("npk-trained", "ntk-trained")  # kernels of the trained net; the others use the net at init

KernelFn = Callable[[ReLUNet, Tensor, "Tensor | None"], Tensor]


def kernel_fn(name: str) -> KernelFn:
    """``f(model, x1, x2)`` computing kernel ``name``; the closed forms read only the model's
    architecture (depth, hidden widths, no biases)."""
    if name in ("npk-random", "npk-trained"):
        return lambda m, a, b: npk(m, a, b)
    if name in ("ntk-init", "ntk-trained"):
        return lambda m, a, b: ntk(m, a, b, outputs="mean")  # (1/k) Σ_k Θ_kk, all parameters
    if name == "npk-limit":
        return lambda m, a, b: npk_limit(m, a, b)
    if name == "ntk-inf":
        return lambda m, a, b: relu_ntk(m, a, b, parameterization="standard")
    if name == "ntk-inf-ntkparam":
        return lambda m, a, b: relu_ntk(m, a, b, parameterization="ntk")
    raise ValueError(f"unknown kernel {name!r}: use one of {list(KERNELS)}")


def regress(
    K: Tensor, K_test: Tensor, y: Tensor, y_test: Tensor, ridge: float, num_classes: int = 10
) -> dict:
    """Test accuracy (%) of kernel ridge regression on one-hot targets with ``λ = ridge · tr K / n``,
    and the centred kernel–target alignment of ``K``.

    Shape:
        ``K: (n, n)``, ``K_test: (m, n)``, labels ``y: (n,)``, ``y_test: (m,)``.
    """
    K, K_test = K.double(), K_test.double()
    targets = one_hot(y, num_classes, dtype=torch.float64)
    lam = ridge * float(K.trace()) / len(K)
    start = time.perf_counter()
    reg = KernelRegressor(ridge=lam, kernel="precomputed", jitter="auto").fit(K, targets)
    pred = reg.predict(K_test)
    return {
        "test_acc": 100 * accuracy(pred, y_test),
        "alignment": target_alignment(K, targets, centered=True),
        "lambda": lam,
        "jitter": reg.jitter_,
        "seconds_solve": time.perf_counter() - start,
    }


def regress_iterative(
    kernel: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    x_test: Tensor,
    y: Tensor,
    y_test: Tensor,
    ridge: float,
    tol: float,
    num_classes: int = 10,
) -> dict:
    """:func:`regress` without the ``(n, n)`` kernel: ``kernel(a, b)`` computed by blocks inside
    the iterative solver (:mod:`neuralpaths.kernels.solvers`); ``tr K`` from the diagonal blocks. No
    kernel–target alignment (it needs all of ``K``).

    Shape:
        ``x: (n, d_in)``, ``x_test: (m, d_in)``, labels ``y: (n,)``, ``y_test: (m,)``.
    """
    targets = one_hot(y, num_classes, dtype=torch.float64)
    start = time.perf_counter()
    trace = sum(float(kernel(x[s : s + 500], x[s : s + 500]).diagonal().sum()) for s in range(0, len(x), 500))
    lam = ridge * trace / len(x)
    reg = KernelRegressor(ridge=lam, kernel=kernel, solver="iterative", tol=tol).fit(x, targets)
    pred = reg.predict(x_test)
    return {
        "test_acc": 100 * accuracy(pred, y_test),
        "alignment": None,
        "lambda": lam,
        "jitter": reg.jitter_,
        "solver": reg.solver_,
        "n_iter": reg.n_iter_,
        "residual": reg.residual_,
        "seconds_solve": time.perf_counter() - start,
    }


@dataclass(frozen=True)
class Config:
    seed: int = 0
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (CUDA if available): training and kernels
    widths: tuple[int, ...] = (128, 128, 128, 128, 128)  # the NPF paper's FC 5x128, no biases
    init: str = "he"  # N(0, 2/fan_in): the net's expected NTK at init is ntk-inf (glorot: not exactly)
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 10
    n_net: int = 0  # training points of the net (the first of the kernel order); 0: the whole split
    val_size: int = 5000  # held out of the training set to pick the net's epoch (0: last epoch)
    train_sizes: tuple[int, ...] = (1000, 2000, 5000, 10000)  # nested kernel-regression training sets
    n_test: int = 10000  # class-balanced test points (10000: the whole test set)
    kernels: tuple[str, ...] = tuple(KERNELS)
    ridge: float = 1e-6  # λ = ridge · tr K / n, the same for every kernel
    gram_dtype: str = "float64"  # "float32" halves memory and time; regression is always float64
    align_points: int = 1000  # points for the kernel-vs-kernel alignment (0: skip)
    threads: int = 2
    # kernel regression: "cholesky" (exact, the (n, n) Gram in memory), "iterative" (the kernel by
    # blocks, never the whole Gram: PCG, relative residual tol) or "auto" (iterative where the Gram
    # and its Cholesky copy would not fit in half the available memory)
    solver: str = "cholesky"
    tol: float = 1e-6


def _check(cfg: Config) -> None:
    if not cfg.widths or min(cfg.widths) < 1:
        raise ConfigError(f"widths must be positive hidden widths, e.g. [128, 128, 128], got {cfg.widths}")
    sizes = cfg.train_sizes
    if not sizes or min(sizes) < 2 or len(set(sizes)) != len(sizes):
        raise ConfigError(f"train_sizes must be distinct numbers of training points >= 2, got {sizes}")
    bad = [k for k in cfg.kernels if k not in KERNELS]
    if bad or not cfg.kernels or len(set(cfg.kernels)) != len(cfg.kernels):
        raise ConfigError(f"kernels must be distinct names among {list(KERNELS)}, got {list(cfg.kernels)}")
    if not cfg.ridge >= 0:
        raise ConfigError(f"ridge must be >= 0 (λ = ridge · tr K / n), got {cfg.ridge}")
    if cfg.gram_dtype not in DTYPES:
        raise ConfigError(f"gram_dtype must be one of {list(DTYPES)}, got {cfg.gram_dtype!r}")
    if cfg.align_points == 1 or cfg.align_points < 0:
        raise ConfigError(f"align_points must be 0 (skip) or >= 2, got {cfg.align_points}")
    if cfg.init not in SCHEMES:
        raise ConfigError(f"init must be one of {SCHEMES}, got {cfg.init!r}")
    if cfg.solver not in SOLVERS:
        raise ConfigError(f"solver must be one of {SOLVERS}, got {cfg.solver!r}")
    if not 0 < cfg.tol < 1:
        raise ConfigError(f"tol (relative residual of the iterative solver) must be in (0, 1), got {cfg.tol}")
    if cfg.n_test < 1 or cfg.n_net < 0:
        raise ConfigError(f"n_test must be >= 1 and n_net >= 0 (0: all), got {cfg.n_test} and {cfg.n_net}")


def _data(cfg: Config) -> tuple[Splits, np.ndarray]:
    data = load_dataset("mnist", val_size=cfg.val_size, seed=cfg.seed, n_test=cfg.n_test, flatten=True)
    n = len(data.y_train)
    for what, v in (
        ("train_sizes", max(cfg.train_sizes)),
        ("n_net", cfg.n_net),
        ("align_points", cfg.align_points),
    ):
        if v > n:
            raise ConfigError(
                f"{what} asks for {v} training points but the training split has {n} "
                f"(val_size={cfg.val_size}): lower {what}"
            )
    return data, nested_order(data.y_train.numpy(), cfg.seed)


def _net(cfg: Config) -> ReLUNet:
    return ReLUNet(Arch.mlp(784, cfg.widths, 10, bias=False), init=cfg.init, seed=1000 * cfg.seed)


@torch.no_grad()
def _test_acc(model: torch.nn.Module, data: Splits) -> float:
    return 100 * float((model(data.x_test).argmax(1) == data.y_test).double().mean())


def train_net(cfg: Config, data: Splits, order: np.ndarray, out: Path) -> tuple[ReLUNet, ReLUNet, dict]:
    """The net at init and trained (best-validation weights; resumable), and its record."""
    net_data = data
    if cfg.n_net:
        idx = torch.from_numpy(np.sort(order[: cfg.n_net]))
        x, y = data.x_train[idx], data.y_train[idx]
        net_data = Splits(data.name, x, y, data.x_val, data.y_val, data.x_test, data.y_test, 10)
    init, model = _net(cfg), _net(cfg)
    hist, trained = train(
        model,
        net_data,
        train_config(cfg, loss="ce"),
        out,
        "net",
        tags={"model": "relu-net"},
        desc="ReLU net",
        best=bool(cfg.val_size),
    )
    record = {
        "test_acc": _test_acc(model, data),
        "test_acc_init": _test_acc(init, data),
        "epoch": hist.best_val_epoch if cfg.val_size else hist.final["epoch"],
        "val_acc": trained["val_acc"],
        "n_train": len(net_data.y_train),
        "test_curve": trained["test_curve"],
        "seconds": trained["seconds"],
    }
    return init, model, record


def run_kernel(name: str, cfg: Config, nets: dict, data: Splits, order: np.ndarray, out: Path) -> dict:
    """All training sizes of one kernel (each cached) and its alignment block. The Gram pair is formed
    once, for the largest size not done yet, and sliced for the smaller ones."""
    ck = out / "checkpoints"
    dtype = DTYPES[cfg.gram_dtype]
    dev = resolve_device(cfg.device)
    model = copy.deepcopy(nets["trained" if name in TRAINED else "init"]).to(dtype).to(dev)
    kernel = kernel_fn(name)

    def f(m: ReLUNet, a: Tensor, b: Tensor | None) -> Tensor:  # on the run's device, back on the CPU
        return kernel(m, a.to(dev), None if b is None else b.to(dev)).cpu()

    sizes = sorted(cfg.train_sizes)
    idx = torch.from_numpy(order[: max(*sizes, cfg.align_points)])  # the kernel order
    x, y, x_test = data.x_train[idx], data.y_train[idx], data.x_test.to(dtype)
    paths = {n: ck / f"{name}-n{n}.json" for n in sizes}
    missing = [n for n in sizes if not paths[n].exists()]

    exact = [n for n in missing if solver_for(n, cfg.solver) == "cholesky"]

    @functools.cache
    def grams() -> tuple[Tensor, Tensor, float]:
        xm = x[: max(exact)].to(dtype)
        start = time.perf_counter()
        K, K_test = f(model, xm, None), f(model, x_test, xm)  # (m, m), (n_test, m)
        return K, K_test, time.perf_counter() - start

    def score(n: int) -> dict:
        K, K_test, seconds = grams()
        row = {"n": n, **regress(K[:n, :n], K_test[:, :n], y[:n], data.y_test, cfg.ridge)}
        return {**row, "seconds_gram": seconds}

    def blockwise(a: Tensor, b: Tensor) -> Tensor:  # float64 blocks of the kernel for the solver
        return f(model, a.to(dtype), b.to(dtype)).double()

    def score_iterative(n: int) -> dict:
        row = regress_iterative(
            blockwise, x[:n].double(), x_test.double(), y[:n], data.y_test, cfg.ridge, cfg.tol
        )
        return {"n": n, **row, "seconds_gram": None}  # the kernel's blocks are timed in seconds_solve

    block_path = ck / f"{name}-align{cfg.align_points}.pt"
    block = load_checkpoint(block_path) if block_path.exists() else None

    def save_block() -> None:  # from the exact Grams, before they are freed
        nonlocal block
        if block is None and cfg.align_points and exact and cfg.align_points <= max(exact):
            block = grams()[0][: cfg.align_points, : cfg.align_points].double().clone()
            atomic_torch_save(block_path, block)

    rows = {}
    for n in sizes:
        if n in missing and n not in exact:
            save_block()
            grams.cache_clear()  # free the exact Grams before the large iterative solve
            rows[str(n)] = cached(paths[n], score_iterative, n)
        else:
            rows[str(n)] = cached(paths[n], score, n)
    save_block()
    grams.cache_clear()
    if block is None and cfg.align_points:
        block = f(model, x[: cfg.align_points].to(dtype), None).double()
        atomic_torch_save(block_path, block)
    return {"label": KERNELS[name], "n": rows, "block": block}


def run(cfg: Config, out: Path) -> dict:
    _check(cfg)
    data, order = _data(cfg)
    init, trained, net = train_net(cfg, data, order, out)
    nets = {"init": init, "trained": trained}
    names = [k for k in KERNELS if k in cfg.kernels]
    results: dict = {
        "data": data.summary(),
        "train_sizes": sorted(cfg.train_sizes),
        "n_test": len(data.y_test),
        "widths": list(cfg.widths),
        "ridge": cfg.ridge,
        "net": net,
        "kernels": {},
    }
    blocks = {}
    start = time.perf_counter()
    with progress_bar(total=len(names), desc="kernels", unit="kernel") as bar:
        for name in names:
            bar.set_postfix(kernel=name)
            r = run_kernel(name, cfg, nets, data, order, out)
            blocks[name] = r.pop("block")
            results["kernels"][name] = r
            bar.update()
    results["seconds_kernels"] = time.perf_counter() - start
    if cfg.align_points:
        matrix = [[kernel_alignment(blocks[a], blocks[b], centered=True) for b in names] for a in names]
        results["alignment"] = {"points": cfg.align_points, "names": names, "matrix": matrix}
    return results
