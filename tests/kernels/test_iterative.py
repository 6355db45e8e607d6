"""The iterative kernel ridge solver (PCG with a randomly pivoted Cholesky preconditioner, kernel
by blocks): equal to the Cholesky solve, the preconditioner's effect, the automatic choice, the
recorded residual and iterations, the blockwise operator and the parameter errors."""

import weakref

import numpy as np
import pytest
import torch

from neuralpaths.kernels import KernelClassifier, KernelRegressor, relu_ntk
from neuralpaths.kernels import operator as operator_module
from neuralpaths.kernels.operator import deal
from neuralpaths.kernels.solvers import (
    KernelOperator,
    Nystrom,
    blocked_product,
    choose_solver,
    memory_budget,
    pcg,
    rp_cholesky,
    solve,
)
from neuralpaths.models import Arch

F64 = torch.float64


def _data(n: int = 600, d: int = 8, k: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    y = torch.randn(n, k, generator=g, dtype=F64)
    return x, y, torch.randn(50, d, generator=g, dtype=F64)


def _rbf(a, b, gamma: float = 0.1):
    return torch.exp(-gamma * torch.cdist(a, b) ** 2)


def _rel(a, b) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize(
    "kernel, params",
    [("relu_ntk", {"depth": 3}), (_rbf, None), ("precomputed", None)],
    ids=["relu_ntk", "callable", "precomputed"],
)
def test_iterative_equals_cholesky(kernel, params):
    x, y, xt = _data()
    if kernel == "precomputed":
        arch = Arch.mlp(8, [4, 4])
        x, xt = relu_ntk(arch, x), relu_ntk(arch, xt, x)
    common = {"ridge": 1e-3, "kernel": kernel, "kernel_params": params}
    exact = KernelRegressor(**common, solver="cholesky").fit(x, y)
    it = KernelRegressor(**common, solver="iterative", tol=1e-12, rank=50, memory_budget=10**6).fit(x, y)
    assert exact.solver_ == "cholesky" and it.solver_ == "iterative"
    assert _rel(it.dual_coef_, exact.dual_coef_) < 1e-6
    assert _rel(it.predict(xt), exact.predict(xt)) < 1e-6
    assert it.residual_ <= 1e-12 * 10 and 0 < it.n_iter_ < 1000
    assert exact.n_iter_ == 1 and exact.residual_ < 1e-10
    assert not hasattr(it, "cholesky_") and hasattr(exact, "cholesky_")


@pytest.mark.parametrize("ridge, jitter", [(0.0, 1e-4), (1e-2, "auto")])
def test_ridgeless_with_jitter_and_ridge(ridge, jitter):
    x, y, xt = _data(n=500, k=1)
    y = y[:, 0]  # one target column: (n,) in, (m,) out
    common = {"ridge": ridge, "jitter": jitter, "kernel": _rbf}
    exact = KernelRegressor(**common, solver="cholesky").fit(x, y)
    it = KernelRegressor(**common, solver="iterative", tol=1e-12, rank=100).fit(x, y)
    assert it.dual_coef_.shape == (500,) and it.predict(xt).shape == (50,)
    assert it.jitter_ == exact.jitter_ == (jitter if ridge == 0 else 0.0)
    assert _rel(it.predict(xt), exact.predict(xt)) < 1e-6


def test_preconditioner_reduces_the_iterations():
    x, y, _ = _data(n=1000)
    op = KernelOperator(K=relu_ntk(Arch.mlp(8, [4, 4]), x))
    plain = solve(op, y, 1e-4, tol=1e-8, max_iter=5000, rank=0)
    pre = solve(op, y, 1e-4, tol=1e-8, max_iter=5000, rank=200)
    assert plain.residual <= 1e-7 and pre.residual <= 1e-7
    assert pre.n_iter * 3 < plain.n_iter, (pre.n_iter, plain.n_iter)
    assert pre.passes == pre.n_iter + 1  # one product per iteration and the final residual
    assert _rel(pre.solution, plain.solution) < 1e-5


def test_max_iter_stops_and_records_the_residual():
    x, y, _ = _data()
    reg = KernelRegressor(ridge=1e-6, kernel=_rbf, solver="iterative", rank=0, max_iter=3).fit(x, y)
    assert reg.n_iter_ == 3 and reg.residual_ > 1e-6


def test_auto_picks_cholesky_when_it_fits_and_iterative_under_a_small_budget():
    x, y, xt = _data(n=300)
    small = KernelRegressor(ridge=1e-3).fit(x, y)
    assert small.solver_ == "cholesky"
    tight = KernelRegressor(ridge=1e-3, memory_budget=8 * 300 * 300).fit(x, y)  # one matrix, not two
    assert tight.solver_ == "iterative"
    assert _rel(tight.predict(xt), small.predict(xt)) < 1e-5 and tight.residual_ <= 1e-6
    assert choose_solver(300, 8 * 300 * 300, precomputed=True) == "cholesky"
    assert choose_solver(300, 8 * 300 * 300 - 1, precomputed=True) == "iterative"
    assert memory_budget(None) > 0 and memory_budget(123) == 123


def test_numpy_and_torch_io_and_the_classifier():
    x, _, xt = _data(n=400)
    labels = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()  # three classes
    common = {"ridge": 1e-3, "kernel": "relu_ntk"}
    exact = KernelClassifier(**common).fit(x.numpy(), labels.numpy())
    it = KernelClassifier(**common, solver="iterative", tol=1e-12).fit(x.numpy(), labels.numpy())
    assert isinstance(it.dual_coef_, np.ndarray) and isinstance(it.decision_function(xt.numpy()), np.ndarray)
    np.testing.assert_allclose(
        it.decision_function(xt.numpy()), exact.decision_function(xt.numpy()), rtol=1e-6
    )
    assert it.score(x.numpy(), labels.numpy()) == exact.score(x.numpy(), labels.numpy())
    t = KernelClassifier(**common, solver="iterative").fit(x.float(), labels)
    assert isinstance(t.predict(xt.float()), torch.Tensor) and t.dual_coef_.dtype == torch.float32


def test_operator_stored_in_part_and_float32_and_its_columns():
    x, _, _ = _data(n=700)
    K = _rbf(x, x)
    v = torch.randn(700, 4, dtype=F64)
    full = KernelOperator(_rbf, x, block_rows=64)
    part = KernelOperator(_rbf, x, block_rows=64, budget=200_000, store_dtype=F64)
    assert KernelOperator(_rbf, x, block_rows=64, budget=200_000).store_dtype == torch.float32
    f32 = KernelOperator(_rbf, x, block_rows=64, store_dtype=torch.float32)
    assert full.stored_fraction == 1.0 and 0 < part.stored_fraction < 1 and full.store_dtype == F64
    for op, tol in ((full, 1e-12), (part, 1e-12), (f32, 1e-6)):
        torch.testing.assert_close(op.matvec(v), K @ v, rtol=tol, atol=tol)
        torch.testing.assert_close(op.diagonal(), K.diagonal(), rtol=tol, atol=tol)
    idx = torch.tensor([0, 5, 699, 64])
    torch.testing.assert_close(full.columns(idx), K[:, idx])
    with pytest.raises(ValueError, match="either K or both kernel and X"):
        KernelOperator(_rbf)


@pytest.mark.parametrize("store", [F64, torch.float32])
def test_threaded_products_equal_the_sequential_one_and_repeat_exactly(store, monkeypatch):
    """Blocks dealt to worker threads (each with its own output, summed in a fixed order) give the
    sequential product up to rounding, and the same bits at every call; 1000-entry tiles cut the
    120-row blocks into many 8-column tiles (the last ones narrower) and one block is recomputed
    per product."""
    monkeypatch.setattr(operator_module, "CHUNK_ENTRIES", 1000)
    x, _, _ = _data(n=500)
    K = _rbf(x, x)
    v = torch.randn(500, 3, dtype=F64)
    # blocks of 120 rows: (120, 120), (120, 240), (120, 360), (120, 480) stored, (20, 500) recomputed
    budget = 120 * (120 + 240 + 360 + 480) * torch.empty((), dtype=store).element_size()
    ops = {
        t: KernelOperator(_rbf, x, block_rows=120, store_dtype=store, threads=t, budget=budget)
        for t in (1, 2, 3)
    }
    assert ops[1].blocks[-1] is None and ops[1].blocks[-2] is not None
    assert ops[1]._tiles(360, 480)[:2] == [(0, 8), (8, 16)] and ops[1]._tiles(360, 480)[-1] == (472, 480)
    seq = ops[1].matvec(v)
    tol = 1e-12 if store == F64 else 1e-6  # float32: the kernel rounded to float32
    torch.testing.assert_close(seq, K @ v, rtol=tol, atol=tol)
    for t in (2, 3):
        first = ops[t].matvec(v)
        torch.testing.assert_close(first, seq, rtol=1e-13, atol=1e-13)
        assert torch.equal(ops[t].matvec(v), first)
    before = torch.get_num_threads()
    ops[2].matvec(v)
    assert torch.get_num_threads() == before  # the BLAS threads are given back


def test_deal_balances_the_blocks():
    groups = deal([1, 2, 3, 4, 5, 6, 7, 8], 2)
    assert sorted(i for g in groups for i in g) == list(range(8)) and all(g == sorted(g) for g in groups)
    assert [sum(i + 1 for i in g) for g in groups] == [18, 18]
    assert deal([5], 3) == [[0]]


def test_rp_cholesky_is_exact_at_full_rank_and_the_nystrom_preconditioner():
    x, _, _ = _data(n=200, d=3)
    K = _rbf(x, x, gamma=1.0)
    op = KernelOperator(K=K)
    F = rp_cholesky(op, 200, block=30)
    assert _rel(F @ F.T, K) < 1e-6
    low = rp_cholesky(op, 40)
    assert low.shape == (200, 40) and _rel(low @ low.T, K) < 0.5
    pre = Nystrom.from_factor(F, mu=1e-3)  # exact Nyström: P⁻¹ ∝ (K + μI)⁻¹
    r = torch.randn(200, 2, dtype=F64)
    z = pre((K + 1e-3 * torch.eye(200, dtype=F64)) @ r)
    scale = float(pre.lam[0] + 1e-3)
    assert _rel(z, scale * r) < 1e-4


def test_blocked_product_equals_the_whole_product():
    x, y, xt = _data(n=300)
    want = _rbf(xt, x) @ y
    torch.testing.assert_close(blocked_product(_rbf, xt, x, y, entries=1000), want)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"solver": "qr"}, "solver must be one of"),
        ({"tol": 0.0}, "tol .* must be in"),
        ({"tol": "small"}, "tol .* must be in"),
        ({"max_iter": 0}, "max_iter must be an int >= 1"),
        ({"max_iter": 2.5}, "max_iter must be an int >= 1"),
        ({"rank": -1}, "rank .* must be an int >= 0 or None"),
        ({"memory_budget": -5}, "memory_budget must be a number of bytes"),
    ],
)
def test_bad_solver_parameters(params, match):
    x, y, _ = _data(n=20)
    reg = KernelRegressor(**params)  # validated in fit, not at construction
    with pytest.raises(ValueError, match=match):
        reg.fit(x, y)


