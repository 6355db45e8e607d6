"""Kernel regression solve (``KernelRegressor.fit`` + ``predict``) at n = 10 000 and 20 000.

Each size runs in a fresh subprocess, so that its peak resident memory (``ru_maxrss`` of that
process; tracemalloc does not see torch's allocations) belongs to this job alone. The kernel is a
float64 NPK-like PSD matrix built from random features; the baseline is the memory of the kernel
matrix itself (``8 n²`` bytes) and the time of one ``torch.linalg.cholesky`` on a copy of it in
the same process.

Usage: ``python benchmarks/bench_regression.py [--ns 10000 20000]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def child(n: int) -> None:
    import resource
    import time

    import torch

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from _common import timeit  # noqa: F401 - puts src/ on the path
    from neuralpaths.kernels import KernelRegressor

    g = torch.Generator().manual_seed(0)
    feats = torch.rand(n, 256, generator=g, dtype=torch.float64)
    k = feats @ feats.T  # (n, n) PSD of rank 256, made positive definite by the diagonal below
    k.diagonal().add_(1e-3 * float(k.diagonal().mean()))
    y = torch.randn(n, 10, generator=g, dtype=torch.float64)
    kt = k[:1000]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    reg = KernelRegressor(ridge=1e-6, kernel="precomputed").fit(k, y)
    pred = reg.predict(kt)
    t_fit = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del reg, pred
    t = time.perf_counter()
    torch.linalg.cholesky(k)
    t_chol = time.perf_counter() - t
    out = {
        "n": n,
        "fit_predict_s": t_fit,
        "plain_cholesky_s": t_chol,
        "kernel_mib": 8 * n * n / 2**20,
        "rss_before_fit_mib": base / 1024,
        "peak_rss_mib": peak / 1024,
        "extra_over_inputs_mib": (peak - base) / 1024,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", type=int, nargs="*", default=[10_000, 20_000])
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    from _common import save

    rows = []
    for n in args.ns:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=True
        )
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"n={n}: fit+predict {row['fit_predict_s']:.1f} s "
            f"(plain Cholesky {row['plain_cholesky_s']:.1f} s), peak RSS {row['peak_rss_mib']:.0f} MiB = "
            f"{row['peak_rss_mib'] / row['kernel_mib']:.2f}x the kernel "
            f"({row['kernel_mib']:.0f} MiB); the fit added {row['extra_over_inputs_mib']:.0f} MiB"
        )
    save("regression", {"dtype": "float64", "rows": rows})


if __name__ == "__main__":
    main()
