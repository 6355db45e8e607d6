"""Conv layers in the structured NTK: per-sample gradient Gram (kept) vs patch Gram ⊙ signal Gram.

For one 3x3 'same' conv layer with input ``a (n, C_in, H, W)`` and back-propagated signal
``δ (n, C_out, H, W)`` (scalar output), both compute ``Σ_{p,p'} ⟨δ(p), δ'(p')⟩ ⟨patch(p), patch'(p')⟩``:

- ``grad``: per-sample gradients ``g_i = δ_i unfold(a_i)ᵀ`` by one batched matmul, then ``G Gᵀ``
  (``n P C_out C_in k²`` + ``n² C_out C_in k²`` FLOPs, ``n C_out C_in k²`` memory);
- ``patch``: the ``(nP, nP)`` Gram of patches times the ``(nP, nP)`` Gram of signals, summed over
  position pairs (``n² P² (C_in k² + C_out)`` FLOPs, ``n² P²`` memory).

Usage: ``python benchmarks/bench_ntk_conv.py``
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from _common import save, timeit

CASES = [  # (n, C_in, C_out, image size)
    (64, 64, 64, 4),
    (64, 32, 32, 8),
    (64, 16, 16, 16),
    (128, 3, 64, 8),
    (128, 64, 128, 8),
]


def grad_gram(a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    n = len(a)
    unf = F.unfold(a, 3, padding=1)  # (n, C_in 9, P)
    g = torch.bmm(d.flatten(2), unf.transpose(1, 2)).reshape(n, -1)  # (n, C_out C_in 9)
    return g @ g.T


def patch_gram(a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    n, p = len(a), a.shape[2] * a.shape[3]
    unf = F.unfold(a, 3, padding=1).transpose(1, 2).reshape(n * p, -1)  # (n P, C_in 9)
    sig = d.flatten(2).transpose(1, 2).reshape(n * p, -1)  # (n P, C_out)
    prod = (unf @ unf.T) * (sig @ sig.T)  # (n P, n P)
    return prod.view(n, p, n, p).sum(dim=(1, 3))


def main() -> None:
    g = torch.Generator().manual_seed(0)
    rows = []
    for n, cin, cout, s in CASES:
        a = torch.randn(n, cin, s, s, generator=g)
        d = torch.randn(n, cout, s, s, generator=g)
        ref = grad_gram(a.double(), d.double())
        err = float((patch_gram(a.double(), d.double()) - ref).norm() / ref.norm())
        t_grad = timeit(lambda a=a, d=d: grad_gram(a, d), repeat=3, warmup=1)
        t_patch = timeit(lambda a=a, d=d: patch_gram(a, d), repeat=3, warmup=1)
        row = {
            "n": n,
            "c_in": cin,
            "c_out": cout,
            "image": s,
            "grad_s": t_grad,
            "patch_s": t_patch,
            "patch_over_grad": t_patch / t_grad,
            "rel_diff": err,
        }
        rows.append(row)
        print(
            f"n={n} C_in={cin} C_out={cout} {s}x{s}: grad {t_grad * 1e3:.1f} ms, "
            f"patch {t_patch * 1e3:.1f} ms "
            f"(patch/grad = {t_patch / t_grad:.1f}); agree to {err:.1e}"
        )
    save("ntk_conv_layer", {"dtype": "float32", "rows": rows, "kept": "grad"})


if __name__ == "__main__":
    main()
