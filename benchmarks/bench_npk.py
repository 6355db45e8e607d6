"""NPK of an FC 5x128 ReLU net on 10 000 MNIST points: time and fraction of matmul throughput.

Data: ``neuralpaths.data.load_dataset("mnist")`` (10 000 class-balanced training images, flattened,
float32); random data of the same shape with ``--random``. The ReLU net's gates come from its own
hidden layers (``MLP(784, [128]*5, 10)``, seed 0).

FLOPs counted: the gates' forward pass (``2·n·fan_in·fan_out`` per hidden layer) and, tile by tile,
the Grams actually formed (a diagonal tile of ``b`` rows: its lower triangle by recursive blocks,
about ``b²·p·(1 + 256/b)``; an off-diagonal ``b1 x b2`` tile: ``2·b1·b2·p``), ``p = 784 + 5·128``
summed over the six factors. The in-place elementwise products are not counted. Also times ``npk``
at several block sizes.

Usage: ``python benchmarks/bench_npk.py [--n 10000] [--random]``
"""

from __future__ import annotations

import argparse

import torch

from _common import matmul_gflops, save, sym_gram_flops, timeit
from neuralpaths import MLP, npk
from neuralpaths.kernels.gram import DEFAULT_BLOCK

D_IN, WIDTHS = 784, (128,) * 5


def tile_flops(n: int, b: int, p: int) -> float:
    starts = list(range(0, n, b))
    total = 0
    for i in starts:
        for j in starts:
            bi, bj = min(b, n - i), min(b, n - j)
            if j == i:
                total += sym_gram_flops(bi, p)
            elif j > i:
                total += 2 * bi * bj * p
    return float(total)


def our_flops(n: int, b: int) -> float:
    dims = [D_IN, *WIDTHS]
    forward = sum(2 * n * a * c for a, c in zip(dims[:-1], dims[1:]))
    return forward + tile_flops(n, b, sum(dims))


def load(n: int, random: bool) -> tuple[torch.Tensor, str]:
    if not random:
        try:
            from neuralpaths.data import load_dataset

            x = load_dataset("mnist", flatten=True, val_size=0, n_train=n).x_train
            return x.float(), "mnist (neuralpaths.data, class-balanced training subset)"
        except Exception as e:
            print(f"MNIST unavailable ({e}); using random data")
    return torch.rand(n, D_IN, generator=torch.Generator().manual_seed(0)), "random uniform [0, 1)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--random", action="store_true")
    ap.add_argument("--blocks", type=int, nargs="*", default=[1024, 2048, 4096])
    args = ap.parse_args()
    x, source = load(args.n, args.random)
    net = MLP(D_IN, WIDTHS, 10, seed=0)
    peak = matmul_gflops(2048, repeat=3, budget=2.0)
    rows = []
    for b in args.blocks:
        t = timeit(lambda b=b: npk(net, x, block_size=b, progress=False), repeat=3, warmup=1, budget=15.0)
        f = our_flops(args.n, b)
        rows.append({"block_size": b, "time_s": t, "gflop": f / 1e9, "gflops_per_s": f / t / 1e9})
        peak = max(peak, matmul_gflops(2048, repeat=3, budget=2.0))
        print(f"block {b}: {t:.2f} s, {f / t / 1e9:.0f} GFLOP/s = {f / t / 1e9 / peak:.0%} of matmul")
    default = next(r for r in rows if r["block_size"] == DEFAULT_BLOCK)
    res = {
        "n": args.n,
        "data": source,
        "arch": "FC 784-128x5, ReLU gates",
        "dtype": "float32",
        "matmul_gflops_per_s": peak,
        "default_block_size": DEFAULT_BLOCK,
        "time_s": default["time_s"],
        "fraction_of_matmul": default["gflops_per_s"] / peak,
        "by_block_size": rows,
        "target": {"fraction_of_matmul": 0.5},
    }
    print(
        f"default (block {DEFAULT_BLOCK}): {default['time_s']:.2f} s, "
        f"{res['fraction_of_matmul']:.0%} of matmul"
    )
    save("npk_fc", res)


if __name__ == "__main__":
    main()
