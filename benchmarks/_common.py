"""Shared helpers of the benchmarks: timing, the machine's matmul throughput, results as JSON.

Timings are the minimum over repeats after warm-up runs (the least noisy estimate on a shared
machine); every benchmark also reports ratios against a baseline measured in the same process.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from neuralpaths.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 2, budget: float = 0.0) -> float:
    """Minimum wall time of ``fn()`` over at least ``repeat`` runs (and more until ``budget``
    seconds have passed), after ``warmup`` runs (seconds). On a shared machine the minimum over a
    longer budget catches the moments when the other jobs leave the cores free."""
    for _ in range(warmup):
        fn()
    best, start, runs = float("inf"), time.perf_counter(), 0
    while runs < repeat or time.perf_counter() - start < budget:
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
        runs += 1
    return best


def matmul_gflops(
    n: int = 2048, dtype: torch.dtype = torch.float32, repeat: int = 5, budget: float = 0.0
) -> float:
    """Throughput of one large square ``torch.mm`` (``2 n³`` FLOPs), GFLOP/s."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g, dtype=dtype)
    b = torch.randn(n, n, generator=g, dtype=dtype)
    out = torch.empty(n, n, dtype=dtype)
    t = timeit(lambda: torch.mm(a, b, out=out), repeat=repeat, budget=budget)
    return 2 * n**3 / t / 1e9


def load() -> float:
    """1-minute load average (other jobs on the machine inflate every timing)."""
    return os.getloadavg()[0]


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "load_average_1min": os.getloadavg()[0],
    }


def save(name: str, result: dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` atomically and say where."""
    result = {"benchmark": name, "machine": machine(), **result}
    path = atomic_write_json(RESULTS / f"{name}.json", result)
    print(f"wrote {path}")
    return path


def sym_gram_flops(n: int, p: int) -> float:
    """FLOPs of the lower triangle of an ``(n, p)`` Gram as ``neuralpaths.kernels.gram`` forms it
    (recursive halving down to ``_LEAF`` rows; ``2·m·k·p`` per ``m x k`` product)."""
    from neuralpaths.kernels import gram

    if n <= gram._LEAF:
        return 2.0 * n * n * p
    h = n // 2
    return sym_gram_flops(h, p) + 2.0 * (n - h) * h * p + sym_gram_flops(n - h, p)
