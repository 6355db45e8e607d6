"""Empirical NTK of plain ``nn.Module`` networks, float32, CPU, n = 1024 (x2 = None).

Three comparisons, each in one process with interleaved rounds (best of each):

1. ``nn.Sequential`` MLP 784-512-512-512-1 with biases (the layer-wise form read from forward
   hooks, :mod:`neuralpaths.kernels.ntk_modules`) against the library's own ``MLP(..., bias=True)``
   (the hand-written structured path) with the same weights. Target: ≤ 1.3x the native time.
2. A residual MLP (784 -> 256, two blocks ``x + W2 relu(W1 x)``, -> 1) against torch.func's
   Jacobian contraction (the PyTorch tutorial's recipe). Target: ≥ 20x.
3. A conv net with max-pooling on 1x28x28 (conv 16 -> pool -> conv 32 -> pool -> 128 -> 1) against
   the same recipe. Target: ≥ 3x. Also a conv-only net with global average pooling (every
   parameter in a conv layer), where both methods spend their time on the same Gram of per-sample
   conv gradients: the honest worst case.

Usage: ``python benchmarks/bench_ntk_modules.py [--n 1024] [--rounds 3]``
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from _common import load, save, timeit
from bench_ntk import jacobian_contraction
from neuralpaths import MLP, ntk


class Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, x):
        return torch.relu(x + self.fc2(torch.relu(self.fc1(x))))


def residual_mlp(d_in: int = 784, width: int = 256) -> nn.Module:
    return nn.Sequential(nn.Linear(d_in, width), nn.ReLU(), Block(width), Block(width), nn.Linear(width, 1))


def maxpool_convnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 1),
    )


def gap_convnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, stride=2),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, stride=2),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 1),
    )


def sequential_copy(native: MLP) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, m in enumerate(native.layers):
        lin = nn.Linear(m.in_features, m.out_features)
        lin.load_state_dict(m.state_dict())
        layers += [lin, nn.ReLU()] if i < len(native.layers) - 1 else [lin]
    return nn.Sequential(*layers)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def versus_native(x: torch.Tensor, rounds: int) -> dict:
    native = MLP(784, (512, 512, 512), 1, bias=True, seed=0)
    seq = sequential_copy(native)
    t_nat = t_seq = float("inf")
    for _ in range(rounds):
        t_nat = min(t_nat, timeit(lambda: ntk(native, x), repeat=5, warmup=1, budget=3.0))
        t_seq = min(t_seq, timeit(lambda: ntk(seq, x), repeat=5, warmup=1, budget=3.0))
    diff = rel(ntk(seq, x), ntk(native, x))
    print(f"[1] MLP 784-512x3-1 + biases: native {t_nat * 1e3:.1f} ms, nn.Sequential {t_seq * 1e3:.1f} ms")
    print(f"    ratio {t_seq / t_nat:.2f}x (target <= 1.3x); kernels differ by {diff:.1e}")
    return {"native_s": t_nat, "sequential_s": t_seq, "ratio": t_seq / t_nat, "rel_diff": diff, "target": 1.3}


def versus_torch_func(name: str, net: nn.Module, x: torch.Tensor, rounds: int, target: float) -> dict:
    t_ours = float("inf")
    for _ in range(rounds):
        t_ours = min(t_ours, timeit(lambda: ntk(net, x), repeat=3, warmup=1, budget=3.0))
    before = load()
    t_ref = timeit(lambda: jacobian_contraction(net, x, x), repeat=1, warmup=0)
    diff = rel(ntk(net, x[:256]), jacobian_contraction(net, x[:256], x[:256]))
    params = sum(p.numel() for p in net.parameters())
    print(
        f"[{name}] {params:,} parameters: ours {t_ours:.3f} s, torch.func {t_ref:.2f} s -> "
        f"{t_ref / t_ours:.1f}x (target >= {target:g}x); kernels differ by {diff:.1e}"
    )
    return {
        "parameters": params,
        "ours_s": t_ours,
        "torch_func_s": t_ref,
        "speedup": t_ref / t_ours,
        "rel_diff_at_n_256": diff,
        "load_average_before_torch_func": before,
        "target": target,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(0)
    x_flat = torch.rand(args.n, 784, generator=g)
    x_img = x_flat.view(args.n, 1, 28, 28)  # (n, 784) -> (n, 1, 28, 28)
    res = {"n": args.n, "dtype": "float32", "load_average_start": load()}
    res["sequential_vs_native_mlp"] = versus_native(x_flat, args.rounds)
    res["residual_mlp"] = versus_torch_func("2", residual_mlp(), x_flat, args.rounds, 20)
    res["maxpool_convnet"] = versus_torch_func("3", maxpool_convnet(), x_img, args.rounds, 3)
    res["gap_convnet"] = versus_torch_func("3b", gap_convnet(), x_img, args.rounds, 3)
    save("ntk_modules", res)


if __name__ == "__main__":
    main()
