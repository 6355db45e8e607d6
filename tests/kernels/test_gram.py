"""The tiled Gram engine equals the dense formula Σ_t (Π_f A_f A_fᵀ + c_f) ⊙ S_t, tile by tile."""

import pytest
import torch

from neuralpaths.kernels import gram
from neuralpaths.kernels.gram import Factor, Term, gram_into, mirror_lower_, tiled_kernel


def _dense(terms1, terms2, k):
    """The kernel written out with full (n1 k, n2 k) matrices."""
    n1, n2 = len(terms1[0].factors[0].feats), len(terms2[0].factors[0].feats)
    out = torch.zeros(n1, k, n2, k, dtype=torch.float64)
    for t1, t2 in zip(terms1, terms2):
        prod = torch.ones(n1, n2, dtype=torch.float64)
        for a, b in zip(t1.factors, t2.factors):
            prod = prod * ((a.feats @ b.feats.T if a.feats is not None else 0.0) + a.const)
        if t1.signal is None:
            sig = torch.eye(k, dtype=torch.float64)[None, :, None, :].expand(n1, k, n2, k)
        else:
            sig = torch.einsum("akq,blq->akbl", t1.signal, t2.signal)
        out += prod[:, None, :, None] * sig
    return out.reshape(n1 * k, n2 * k)


def _make_terms(k, seed=0):
    """Feature maps of every kind the engine knows (fixed random projections of x)."""
    g = torch.Generator().manual_seed(seed)
    w = [torch.randn(4, p, generator=g, dtype=torch.float64) for p in (3, 5, 2, 6)]
    s = torch.randn(4, k * 3, generator=g, dtype=torch.float64)

    def make(x):
        a, b, c, d = (x @ wi for wi in w)
        sig = (x @ s).view(len(x), k, 3)
        return [
            Term([Factor(a), Factor(b, 1.0)], sig),  # product of factors, one with a constant, times signals
            Term([Factor(c)], None),  # identity over outputs
            Term([Factor(None, 2.5), Factor(d)], sig.tanh()),  # a constant factor
            Term([Factor(None, 1.0)], sig**2),  # signal only
            Term([Factor(d)]),  # a single factor: added by the matrix product itself
        ]

    return make


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("block", [None, 1, 2, 5])
def test_tiled_kernel_equals_dense_formula(k, block):
    make = _make_terms(k)
    if k == 1:  # as the NTK does for one output: signals become factors
        inner = make

        def make(x):
            return [
                Term([*t.factors, Factor(t.signal[:, 0])]) if t.signal is not None else t for t in inner(x)
            ]

    x1 = torch.randn(7, 4, dtype=torch.float64)
    x2 = torch.randn(5, 4, dtype=torch.float64)
    want_sym = _dense(make(x1), make(x1), k)
    want_cross = _dense(make(x1), make(x2), k)
    assert torch.allclose(tiled_kernel(make, x1, None, k, block_size=block, progress=False), want_sym)
    assert torch.allclose(tiled_kernel(make, x1, x2, k, block_size=block, progress=False), want_cross)


def test_no_cache_path_recomputes_the_same(monkeypatch):
    make = _make_terms(2, seed=1)
    calls = []

    def counting(x):
        calls.append(len(x))
        return make(x)

    x = torch.randn(9, 4, dtype=torch.float64)
    want = tiled_kernel(make, x, None, 2, block_size=3, progress=False)
    monkeypatch.setattr(gram, "_CACHE_BYTES", 0)
    got = tiled_kernel(counting, x, None, 2, block_size=3, progress=False)
    assert torch.allclose(got, want, rtol=1e-13)
    assert len(calls) == 3 + 3  # 3 row blocks + the 3 column blocks right of the diagonal


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gram_into_symmetric_fills_the_lower_triangle(monkeypatch, dtype):
    monkeypatch.setattr(gram, "_LEAF", 2)
    a = torch.randn(6, 4, dtype=dtype)
    out = torch.full((6, 6), 7.0, dtype=dtype)
    gram_into(a, None, out)
    want = a @ a.T
    assert torch.allclose(out.tril(), want.tril(), rtol=1e-5)
    gram_into(a, None, out, accumulate=True)
    assert torch.allclose(out.tril(), 2 * want.tril(), rtol=1e-5)
    assert torch.allclose(mirror_lower_(out), 2 * want, rtol=1e-5)


@pytest.mark.parametrize("mode", ["blocks", "full"])
def test_every_symmetric_gram_mode_gives_the_same_kernel(monkeypatch, mode):
    """The recursive lower-triangle product (small leaves to exercise it) and the full product."""
    monkeypatch.setattr(gram, "_LEAF", 2)
    a = torch.randn(11, 4, dtype=torch.float64)
    out = torch.full((11, 11), 3.0, dtype=torch.float64)
    gram_into(a, None, out, symmetric=mode)
    assert torch.allclose(out.tril(), (a @ a.T).tril())
    gram_into(a, None, out, accumulate=True, symmetric=mode)
    assert torch.allclose(out.tril(), 2 * (a @ a.T).tril())
    make = _make_terms(2, seed=3)
    x = torch.randn(9, 4, dtype=torch.float64)
    want = _dense(make(x), make(x), 2)
    got = tiled_kernel(make, x, None, 2, block_size=4, progress=False, symmetric=mode)
    assert torch.allclose(got, want)
    with pytest.raises(ValueError, match="unknown symmetric mode 'half'"):
        tiled_kernel(make, x, None, 2, symmetric="half")
