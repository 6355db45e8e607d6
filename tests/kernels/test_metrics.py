"""Kernel metrics against direct numpy formulas, and their invariances."""

import numpy as np
import pytest
import torch

from neuralpaths.kernels import effective_rank, kernel_alignment, nu, spectrum, target_alignment


def _psd(n=8, rank=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, rank or n, generator=g, dtype=torch.float64)
    return a @ a.T


def _y(n=8, k=None, seed=1):
    g = torch.Generator().manual_seed(seed)
    shape = (n,) if k is None else (n, k)
    return torch.randn(shape, generator=g, dtype=torch.float64)


def test_nu_equals_direct_formula():
    k, y = _psd(), _y()
    kn = k.numpy() / np.trace(k.numpy())
    assert nu(k, y) == pytest.approx(float(y.numpy() @ np.linalg.inv(kn) @ y.numpy()), rel=1e-10)
    assert nu(k, y, normalize=False) == pytest.approx(float(y.numpy() @ np.linalg.inv(k.numpy()) @ y.numpy()))
    assert nu(3.7 * k, y) == pytest.approx(nu(k, y), rel=1e-12)  # trace normalisation: scale-free


def test_nu_multi_column_sum_and_per_column():
    k, y = _psd(), _y(k=3)
    per = nu(k, y, reduction="none")
    assert per.shape == (3,)
    assert torch.allclose(per, torch.tensor([nu(k, y[:, j]) for j in range(3)], dtype=torch.float64))
    assert nu(k, y) == pytest.approx(float(per.sum()))


def test_nu_singular_kernel_needs_ridge():
    k, y = _psd(rank=3), _y()
    with pytest.raises(ValueError, match="not positive definite.*ridge > 0"):
        nu(k, y)
    kn = k / k.trace() + 0.1 * torch.eye(8, dtype=torch.float64)
    assert nu(k, y, ridge=0.1) == pytest.approx(float(y @ torch.linalg.solve(kn, y)))


def test_alignment_formulas_and_invariances():
    k1, k2, y = _psd(seed=2), _psd(seed=3), _y()
    a, b = k1.numpy(), k2.numpy()
    assert kernel_alignment(k1, k2) == pytest.approx((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))
    h = np.eye(8) - 1 / 8
    ac, bc = h @ a @ h, h @ b @ h
    assert kernel_alignment(k1, k2, centered=True) == pytest.approx(
        (ac * bc).sum() / np.linalg.norm(ac) / np.linalg.norm(bc)
    )
    assert kernel_alignment(k1, k1) == pytest.approx(1.0)
    assert kernel_alignment(5 * k1, 0.1 * k2) == pytest.approx(kernel_alignment(k1, k2))
    # target alignment is the alignment with y yᵀ; invariant to the sign and scale of y
    assert target_alignment(k1, y) == pytest.approx(kernel_alignment(k1, torch.outer(y, y)))
    assert target_alignment(k1, -3 * y) == pytest.approx(target_alignment(k1, y))
    assert target_alignment(k1, y, centered=True) == pytest.approx(
        kernel_alignment(k1, torch.outer(y, y), centered=True)
    )
    ys = _y(k=2)
    assert target_alignment(k1, ys) == pytest.approx(kernel_alignment(k1, ys @ ys.T))
    # centring removes a constant added to the kernel
    assert kernel_alignment(k1 + 7.0, k2, centered=True) == pytest.approx(
        kernel_alignment(k1, k2, centered=True)
    )


def test_spectrum_and_effective_rank():
    k = _psd()
    lam = spectrum(k)
    assert torch.allclose(lam, torch.tensor(np.sort(np.linalg.eigvalsh(k.numpy()))[::-1].copy()))
    assert spectrum(k, normalize=True).sum() == pytest.approx(1.0)
    p = lam.numpy() / lam.numpy().sum()
    assert effective_rank(k) == pytest.approx(float(np.exp(-(p * np.log(p)).sum())))
    assert effective_rank(k, "participation") == pytest.approx(float(lam.sum() ** 2 / (lam**2).sum()))
    # r equal eigenvalues: both definitions give r; scale-invariant
    proj = _psd(rank=3)
    q, _ = torch.linalg.qr(torch.randn(8, 3, dtype=torch.float64))
    proj = 2.5 * q @ q.T
    for kind in ("entropy", "participation"):
        assert effective_rank(proj, kind) == pytest.approx(3.0, rel=1e-8)
        assert effective_rank(4 * k, kind) == pytest.approx(effective_rank(k, kind))
    with pytest.raises(ValueError, match="unknown effective rank"):
        effective_rank(k, "stable")


def test_metric_input_errors():
    with pytest.raises(ValueError, match="square"):
        nu(torch.ones(3, 4, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="different sizes"):
        kernel_alignment(_psd(4), _psd(5))
    with pytest.raises(ValueError, match="unknown reduction"):
        nu(_psd(), _y(), reduction="mean")


def test_centred_target_alignment_equals_the_explicit_centring():
    """The memory-saving form (no n × n temporaries) equals ``⟨HKH, HYYᵀH⟩ / (‖HKH‖ ‖HYYᵀH‖)``."""
    g = torch.Generator().manual_seed(2)
    a = torch.randn(30, 8, generator=g, dtype=torch.float64)
    k = a @ a.T + 3.0  # a constant offset: centring matters
    y = torch.nn.functional.one_hot(torch.randint(0, 4, (30,), generator=g), 4).double()
    h = torch.eye(30, dtype=torch.float64) - 1.0 / 30
    hkh, hyy = h @ k @ h, h @ y @ y.T @ h
    want = float((hkh * hyy).sum() / (hkh.norm() * hyy.norm()))
    assert target_alignment(k, y, centered=True) == pytest.approx(want, rel=1e-12)
    assert target_alignment(k, y, centered=False) != pytest.approx(want, rel=1e-3)
