"""KernelRegressor / KernelClassifier as scikit-learn estimators: check_estimator, Pipeline, GridSearchCV,
cross_val_score (raw features and precomputed kernels), numpy / torch in and out, the exact Cholesky
solve, parameter validation in fit."""

import inspect
import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_predict, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from neuralpaths import MLP, Arch
from neuralpaths.kernels import KernelClassifier, KernelRegressor, npk, ntk
from neuralpaths.kernels import relu_nngp as _relu_nngp
from neuralpaths.kernels import relu_ntk as _relu_ntk
from neuralpaths.kernels.estimator import PRECOMPUTED_EXPECTED_FAILED_CHECKS, expected_failed_checks

F64 = torch.float64
ESTIMATORS = [
    KernelRegressor(),
    KernelRegressor(kernel="rbf", ridge=1e-3),
    KernelRegressor(kernel="relu_nngp", kernel_params={"depth": 3, "sigma_b": 0.1}, ridge=1e-6),
    KernelRegressor(kernel="precomputed", ridge=1e-3),
    KernelClassifier(),
    KernelClassifier(kernel="precomputed", ridge=1e-3),
    KernelRegressor(ridge=1e-3, solver="iterative", tol=1e-12, rank=5),
    KernelClassifier(kernel="rbf", ridge=1e-3, solver="iterative", tol=1e-12),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("est", [e for e in ESTIMATORS if e.kernel == "precomputed"], ids=repr)
def test_expected_failed_checks_are_exactly_the_failing_ones(est):
    results = check_estimator(est, on_fail=None, on_skip=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert failed == set(PRECOMPUTED_EXPECTED_FAILED_CHECKS)
    assert expected_failed_checks(est) == PRECOMPUTED_EXPECTED_FAILED_CHECKS
    assert expected_failed_checks(KernelRegressor()) == {}


def _by_depth(fn):
    """``fn(x1, x2=None, depth=...)`` of a fully connected net on ``x1``'s features."""
    arch_first = next(iter(inspect.signature(fn).parameters)) == "arch"

    def kernel(x1, x2=None, *, depth, **kw):
        if arch_first:
            return fn(Arch.mlp(x1.shape[1], [1] * (depth - 1)), x1, x2, **kw)
        return fn(x1, x2, depth=depth, **kw)

    return kernel


relu_ntk, relu_nngp = _by_depth(_relu_ntk), _by_depth(_relu_nngp)


def _data(n=40, d=5, k=None, seed=0):
    x, y = make_regression(n_samples=n, n_features=d, n_targets=k or 1, noise=0.1, random_state=seed)
    return x, y / y.std()


def test_default_fit_on_raw_features_is_the_relu_ntk():
    x, y = _data()
    reg = KernelRegressor().fit(x, y)
    assert reg.n_features_in_ == 5 and reg.X_fit_ is not None and reg.jitter_ == 0.0
    xt = torch.as_tensor(x)
    want = KernelRegressor(kernel="precomputed").fit(relu_ntk(xt, depth=2).numpy(), y)
    np.testing.assert_allclose(reg.dual_coef_, want.dual_coef_, rtol=1e-10)
    np.testing.assert_allclose(reg.predict(x[:7]), relu_ntk(xt[:7], xt, depth=2).numpy() @ reg.dual_coef_)
    assert reg.score(x, y) == pytest.approx(1.0)  # ridge 0: interpolation


def test_named_and_callable_kernels():
    x, y = _data()
    xt = torch.as_tensor(x)
    named = KernelRegressor(ridge=0.1, kernel="relu_ntk", kernel_params={"depth": 4, "sigma_b": 0.5})
    calls = []

    def kern(a, b, *, depth):
        calls.append((type(a), a.dtype, a.shape, b.shape))
        return relu_ntk(a, b, depth=depth, sigma_b=0.5)

    func = KernelRegressor(ridge=0.1, kernel=kern, kernel_params={"depth": 4})
    p1, p2 = named.fit(x, y).predict(x[:6]), func.fit(x, y).predict(x[:6])
    np.testing.assert_allclose(p1, p2, rtol=1e-10)
    assert calls[0] == (torch.Tensor, F64, (40, 5), (40, 5)) and calls[1][2:] == ((6, 5), (40, 5))
    k = relu_nngp(xt, depth=3).numpy()
    np.testing.assert_allclose(
        KernelRegressor(ridge=0.1, kernel="relu_nngp", kernel_params={"depth": 3}).fit(x, y).dual_coef_,
        KernelRegressor(ridge=0.1, kernel="precomputed").fit(k, y).dual_coef_,
        rtol=1e-10,
    )
    # scikit-learn's pairwise kernels agree with its KernelRidge (its alpha is our ridge)
    for name, params in [("rbf", {"gamma": 0.3}), ("linear", {}), ("poly", {"degree": 2})]:
        ours = KernelRegressor(ridge=0.5, kernel=name, kernel_params=params or None).fit(x, y)
        theirs = KernelRidge(alpha=0.5, kernel=name, **params).fit(x, y)
        np.testing.assert_allclose(ours.predict(x[:9]), theirs.predict(x[:9]), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ours.dual_coef_, theirs.dual_coef_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("kernel", ["relu_ntk", "precomputed"])
@pytest.mark.parametrize("k", [None, 3])
def test_solve_is_exact_in_float64(kernel, k):
    """``(K + ridge I) dual_coef_ = y`` to 1e-10, single and multi-output."""
    x, y = _data(n=60, k=k)
    xt = torch.as_tensor(x)
    K = relu_ntk(xt, depth=3).numpy()
    reg = KernelRegressor(
        ridge=1e-2, kernel=kernel, kernel_params=None if kernel == "precomputed" else {"depth": 3}
    )
    reg.fit(K if kernel == "precomputed" else x, y)
    assert reg.jitter_ == 0.0 and reg.dual_coef_.shape == y.shape and reg.dual_coef_.dtype == np.float64
    resid = (K + 1e-2 * np.eye(60)) @ reg.dual_coef_ - y
    assert np.abs(resid).max() < 1e-10
    np.testing.assert_allclose(reg.cholesky_ @ reg.cholesky_.T, K + 1e-2 * np.eye(60), rtol=1e-12, atol=1e-12)


def test_numpy_in_numpy_out_and_torch_in_torch_out():
    x, y = _data(k=2)
    reg = KernelRegressor(ridge=0.1).fit(x, y)
    assert isinstance(reg.dual_coef_, np.ndarray) and isinstance(reg.X_fit_, np.ndarray)
    out = reg.predict(x[:5])
    assert isinstance(out, np.ndarray) and out.shape == (5, 2) and out.dtype == np.float64
    assert isinstance(reg.predict(x[:5].tolist()), np.ndarray)  # lists count as numpy
    t = reg.predict(torch.as_tensor(x[:5]))  # torch in, torch out, also after a numpy fit
    assert isinstance(t, torch.Tensor) and t.dtype == F64
    np.testing.assert_allclose(t.numpy(), out, rtol=1e-12)

    tx, ty = torch.as_tensor(x), torch.as_tensor(y)
    treg = KernelRegressor(ridge=0.1).fit(tx, ty)
    assert isinstance(treg.dual_coef_, torch.Tensor) and isinstance(treg.X_fit_, torch.Tensor)
    tout = treg.predict(tx[:5])
    assert isinstance(tout, torch.Tensor) and tout.shape == (5, 2)
    np.testing.assert_allclose(tout.numpy(), out, rtol=1e-10)
    assert isinstance(treg.predict(x[:5]), np.ndarray)
    # float32 tensors stay float32; integer tensors become float64
    f32 = KernelRegressor(ridge=0.1).fit(tx.float(), ty.float())
    assert f32.dual_coef_.dtype == torch.float32 and f32.predict(tx[:3]).dtype == torch.float32
    np.testing.assert_allclose(f32.predict(tx[:5].float()).numpy(), out, rtol=1e-3, atol=1e-3)
    ints = KernelRegressor(ridge=0.1).fit(tx.round().long(), ty)
    assert ints.dual_coef_.dtype == F64
    # a numpy precomputed fit: the torch view shares the caller's memory and leaves it unchanged
    K = relu_ntk(tx, depth=2).numpy()
    K0 = K.copy()
    KernelRegressor(kernel="precomputed").fit(K, y)
    assert np.array_equal(K, K0)


@pytest.mark.parametrize("shape", [(40,), (40, 1), (40, 3)])
def test_multi_output_shapes(shape):
    x, _ = _data()
    y = np.random.default_rng(0).normal(size=shape)
    reg = KernelRegressor(ridge=1e-3).fit(x, y)
    assert reg.dual_coef_.shape == shape and reg.predict(x[:4]).shape == (4, *shape[1:])
    if len(shape) == 2:  # each output is its own regression
        for j in range(shape[1]):
            col = KernelRegressor(ridge=1e-3).fit(x, y[:, j]).predict(x[:4])
            np.testing.assert_allclose(reg.predict(x[:4])[:, j], col, rtol=1e-10, atol=1e-12)


def test_pipeline_grid_search_and_cross_val_score_on_numpy():
    x, y = _data(n=60, d=6, seed=1)
    pipe = Pipeline([("scale", StandardScaler()), ("krr", KernelRegressor())])
    grid = GridSearchCV(pipe, {"krr__ridge": [1e-3, 1e-1, 10.0]}, cv=KFold(3, shuffle=True, random_state=0))
    grid.fit(x, y)
    assert grid.best_params_["krr__ridge"] in (1e-3, 1e-1, 10.0)
    assert isinstance(grid.predict(x[:5]), np.ndarray) and grid.best_score_ > 0.5
    scores = cross_val_score(pipe.set_params(krr__ridge=0.1), x, y, cv=4)
    assert scores.shape == (4,) and np.all(np.isfinite(scores)) and scores.mean() > 0.5
    # the grid search also reaches the kernel's parameters
    grid2 = GridSearchCV(
        pipe, {"krr__kernel_params": [{"depth": 2}, {"depth": 5}], "krr__ridge": [0.1]}, cv=3
    )
    assert grid2.fit(x, y).best_params_["krr__kernel_params"]["depth"] in (2, 5)


@pytest.mark.parametrize("kind", ["ntk", "npk"])
def test_precomputed_kernel_of_a_model_in_cross_val_score(kind):
    """A pairwise estimator: scikit-learn slices K[train][:, train] and K[test][:, train]."""
    net = MLP(3, [8, 8], 1, seed=0).double()
    x = torch.randn(36, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    y = x[:, 0] - 0.5 * x[:, 1] + 0.2 * x[:, 2] ** 2
    K = (ntk(net, x) if kind == "ntk" else npk(net, x)).numpy()
    K = (K + K.T) / 2  # the kernels are symmetric to rounding; exactly so for the comparison below
    reg = KernelRegressor(kernel="precomputed", ridge=1e-3 * np.trace(K) / len(K))
    assert get_tags(reg).input_tags.pairwise and not get_tags(KernelRegressor()).input_tags.pairwise
    cv = KFold(4, shuffle=True, random_state=0)
    scores = cross_val_score(reg, K, y.numpy(), cv=cv)
    for (tr, te), s in zip(cv.split(K), scores):
        by_hand = clone(reg).fit(K[np.ix_(tr, tr)], y.numpy()[tr]).score(K[np.ix_(te, tr)], y.numpy()[te])
        assert s == pytest.approx(by_hand, rel=1e-10)
    pred = cross_val_predict(reg, K, y.numpy(), cv=cv)
    assert pred.shape == (36,) and np.corrcoef(pred, y.numpy())[0, 1] > 0.5
    grid = GridSearchCV(reg, {"ridge": [1e-4, 1e-2, 1.0]}, cv=cv).fit(K, y.numpy())
    assert isinstance(grid.predict(K[:5]), np.ndarray)


def test_parameters_are_validated_in_fit_not_init():
    x, y = _data()
    K = relu_ntk(torch.as_tensor(x), depth=2).numpy()
    bad = [
        ({"ridge": -1.0}, ValueError, "ridge must be >= 0"),
        ({"ridge": math.nan}, ValueError, "ridge must be >= 0"),
        ({"ridge": "big"}, ValueError, "ridge must be >= 0"),
        ({"jitter": -1e-3}, ValueError, "jitter must be 'auto', None or a float >= 0"),
        ({"jitter": "big"}, ValueError, "jitter must be"),
        ({"kernel": "relu"}, ValueError, "kernel must be a callable.*'precomputed', or one of"),
        ({"kernel_params": [("depth", 3)]}, ValueError, "kernel_params must be a dict"),
        ({"kernel": "relu_ntk", "kernel_params": {"width": 3}}, TypeError, "width"),
    ]
    for params, err, match in bad:
        reg = KernelRegressor(**params)  # no error at construction
        assert reg.get_params()[next(iter(params))] is next(iter(params.values()))
        with pytest.raises(err, match=match):
            reg.fit(x, y)
    with pytest.raises(ValueError, match="kernel_params has no use with kernel='precomputed'"):
        KernelRegressor(kernel="precomputed", kernel_params={"depth": 2}).fit(K, y)


def test_clear_errors_for_bad_kernels_and_non_finite_data():
    x, y = _data()
    xt = torch.as_tensor(x)
    K = relu_ntk(xt, depth=2)
    pre = KernelRegressor(kernel="precomputed")
    # a square but non-symmetric training kernel (the kernel between two different sets of points)
    k_ab = relu_ntk(xt, torch.as_tensor(_data(seed=3)[0]), depth=2)
    for k in (k_ab, k_ab.numpy(), np.triu(K.numpy())):
        with pytest.raises(ValueError, match=r"not symmetric.*K\(X_test, X_train\), goes to predict"):
            pre.fit(k, y)
    # symmetric to rounding is accepted
    pre.fit(K + 1e-14 * torch.rand(40, 40, dtype=F64), y)
    with pytest.raises(ValueError, match=r"square training kernel.*got shape \(40, 5\)"):
        pre.fit(x, y)
    for bad in (math.nan, math.inf):
        kb = K.clone()
        kb[3, 4] = kb[4, 3] = bad
        with pytest.raises(ValueError, match="NaN or infinity"):
            pre.fit(kb, y)
        with pytest.raises(ValueError, match="NaN|infinity"):
            pre.fit(kb.numpy(), y)
        xb = x.copy()
        xb[2, 1] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            KernelRegressor().fit(xb, y)
        with pytest.raises(ValueError, match="NaN or infinity"):
            KernelRegressor().fit(torch.as_tensor(xb), torch.as_tensor(y))
        yb = y.copy()
        yb[0] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            KernelRegressor().fit(x, yb)
        with pytest.raises(ValueError, match="NaN or infinity"):
            KernelRegressor().fit(xt, torch.as_tensor(yb))
        fitted = KernelRegressor().fit(x, y)
        with pytest.raises(ValueError, match="NaN|infinity"):
            fitted.predict(xb)
    with pytest.raises(ValueError, match=r"NaN or infinity"):
        KernelRegressor(kernel=lambda a, b: torch.full((len(a), len(b)), math.nan, dtype=F64)).fit(x, y)
    with pytest.raises(ValueError, match=r"returned shape \(40, 39\), expected \(40, 40\)"):
        KernelRegressor(kernel=lambda a, b: (a @ b.T)[:, 1:]).fit(x, y)
    with pytest.raises(ValueError, match=r"Expected a 2-D tensor"):
        KernelRegressor().fit(xt[:, 0], torch.as_tensor(y))
    with pytest.raises(ValueError, match=r"y must have shape \(40,\) or \(40, k\)"):
        KernelRegressor().fit(xt, torch.as_tensor(y[:-1]))
    fitted = KernelRegressor().fit(xt, torch.as_tensor(y))
    with pytest.raises(ValueError, match="X has 4 features, but KernelRegressor is expecting 5"):
        fitted.predict(xt[:, :4])
    with pytest.raises(NotFittedError):
        KernelRegressor().predict(x)


def test_sklearn_api_from_base_estimator():
    for cls in (KernelRegressor, KernelClassifier):
        assert "get_params" not in vars(cls) and "set_params" not in vars(cls)
    reg = KernelRegressor(ridge=0.5, kernel="rbf", kernel_params={"gamma": 0.1})
    assert reg.get_params() == {
        "ridge": 0.5,
        "kernel": "rbf",
        "kernel_params": {"gamma": 0.1},
        "jitter": "auto",
        "solver": "auto",
        "tol": 1e-6,
        "max_iter": 1000,
        "rank": None,
        "memory_budget": None,
    }
    assert repr(reg) == "KernelRegressor(kernel='rbf', kernel_params={'gamma': 0.1}, ridge=0.5)"
    assert clone(reg).get_params() == reg.get_params()
    x, y = _data()
    reg.fit(x, y)
    assert not hasattr(clone(reg), "dual_coef_")
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(x[:3]), reg.predict(x[:3]))
    with pytest.warns(DeprecationWarning, match="alpha_ is deprecated"):
        assert reg.alpha_ is reg.dual_coef_
    # refitting on a precomputed kernel drops the training features
    reg.set_params(kernel="precomputed", kernel_params=None).fit(relu_ntk(torch.as_tensor(x), depth=2), y)
    assert not hasattr(reg, "X_fit_") and reg.n_features_in_ == 40
    assert get_tags(KernelRegressor()).target_tags.multi_output


def test_classifier_is_ridge_regression_on_pm1_targets():
    x, labels = make_blobs(n_samples=60, centers=3, n_features=4, random_state=0)
    names = np.array(["cat", "dog", "emu"])[labels]
    clf = KernelClassifier(ridge=0.1).fit(x, names)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    scores = clf.decision_function(x[:10])
    assert scores.shape == (10, 3) and isinstance(scores, np.ndarray)
    targets = np.where(np.arange(3) == labels[:, None], 1.0, -1.0)
    reg = KernelRegressor(ridge=0.1).fit(x, targets)
    np.testing.assert_allclose(scores, reg.predict(x[:10]), rtol=1e-10)
    assert list(clf.predict(x[:10])) == list(clf.classes_[scores.argmax(1)])
    assert clf.score(x, names) == 1.0
    # two classes: one score column, positive for classes_[1]
    bin_clf = KernelClassifier(ridge=0.1).fit(x, labels == 2)
    s = bin_clf.decision_function(x)
    assert s.shape == (60,) and np.array_equal(bin_clf.predict(x), s > 0)
    np.testing.assert_allclose(
        s, KernelRegressor(ridge=0.1).fit(x, np.where(labels == 2, 1.0, -1.0)).predict(x), rtol=1e-10
    )
    # torch in, torch out (numeric labels)
    tclf = KernelClassifier(ridge=0.1).fit(torch.as_tensor(x), torch.as_tensor(labels))
    tp = tclf.predict(torch.as_tensor(x[:10]))
    assert isinstance(tp, torch.Tensor) and tp.tolist() == list(labels[:10])
    assert isinstance(tclf.decision_function(torch.as_tensor(x[:10])), torch.Tensor)
    acc = cross_val_score(
        Pipeline([("s", StandardScaler()), ("k", KernelClassifier(ridge=0.1))]), x, names, cv=3
    )
    assert acc.mean() > 0.9
    with pytest.raises(ValueError, match="at least 2 classes"):
        KernelClassifier().fit(x, np.zeros(60))
    with pytest.raises(ValueError, match="Unknown label type"):
        KernelClassifier().fit(x, np.linspace(0, 1, 60))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_stay_on_the_device():
    x, y = _data(n=50, k=2)
    tx, ty = torch.as_tensor(x, device="cuda"), torch.as_tensor(y, device="cuda")
    for kernel in ("relu_ntk", "rbf"):
        reg = KernelRegressor(ridge=1e-2, kernel=kernel).fit(tx, ty)
        pred = reg.predict(tx[:7])
        assert reg.dual_coef_.is_cuda and pred.is_cuda and pred.shape == (7, 2)
        cpu = KernelRegressor(ridge=1e-2, kernel=kernel).fit(x, y).predict(x[:7])
        np.testing.assert_allclose(pred.cpu().numpy(), cpu, rtol=1e-8, atol=1e-10)
    K = relu_ntk(tx, depth=2)
    reg = KernelRegressor(ridge=1e-2, kernel="precomputed").fit(K, ty)
    resid = (K + 1e-2 * torch.eye(50, device="cuda", dtype=F64)) @ reg.dual_coef_ - ty
    assert float(resid.abs().max()) < 1e-10
    clf = KernelClassifier(ridge=0.1).fit(tx, torch.as_tensor(y[:, 0] > 0, device="cuda"))
    assert clf.predict(tx).is_cuda


def test_kernel_params_of_the_relu_kernels_and_a_kernel_matrix_warning():
    x, y = _data()
    xt = torch.as_tensor(x)
    by_depth = KernelRegressor(ridge=0.1, kernel_params={"depth": 3}).fit(x, y)
    by_arch = KernelRegressor(ridge=0.1, kernel_params={"arch": Arch.mlp(5, [64, 64])}).fit(x, y)
    np.testing.assert_allclose(by_depth.dual_coef_, by_arch.dual_coef_, rtol=1e-12)
    std = {"parameterization": "standard", "widths": [64, 32]}
    KernelRegressor(ridge=0.1, kernel_params={"depth": 3, **std}).fit(x, y)
    with pytest.raises(ValueError, match="'standard' needs the hidden widths"):
        KernelRegressor(kernel_params={"parameterization": "standard"}).fit(x, y)
    with pytest.raises(ValueError, match="give arch, or depth / widths / bias, not both"):
        KernelRegressor(kernel_params={"arch": Arch.mlp(5, [8]), "depth": 3}).fit(x, y)
    with pytest.raises(ValueError, match="widths must give 2 hidden widths"):
        KernelRegressor(kernel_params={"depth": 3, "widths": [4]}).fit(x, y)
    # a kernel matrix passed with a feature kernel is read as features: a warning says so
    K = relu_ntk(xt, depth=2)
    with pytest.warns(UserWarning, match="symmetric \\(n, n\\) X.*pass kernel='precomputed'"):
        KernelRegressor(ridge=0.1).fit(K, torch.as_tensor(y))


def test_old_import_paths():
    from neuralpaths.kernels import regression

    assert regression.KernelRegressor is KernelRegressor and regression.KernelClassifier is KernelClassifier
    chol = torch.linalg.cholesky(torch.tensor([[4.0, 2.0], [2.0, 3.0]], dtype=F64))
    b = torch.tensor([[1.0], [2.0]], dtype=F64)
    torch.testing.assert_close(chol @ chol.T @ regression.cho_solve(chol, b), b)