def test_a_float32_store_does_not_keep_the_float64_blocks_alive():
    """Building the store holds at most the block being converted (a kept view of each float64 block
    once doubled the peak memory: 22 GB instead of 7 GB at n = 60 000)."""
    refs, alive = [], []
    X = torch.randn(300, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        alive.append(sum(r() is not None for r in refs))
        out = a @ b.T + 1.0
        refs.append(weakref.ref(out))
        return out

    KernelOperator(kernel, X, store_dtype=torch.float32, block_rows=50)
    assert len(alive) == 6 and max(alive) <= 1


def test_converged_columns_leave_the_product():
    """A column that has converged is no longer multiplied; the others still reach the solution."""
    g = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(40, 40, generator=g, dtype=F64))
    A = Q @ torch.diag(torch.linspace(1, 100, 40, dtype=F64)) @ Q.T
    B = torch.stack([Q[:, 0], torch.randn(40, generator=g, dtype=F64)], 1)  # an eigenvector: 1 step
    widths = []

    def matvec(V):
        widths.append(V.shape[1])
        return A @ V

    X, it = pcg(matvec, B, None, tol=1e-10, max_iter=200)
    assert widths[0] == 2 and widths[-1] == 1 and it > 2
    torch.testing.assert_close(X, torch.linalg.solve(A, B), rtol=1e-8, atol=1e-10)
