"""Kernel ridge regression on MNIST with the infinite-width ReLU NTK: iterative solver vs Cholesky.

The kernel is the NTK of a bias-free FC 784 → 5×128 → 10 ReLU net at infinite width (standard
parameterisation with those widths: ``kernel-regimes``' ``ntk-inf``), computed in float64; targets
are one-hot (10 columns), ``λ = ridge · tr K / n`` (``ridge = 1e-6`` as ``kernel-regimes``); the
training points are the first ``n`` of the class-balanced nested order of seed 0 and the test points
are all 10 000 test images. Each (n, solver) runs in a fresh subprocess, so that its peak resident
memory (``ru_maxrss``) belongs to it alone; time is wall time of ``fit`` + ``predict`` (kernel
included). The iterative solver (``KernelRegressor(solver="iterative")``: the lower triangle of the
kernel stored once, PCG with a rank-``rank`` randomly pivoted Cholesky preconditioner) is compared
with the exact Cholesky solve of the same size: max relative difference of the predictions
(``‖p_i − q_i‖ / ‖q_i‖`` over test points) and of test accuracy.

Usage: ``python benchmarks/bench_krr_iterative.py [--kernel ntk-inf|npk-trained] [--ns 5000 20000]
[--full] [--threads 2] [--rank R] [--tol T] [--budget BYTES] [--only-iterative] [--tag SUFFIX]``
(``--full``: also n = 60 000, the whole training set, iterative only: the Cholesky solve would need
two 28.8 GB matrices).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

RIDGE = 1e-6


KERNELS = ("ntk-inf", "npk-trained")


def make_kernel(name: str, data) -> tuple:
    """``(kernel(a, b), seconds of training)`` of kernel ``name`` (see the module docstring)."""
    import time

    from neuralpaths.kernels import npk, relu_ntk
    from neuralpaths.models import Arch, ReLUNet
    from neuralpaths.train import TrainConfig, fit

    arch = Arch.mlp(784, [128] * 5, 10, bias=False)
    if name == "ntk-inf":
        return (lambda a, b: relu_ntk(arch, a, b, parameterization="standard", progress=False)), 0.0
    start = time.perf_counter()
    net = ReLUNet(arch, init="he", seed=0)
    fit(net, data, TrainConfig(epochs=10, batch_size=128, lr=1e-3, seed=0, progress=False), keep_best=False)
    net = net.double().eval()
    return (lambda a, b: npk(net, a, b, progress=False)), time.perf_counter() - start


def child(
    kernel_name: str,
    n: int,
    solver: str,
    rank: int | None,
    tol: float,
    threads: int,
    ref: str,
    budget: int | None,
) -> None:
    import resource
    import time

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import machine  # puts src/ on the path
    from neuralpaths.data import load_dataset, nested_order
    from neuralpaths.kernels import KernelRegressor, one_hot
    from neuralpaths.kernels.solvers import default_rank

    torch.set_num_threads(threads)
    data = load_dataset("mnist", val_size=0, seed=0, flatten=True)
    idx = torch.from_numpy(nested_order(data.y_train.numpy(), 0)[:n])
    X, y = data.x_train[idx].double(), data.y_train[idx]
    Xt, yt = data.x_test.double(), data.y_test
    kernel, seconds_train = make_kernel(kernel_name, data)

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    trace = sum(float(kernel(X[s : s + 500], X[s : s + 500]).diagonal().sum()) for s in range(0, n, 500))
    lam = RIDGE * trace / n
    reg = KernelRegressor(ridge=lam, kernel=kernel, solver=solver, tol=tol, rank=rank, memory_budget=budget)
    reg.fit(X, one_hot(y, 10, dtype=torch.float64))
    t_fit = time.perf_counter() - start
    pred = reg.predict(Xt)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "kernel": kernel_name,
        "n": n,
        "solver": reg.solver_,
        "seconds": seconds,
        "seconds_fit": t_fit,
        "peak_rss_mib": peak / 1024,
        "rss_before_fit_mib": base / 1024,
        "n_iter": reg.n_iter_,
        "residual": reg.residual_,
        "rank": (default_rank(n) if rank is None else rank) if solver == "iterative" else None,
        "memory_budget": budget,
        "tol": tol if solver == "iterative" else None,
        "lambda": lam,
        "test_acc": 100 * float((pred.argmax(1) == yt).double().mean()),
        "threads": threads,
        "seconds_training_net": seconds_train,
        "load_average_1min": machine()["load_average_1min"],
    }
    if solver == "cholesky":
        torch.save(pred, ref)
    elif Path(ref).exists():
        exact = torch.load(ref, weights_only=True)
        rel = (pred - exact).norm(dim=1) / exact.norm(dim=1)
        out["max_rel_prediction_diff"] = float(rel.max())
        out["test_acc_diff_points"] = out["test_acc"] - 100 * float((exact.argmax(1) == yt).double().mean())
    print(json.dumps(out), flush=True)


def run_child(n: int, solver: str, args, ref: Path, tol: float = 1e-6) -> dict:
    cmd = [sys.executable, __file__, "--child", args.kernel, str(n), solver, str(args.rank), str(tol)]
    budget = args.budget if solver == "iterative" else None
    cmd += [str(args.threads), str(ref), str(budget)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"n={n} {solver} failed:\n{proc.stderr[-3000:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", choices=KERNELS, default="ntk-inf")
    ap.add_argument("--ns", type=int, nargs="*", default=[5000, 20000])
    ap.add_argument("--full", action="store_true", help="also n = 60 000 (iterative only)")
    ap.add_argument("--rank", type=int, default=None, help="preconditioner rank (default: the library's)")
    ap.add_argument("--tol", type=float, nargs="+", default=[1e-6], help="relative residual(s) to solve to")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--budget",
        type=lambda v: int(float(v)),
        default=None,
        help="memory budget in bytes of the iterative solver (e.g. 1e9 at "
        "n = 20 000: the kernel stored in float32, as at 60 000)",
    )
    ap.add_argument("--tag", default="", help="suffix of the results file (keeps earlier results)")
    ap.add_argument("--only-iterative", action="store_true", help="no Cholesky reference (--ns runs)")
    ap.add_argument("--child", nargs=8, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        name, n, solver, rank, tol, threads, ref, budget = args.child
        as_int = lambda v: None if v == "None" else int(v)
        child(name, int(n), solver, as_int(rank), float(tol), int(threads), ref, as_int(budget))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import save

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.ns:
            ref = Path(tmp) / f"exact-{n}.pt"
            if not args.only_iterative:
                rows.append(run_child(n, "cholesky", args, ref))
            rows += [run_child(n, "iterative", args, ref, tol) for tol in args.tol]
        if args.full:
            rows += [run_child(60000, "iterative", args, Path(tmp) / "none.pt", tol) for tol in args.tol]
    kernel = {
        "ntk-inf": "relu_ntk standard, FC 784-5x128-10",
        "npk-trained": "npk of a trained FC 784-5x128-10",
    }
    name = "krr_iterative" if args.kernel == "ntk-inf" else f"krr_iterative_{args.kernel}"
    name += args.tag
    save(name, {"ridge": RIDGE, "kernel": kernel[args.kernel], "rows": rows})


if __name__ == "__main__":
    main()
