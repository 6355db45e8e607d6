"""One CG product of the stored kernel (``KernelOperator.matvec``): worker threads vs the BLAS pool.

The same store (a float32 lower triangle, as at n = 60 000; a cheap linear kernel builds it) and
the same tiles, multiplied by ``k = 10`` right-hand sides three ways, in interleaved rounds so that
the machine's slow and fast minutes fall on all of them:

- ``blas-pool``: one Python thread, every tile's GEMM split over torch's BLAS threads (the baseline:
  the product before worker threads);
- ``workers``: the row blocks dealt to ``--threads`` worker threads, each on single-threaded BLAS
  (today's default);
- ``one-thread``: everything on one thread (what one worker would take for all blocks).

Prints min and median seconds per product and the ratio ``blas-pool / workers``; writes
``results/kernel_operator.json``. Usage: ``python benchmarks/bench_kernel_operator.py [--ns 30000
60000] [--rounds 4] [--threads 2]`` (n = 60 000 stores 7.2 GB).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from _common import load, save
from neuralpaths.kernels.operator import KernelOperator


def product_seconds(op: KernelOperator, V: torch.Tensor, blas_threads: int) -> float:
    """Seconds of one product with torch on ``blas_threads`` threads."""
    prev = torch.get_num_threads()
    torch.set_num_threads(blas_threads)
    try:
        start = time.perf_counter()
        op.matvec(V)
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(prev)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", type=int, nargs="+", default=[30000])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for n in args.ns:
        g = torch.Generator().manual_seed(0)
        X = torch.randn(n, 8, generator=g, dtype=torch.float64)
        V = torch.randn(n, 10, generator=g, dtype=torch.float64)
        kw = dict(store_dtype=torch.float32, block_rows=(1 << 24) // 60000)  # the blocks of n = 60 000
        op = KernelOperator(lambda a, b: a @ b.T, X, **kw)
        ways = {"blas-pool": (1, args.threads), "workers": (args.threads, args.threads), "one-thread": (1, 1)}
        op.threads = 1
        ref = op.matvec(V)
        op.threads = args.threads
        diff = float((op.matvec(V) - ref).norm() / ref.norm())
        times: dict[str, list[float]] = {w: [] for w in ways}
        for _ in range(args.rounds):
            for w, (workers, blas) in ways.items():
                op.threads = workers
                times[w].append(product_seconds(op, V, blas))
        row = {
            "n": n,
            "stored_entries": sum(b.numel() for b in op.blocks),
            "relative_difference_workers_vs_pool": diff,
            **{f"{w}_min_s": min(ts) for w, ts in times.items()},
            **{f"{w}_median_s": statistics.median(ts) for w, ts in times.items()},
            "times": times,
            "speedup_median": statistics.median(times["blas-pool"]) / statistics.median(times["workers"]),
            "load_average_1min": load(),
        }
        rows.append(row)
        print(
            f"n={n}: "
            + ", ".join(f"{w} {min(ts):.2f}/{statistics.median(ts):.2f} s" for w, ts in times.items())
            + f" (min/median); blas-pool / workers = {row['speedup_median']:.2f}x; rel. diff {diff:.1e}",
            flush=True,
        )
        del op
    save("kernel_operator", {"k": 10, "store": "float32", "threads": args.threads, "rows": rows})


if __name__ == "__main__":
    main()
