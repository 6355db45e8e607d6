"""Time vs n (1k, 2k, 4k, 8k) of the NPK and the NTK, and the fitted exponent of the n² law.

NPK: FC 784-128x5 ReLU net; NTK: MLP 784-512-512-512-1; float32, random inputs, x2 = None.
The exponent is the least-squares slope of log(time) against log(n); the local exponents are
those of each doubling; a fit ``time = a·n + b·n²`` separates the per-point work (forward and
backward passes) from the per-pair work (Grams).

Usage: ``python benchmarks/bench_scaling.py [--ns 1000 2000 4000 8000]``
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from _common import save, timeit
from neuralpaths import MLP, npk, ntk


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", type=int, nargs="*", default=[1000, 2000, 4000, 8000])
    args = ap.parse_args()
    x = torch.rand(max(args.ns), 784, generator=torch.Generator().manual_seed(0))
    nets = {"npk": MLP(784, (128,) * 5, 10, seed=0), "ntk": MLP(784, (512, 512, 512), 1, seed=0)}
    fns = {
        "npk": lambda xs: npk(nets["npk"], xs, progress=False),
        "ntk": lambda xs: ntk(nets["ntk"], xs, progress=False),
    }
    res = {"ns": args.ns, "dtype": "float32"}
    for name, fn in fns.items():
        times = []
        for n in args.ns:
            times.append(timeit(lambda n=n, fn=fn: fn(x[:n]), repeat=3, warmup=1, budget=10.0))
            print(f"{name} n={n}: {times[-1]:.3f} s")
        ns = np.asarray(args.ns, dtype=float)
        slope = float(np.polyfit(np.log(ns), np.log(times), 1)[0])
        local = [
            float(np.log(t2 / t1) / np.log(m2 / m1)) for t1, t2, m1, m2 in zip(times, times[1:], ns, ns[1:])
        ]
        # time = a·n + b·n² (features: linear in n; Grams: quadratic), least squares
        (a, b), *_ = np.linalg.lstsq(np.stack([ns, ns**2], 1), np.asarray(times), rcond=None)
        share = float(b * ns[-1] ** 2 / (a * ns[-1] + b * ns[-1] ** 2))
        print(
            f"{name}: exponent {slope:.2f} over all n; local exponents {[round(e, 2) for e in local]}; "
            f"fit a·n + b·n²: the n² term is {share:.0%} of the time at n={args.ns[-1]}"
        )
        res[name] = {
            "times_s": times,
            "exponent": slope,
            "local_exponents": local,
            "fit_linear_s_per_point": float(a),
            "fit_quadratic_s_per_pair": float(b),
            "quadratic_share_at_largest_n": share,
        }
    save("scaling", res)


if __name__ == "__main__":
    main()
