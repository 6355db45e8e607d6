"""Empirical NTK of an MLP 784-512-512-512-1, float32, CPU, n = 1024 (x2 = None).

Ours (``neuralpaths.ntk``, structured) against the torch.func Jacobian-contraction recipe of the
PyTorch tutorial (``vmap(jacrev)`` over all parameters, then ``einsum`` per parameter), in the same
process, and our achieved GFLOP/s as a fraction of one large float32 matmul's.

FLOPs counted for ours are the matrix products the structured path actually performs: the forward
pass through the three hidden layers (``2·n·fan_in·fan_out`` each), the backward recursion for the
signals (two ``512x512`` products), and the lower triangles of the seven symmetric ``(n, p)`` Grams
(inputs 784, 512, 512, 512 and signals 512, 512, 512) as the recursive blocks form them
(``1.25·n²·p`` at n = 1024). The elementwise products of the Grams (memory-bound) are not counted.

Usage: ``python benchmarks/bench_ntk.py [--n 1024] [--ref-n N]`` (``--ref-n``: time the recipe at a
smaller n and extrapolate by n²)
"""

from __future__ import annotations

import argparse
import math

import torch
from torch.func import functional_call, jacrev, vmap

from _common import load, matmul_gflops, save, sym_gram_flops, timeit
from neuralpaths import MLP, ntk

WIDTHS, D_IN = (512, 512, 512), 784


def jacobian_contraction(net: torch.nn.Module, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """The PyTorch tutorial's 'Jacobian contraction' NTK (scalar output)."""
    params = {k: v.detach() for k, v in net.named_parameters()}

    def f(p, x):
        return functional_call(net, p, (x.unsqueeze(0),)).squeeze(0)

    j1 = [j.flatten(2) for j in vmap(jacrev(f), (None, 0))(params, x1).values()]
    j2 = [j.flatten(2) for j in vmap(jacrev(f), (None, 0))(params, x2).values()]
    return torch.stack([torch.einsum("Naf,Mbf->NMab", a, b) for a, b in zip(j1, j2)]).sum(0)[..., 0, 0]


def our_flops(n: int) -> float:
    dims = [D_IN, *WIDTHS]
    forward = sum(2 * n * a * b for a, b in zip(dims[:-1], dims[1:]))
    backward = sum(2 * n * w * w for w in WIDTHS[1:])
    grams = sum(sym_gram_flops(n, p) for p in (*dims, *WIDTHS))
    return float(forward + backward + grams)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument(
        "--ref-n",
        type=int,
        default=None,
        help="time the torch.func recipe at this n and extrapolate (default: n)",
    )
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (about 6 s each)")
    args = ap.parse_args()
    torch.manual_seed(0)
    net = MLP(D_IN, WIDTHS, 1, seed=0)
    x = torch.rand(args.n, D_IN, generator=torch.Generator().manual_seed(1))

    # interleaved rounds, best of each: both see the same spread of machine load
    peak, t_ours, load_ours = 0.0, float("inf"), load()
    for _ in range(args.rounds):
        peak = max(peak, matmul_gflops(2048, repeat=3, budget=2.0))
        t_ours = min(t_ours, timeit(lambda: ntk(net, x), repeat=10, warmup=1, budget=4.0))
    flops = our_flops(args.n)
    ours_gflops = flops / t_ours / 1e9

    # accuracy of float32 against float64 on the same net and inputs
    k32 = ntk(net, x).double()
    k64 = ntk(net.double(), x.double())
    net.float()
    rel32 = float((k32 - k64).norm() / k64.norm())

    ref_n = args.ref_n or args.n
    xr = x[:ref_n]
    want = ntk(net, xr[:256]).double()
    got = jacobian_contraction(net, xr[:256], xr[:256]).double()
    agree = float((got - want).norm() / want.norm())
    recipe = {"timed_at_n": ref_n}
    recipe["load_average_before"] = load()
    if ref_n == args.n:  # one run at full size (tens of seconds, ~4 GB of Jacobians)
        t_ref = timeit(lambda: jacobian_contraction(net, xr, xr), repeat=1, warmup=0)
        recipe["time_s"] = t_ref
    else:  # time at ref_n and ref_n / 2, extrapolate by n²
        t_small = timeit(lambda: jacobian_contraction(net, xr, xr), repeat=2, warmup=1)
        xh = xr[: ref_n // 2]
        t_half = timeit(lambda: jacobian_contraction(net, xh, xh), repeat=2, warmup=1)
        t_ref = t_small * (args.n / ref_n) ** 2
        recipe |= {
            "time_at_ref_n_s": t_small,
            "time_at_half_ref_n_s": t_half,
            "measured_exponent": math.log(t_small / t_half) / math.log(2),
            "extrapolated_to_n_s": t_ref,
            "extrapolation": "time(ref_n) * (n / ref_n)^2",
        }
    recipe["rel_diff_vs_ours_at_n_256"] = agree
    recipe["load_average_after"] = load()

    res = {
        "n": args.n,
        "dtype": "float32",
        "ours_s": t_ours,
        "load_average_before_ours": load_ours,
        "ours_gflop": flops / 1e9,
        "ours_gflops_per_s": ours_gflops,
        "matmul_gflops_per_s": peak,
        "fraction_of_matmul": ours_gflops / peak,
        "float32_vs_float64_rel_err": rel32,
        "jacobian_contraction": recipe,
        "speedup_vs_jacobian_contraction": t_ref / t_ours,
        "reference_on_this_machine": {"neural_tangents_best_s": 0.116, "torch_func_s": 32.7},
        "target": {"ours_s": 0.06, "fraction_of_matmul": 0.5},
    }
    print(
        f"ours: {t_ours * 1e3:.1f} ms, {ours_gflops:.0f} GFLOP/s = "
        f"{ours_gflops / peak:.0%} of matmul ({peak:.0f} GFLOP/s)"
    )
    how = "measured" if ref_n == args.n else f"extrapolated by n^2 from n={ref_n}"
    print(f"torch.func Jacobian contraction: {t_ref:.1f} s ({how}): ours is {t_ref / t_ours:.0f}x faster")
    print(f"float32 vs float64 relative error {rel32:.1e}; recipe vs ours {agree:.1e}")
    save("ntk_mlp", res)


if __name__ == "__main__":
    main()
