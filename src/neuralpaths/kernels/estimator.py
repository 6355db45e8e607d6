"""scikit-learn estimators for kernel ridge regression: :class:`KernelRegressor` and
:class:`KernelClassifier`.

Both solve ``(K + λ I) α = Y`` for the dual coefficients ``α`` by a Cholesky factorisation of
``K + λ I`` (``K = k(X, X)`` the training kernel, ``λ`` the ridge) and predict
``f(X*) = k(X*, X) α``. The kernel ``k`` is a callable, a name (the infinite-width ReLU
kernels of :mod:`neuralpaths.kernels.infinite` or a kernel of
:func:`sklearn.metrics.pairwise.pairwise_kernels`) or ``"precomputed"`` (``X`` *is* the kernel:
``K(X_train, X_train)`` in ``fit``, ``K(X_test, X_train)`` in ``predict``, e.g. an NPK or NTK of
a network from :func:`neuralpaths.kernels.npk` / :func:`neuralpaths.kernels.ntk`).

**scikit-learn conventions.** Subclasses of :class:`~sklearn.base.BaseEstimator` (``get_params``,
``set_params``, ``clone``, ``repr``) and :class:`~sklearn.base.RegressorMixin` /
:class:`~sklearn.base.ClassifierMixin` (``score``: ``R²`` / accuracy); ``__init__`` only stores
its arguments, which are validated in ``fit``; fitted state ends in ``_``; ``n_features_in_``
(and ``feature_names_in_`` for data frames) is set by ``fit`` and checked by ``predict``; with
``kernel="precomputed"`` the estimator is *pairwise* (``tags.input_tags.pairwise``), so
:func:`~sklearn.model_selection.cross_val_score`, :class:`~sklearn.model_selection.GridSearchCV`
etc. slice a precomputed kernel as ``K[train][:, train]`` and ``K[test][:, train]``. Both pass
:func:`sklearn.utils.estimator_checks.check_estimator` (with ``"precomputed"``, all but the two
checks of :data:`PRECOMPUTED_EXPECTED_FAILED_CHECKS`, which feed an indefinite "kernel").

**Arrays.** numpy arrays, lists and data frames are computed in float64 and give numpy results
(and numpy fitted state); torch tensors are computed on their device, in their dtype (float32 or
float64; other dtypes become float64), and give tensors (torch in → torch out, fitted state as
tensors). Inputs must be finite.

**Memory.** The solve copies the training kernel once (the copy is factorised in place and kept
as ``cholesky_``); with ``kernel="precomputed"`` a float64 numpy ``K`` (or a tensor) is used
without a conversion copy, so fitting on an ``(n, n)`` kernel needs one further ``8 n²`` bytes
(see ``benchmarks/bench_regression.py``). A kernel computed from features peaks at two ``(n, n)``
matrices (it and its copy) and is freed after the factorisation. The symmetry and finiteness
checks work on blocks of rows and need no further ``(n, n)`` memory.

Shape:
    ``X: (n, d)`` (``"precomputed"``: ``(n, n)``), ``y: (n,)`` or ``(n, k)``; ``predict``:
    ``(m, d)`` (``"precomputed"``: ``(m, n)``) ``-> (m,)`` / ``(m, k)``.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d
from torch import Tensor

from ..models.arch import Arch
from .infinite import npk_limit, relu_nngp, relu_ntk

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6

    def validate_data(_estimator, /, X="no_validation", y="no_validation", **kwargs):
        return _estimator._validate_data(X, y, **kwargs)


__all__ = [
    "KERNELS",
    "PRECOMPUTED_EXPECTED_FAILED_CHECKS",
    "KernelClassifier",
    "KernelRegressor",
    "cho_solve",
    "expected_failed_checks",
]

TORCH_KERNELS: dict[str, Callable[..., Tensor]] = {
    "relu_ntk": relu_ntk,
    "relu_nngp": relu_nngp,
    "npk_limit": npk_limit,
}
DEFAULT_DEPTH = 2  # depth (number of weight layers) of the named ReLU kernels unless kernel_params has one
_ARCH_FIRST = next(iter(inspect.signature(relu_ntk).parameters)) == "arch"  # kernel(arch, x1, x2)
KERNELS = ("precomputed", *TORCH_KERNELS, *sorted(PAIRWISE_KERNEL_FUNCTIONS))
_BLOCK_ENTRIES = 1 << 22  # entries per block of rows in the finiteness check
_TILE = 128  # tile size of the symmetry check (measured at n = 6000: 128 < 96 < 256 < rows)


# check_estimator checks that a pairwise (kernel="precomputed") estimator fails, and why
PRECOMPUTED_EXPECTED_FAILED_CHECKS = {
    "check_estimators_dtypes": "casts a precomputed Gram matrix to integers, which makes it indefinite; "
    "the Cholesky solve rejects it with a ValueError",
    "check_positive_only_tag_during_fit": "subtracts the mean from a precomputed Gram matrix, which makes "
    "it indefinite; the Cholesky solve rejects it with a ValueError",
}


def expected_failed_checks(estimator) -> dict[str, str]:
    """``{check name: reason}`` of the :func:`~sklearn.utils.estimator_checks.check_estimator`
    checks that ``estimator`` fails by design: none, or with ``kernel="precomputed"``
    :data:`PRECOMPUTED_EXPECTED_FAILED_CHECKS`. For ``check_estimator(est,
    expected_failed_checks=expected_failed_checks(est))`` and ``parametrize_with_checks(...,
    expected_failed_checks=expected_failed_checks)`` (scikit-learn >= 1.6; older versions read the
    ``_xfail_checks`` tag)."""
    if isinstance(estimator, _KernelRidge) and estimator._precomputed():
        return dict(PRECOMPUTED_EXPECTED_FAILED_CHECKS)
    return {}


def cho_solve(chol: Tensor, b: Tensor) -> Tensor:
    """``(L Lᵀ)⁻¹ b`` by two triangular solves (unlike ``torch.cholesky_solve``, no copy of ``L``).

    Shape:
        ``chol: (n, n)`` lower, ``b: (n, k) -> (n, k)``.
    """
    z = torch.linalg.solve_triangular(chol, b, upper=False)
    return torch.linalg.solve_triangular(chol.mT, z, upper=True)


def _cholesky(k: Tensor, ridge: float, jitter: str | float | None) -> tuple[Tensor, float]:
    """Lower Cholesky factor of ``k + (ridge + jitter) I`` and the jitter used.

    ``jitter="auto"`` tries ``0`` and then ``10^j · eps · mean|diag k|`` for ``j = 0..12``. One
    ``(n, n)`` copy of ``k`` at a time, factorised in place.
    """
    if jitter == "auto":
        scale = torch.finfo(k.dtype).eps * max(float(k.diagonal().abs().mean()), 1e-300)
        tries = [0.0] + [scale * 10**j for j in range(13)]
    else:
        tries = [float(jitter or 0.0)]
    info = torch.empty((), dtype=torch.int32, device=k.device)
    for jit in tries:
        a = k.clone(memory_format=torch.contiguous_format)  # the only n x n copy: factorised in place
        a.diagonal().add_(ridge + jit)
        at = a.mT  # column-major view of the symmetric matrix: LAPACK needs no further copy
        chol, _ = torch.linalg.cholesky_ex(at, out=(at, info))
        if int(info) == 0:
            return chol, jit
        del a, at, chol  # free the failed copy before the next one
    what = f"even with jitter up to {tries[-1]:.3g}" if len(tries) > 1 else "and jitter is off"
    raise ValueError(
        f"the training kernel + {ridge:g}·I is not positive definite (Cholesky failed {what}): check "
        "that the kernel is a positive semi-definite Gram matrix (a shifted, rounded or otherwise "
        "indefinite similarity is not), and for a singular one pass ridge > 0 or jitter='auto'"
    )


def _relu_kernel(name: str, A: Tensor, B: Tensor | None, params: dict) -> Tensor:
    """A named infinite-width kernel: ``params`` holds ``arch`` (an ``Arch`` or library model) or
    ``depth`` (default :data:`DEFAULT_DEPTH`), ``widths`` and ``bias`` of a fully connected net on
    ``A``'s features, and the kernel's own keywords (``sigma_w``, ``sigma_b``, ...)."""
    fn, params = TORCH_KERNELS[name], dict(params)
    net = {key: params.pop(key) for key in ("depth", "widths", "bias") if key in params}
    arch = params.pop("arch", None)
    if arch is not None and net:
        raise ValueError(f"kernel_params of {name!r}: give arch, or depth / widths / bias, not both")
    if arch is None and "widths" not in net and params.get("parameterization") == "standard":
        raise ValueError(
            f"kernel_params of {name!r}: parameterization='standard' needs the hidden widths "
            "(widths=int or a list) or an arch"
        )
    depth = net.pop("depth", DEFAULT_DEPTH)
    if not _ARCH_FIRST:  # the older kernel(x1, x2, depth=...) convention
        if arch is not None:
            depth = getattr(arch, "arch", arch).depth
        return fn(A, B, depth=depth, **net, **params)
    if arch is None:
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 2:
            raise ValueError(
                f"kernel_params of {name!r}: depth (weight layers) must be an int >= 2, got {depth!r}"
            )
        hidden = net.get("widths", 1)  # the "ntk" parameterisation does not use the widths
        hidden = [hidden] * (depth - 1) if isinstance(hidden, int) else list(hidden)
        if len(hidden) != depth - 1:
            raise ValueError(f"kernel_params of {name!r}: widths must give {depth - 1} hidden widths")
        bias = net.get("bias", params.get("sigma_b", 0.0) > 0)  # biases when they have a variance
        arch = Arch.mlp(A.shape[1], hidden, bias=bool(bias))
    return fn(arch, A, B, **params)


def _blocks(n_rows: int, n_cols: int):
    step = max(1, _BLOCK_ENTRIES // max(n_cols, 1))
    return range(0, n_rows, step), step


def _check_finite(t: Tensor, name: str) -> None:
    """Raise if ``t`` has a NaN or infinity (one reduction; the elementwise test only on failure)."""
    if t.numel() and not bool(torch.isfinite(t.sum())):
        starts, step = _blocks(len(t), t[0].numel() if t.ndim > 1 else 1)
        if any(not bool(torch.isfinite(t[s : s + step]).all()) for s in starts):
            raise ValueError(f"Input {name} contains NaN or infinity.")


def _asymmetry(k: Tensor) -> tuple[float, float, bool]:
    """``(max |K − Kᵀ|, scale, symmetric)`` of a square ``K``, symmetric meaning
    ``max |K − Kᵀ| <= √eps · scale`` with ``scale = max |diag K|`` (``max |K|`` if that is 0).

    Compares ``_TILE``-square tiles above the diagonal with the transposed ones below it (both stay
    in cache; several times faster than whole rows against strided columns), in one buffer."""
    n, b = len(k), _TILE
    buf = k.new_empty(min(n, b) ** 2)
    worst = k.new_zeros(())
    for i in range(0, n, b):
        for j in range(i, n, b):
            upper, lower = k[i : i + b, j : j + b], k[j : j + b, i : i + b]
            diff = buf[: upper.numel()].view(upper.shape)
            torch.sub(upper, lower.mT, out=diff)
            worst = torch.maximum(worst, torch.linalg.vector_norm(diff, float("inf")))
    scale = float(k.diagonal().abs().max()) if n else 0.0
    if scale == 0.0 and n:
        scale = max(float(torch.linalg.vector_norm(k[s : s + b], float("inf"))) for s in range(0, n, b))
    w = float(worst)
    return w, scale, w <= math.sqrt(torch.finfo(k.dtype).eps) * scale


def _check_symmetric(k: Tensor, what: str) -> None:
    """Raise unless ``K`` is symmetric (the Cholesky factorisation would read only one triangle)."""
    worst, scale, symmetric = _asymmetry(k)
    if not symmetric:
        raise ValueError(
            f"{what} is not symmetric (max |K - K^T| = {worst:.3g}, max |diag K| = {scale:.3g}); the "
            "training kernel must be the symmetric Gram matrix K(X_train, X_train)"
            + (
                " (the kernel between test and training points, K(X_test, X_train), goes to predict)"
                if what.startswith("the precomputed")
                else ""
            )
        )


def _from_numpy(a: np.ndarray) -> Tensor:
    """Zero-copy tensor view of a numpy array (read-only arrays are only read)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        try:
            return torch.from_numpy(a)
        except ValueError:  # negative strides
            return torch.from_numpy(np.ascontiguousarray(a))


def _as_output(t: Tensor, torch_out: bool):
    return t if torch_out else t.detach().cpu().numpy()


def _to_numpy(a):
    return a.detach().cpu().numpy() if isinstance(a, Tensor) else a


def _as_state(t: Tensor, like_torch: bool):
    """Fitted state in the kind of the training data (numpy views share memory with ``t``)."""
    return t if like_torch else t.cpu().numpy()


class _KernelRidge(BaseEstimator):
    """Shared fit / decision machinery of :class:`KernelRegressor` and :class:`KernelClassifier`."""

    def __init__(
        self,
        ridge: float = 0.0,
        *,
        kernel: str | Callable = "relu_ntk",
        kernel_params: Mapping | None = None,
        jitter: str | float | None = "auto",
    ):
        self.ridge = ridge
        self.kernel = kernel
        self.kernel_params = kernel_params
        self.jitter = jitter

    # ----------------------------------------------------------------- tags
    def _precomputed(self) -> bool:
        return isinstance(self.kernel, str) and self.kernel == "precomputed"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self._precomputed()
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"pairwise": self._precomputed(), "_xfail_checks": expected_failed_checks(self)}

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "dual_coef_")

    # ------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        name = type(self).__name__
        r = self.ridge
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not (r >= 0 and math.isfinite(r)):
            raise ValueError(f"{name}: ridge must be >= 0 (a finite real number), got {r!r}")
        j = self.jitter
        ok = j is None or (isinstance(j, str) and j == "auto")
        ok = ok or (isinstance(j, numbers.Real) and not isinstance(j, bool) and j >= 0 and math.isfinite(j))
        if not ok:
            raise ValueError(f"{name}: jitter must be 'auto', None or a float >= 0, got {j!r}")
        k = self.kernel
        if not (callable(k) or (isinstance(k, str) and k in KERNELS)):
            raise ValueError(
                f"{name}: kernel must be a callable kernel(X1, X2, **kernel_params) -> (n1, n2), "
                f"'precomputed', or one of {KERNELS[1:]}, got {k!r}"
            )
        if self.kernel_params is not None and not isinstance(self.kernel_params, Mapping):
            raise ValueError(f"{name}: kernel_params must be a dict or None, got {self.kernel_params!r}")
        if self._precomputed() and self.kernel_params:
            raise ValueError(f"{name}: kernel_params has no use with kernel='precomputed'")

    # ---------------------------------------------------------------- inputs
    def _check_tensor_X(self, X: Tensor, *, reset: bool) -> Tensor:
        name = type(self).__name__
        if X.layout != torch.strided:
            raise TypeError(f"{name} needs dense data: got a tensor with layout {X.layout}; use .to_dense()")
        if X.is_complex():
            raise ValueError("Complex data not supported")
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2-D tensor (n_samples, n_features), got shape {tuple(X.shape)}: reshape one "
                "feature with X.reshape(-1, 1), one sample with X.reshape(1, -1), images with X.flatten(1)"
            )
        if len(X) == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a minimum of 1 is required."
            )
        X = X.detach()
        if X.dtype not in (torch.float32, torch.float64):
            X = X.to(torch.float64)
        _check_finite(X, "X")
        if reset:
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(self._n_features_message(X.shape[1]))
        return X

    def _n_features_message(self, got: int) -> str:
        name, n = type(self).__name__, self.n_features_in_
        return f"X has {got} features, but {name} is expecting {n} features as input.{self._hint()}"

    def _hint(self) -> str:
        if not self._precomputed():
            return ""
        n = self.n_features_in_
        return (
            f" With kernel='precomputed', predict takes the kernel K(X_test, X_train) of shape (m, {n}) "
            f"between the test points and the {n} training points."
        )

    def _validate_X(self, X, *, reset: bool) -> Tensor:
        """``X`` for ``predict`` as a tensor (in the fitted dtype and on the fitted device)."""
        if isinstance(X, Tensor):
            X = self._check_tensor_X(X, reset=reset)
        else:
            try:
                X = _from_numpy(validate_data(self, X, reset=reset, dtype=np.float64))
            except ValueError as err:
                if str(err).startswith("X has ") and self._hint():
                    raise ValueError(f"{err}{self._hint()}") from None
                raise
        dual = self._dual_tensor()
        return X.to(device=dual.device, dtype=dual.dtype)

    def _validate_fit(self, X, y, *, classifier: bool) -> tuple[Tensor, object]:
        """``X`` as a tensor, and ``y`` (regression: a tensor like ``X``; classification: numpy labels)."""
        name = type(self).__name__
        if isinstance(X, Tensor):
            if y is None:
                raise ValueError(f"This {name} estimator requires y to be passed, but the target y is None.")
            X = self._check_tensor_X(X, reset=True)
            if classifier:
                y = column_or_1d(_to_numpy(y), warn=True)
                check_consistent_length(X, y)
            else:
                y = y.detach() if isinstance(y, Tensor) else torch.as_tensor(np.asarray(y, dtype=np.float64))
                if y.ndim not in (1, 2) or len(y) != len(X):
                    raise ValueError(
                        f"y must have shape ({len(X)},) or ({len(X)}, k) to match X ({len(X)} samples), "
                        f"got {tuple(y.shape)}"
                    )
                y = y.to(device=X.device, dtype=X.dtype)
                _check_finite(y, "y")
        else:
            y = _to_numpy(y)
            X, y = validate_data(
                self, X, y, dtype=np.float64, multi_output=not classifier, y_numeric=not classifier
            )
            X = _from_numpy(X)
            if not classifier:
                y = _from_numpy(np.asarray(y, dtype=np.float64))
        if self._precomputed() and X.shape[0] != X.shape[1]:
            raise ValueError(
                f"kernel='precomputed' needs the square training kernel K(X_train, X_train) of shape "
                f"(n, n) in fit, got shape {tuple(X.shape)}"
            )
        return X, y

    # --------------------------------------------------------------- kernels
    def _kernel(self, A: Tensor, B: Tensor | None) -> Tensor:
        """``k(A, B)`` (``B=None``: the training kernel ``k(A, A)``)."""
        kernel, params = self.kernel, dict(self.kernel_params or {})
        if callable(kernel):
            out = kernel(A, A if B is None else B, **params)
        elif kernel in TORCH_KERNELS:
            out = _relu_kernel(kernel, A, B, params)
        else:  # scikit-learn's pairwise kernels, on numpy
            b = None if B is None else _to_numpy(B)
            out = pairwise_kernels(_to_numpy(A), b, metric=kernel, filter_params=False, **params)
        out = out.detach() if isinstance(out, Tensor) else torch.as_tensor(np.asarray(out))
        want = (len(A), len(A) if B is None else len(B))
        if tuple(out.shape) != want:
            raise ValueError(f"the kernel {kernel!r} returned shape {tuple(out.shape)}, expected {want}")
        out = out.to(device=A.device, dtype=A.dtype)
        _check_finite(out, "kernel")
        return out

    # ------------------------------------------------------------------ solve
    def _solve(self, X: Tensor, Y: Tensor, torch_out: bool) -> None:
        """Fit ``dual_coef_`` (and ``X_fit_``, ``jitter_``, ``cholesky_``) on validated inputs."""
        if self._precomputed():
            K = X
            _check_symmetric(K, "the precomputed training kernel X")
        else:
            if X.shape[0] == X.shape[1] > 2 and _asymmetry(X)[2]:
                warnings.warn(
                    f"{type(self).__name__} got a symmetric (n, n) X with kernel={self.kernel!r}: X is read "
                    "as n samples of n features. If X is a kernel matrix, pass kernel='precomputed'.",
                    UserWarning,
                    stacklevel=3,
                )
            K = self._kernel(X, None)
            _check_symmetric(K, f"the training kernel of kernel={self.kernel!r}")
        n = len(K)
        chol, self.jitter_ = _cholesky(K, float(self.ridge), self.jitter)
        del K
        dual = cho_solve(chol, Y.reshape(n, -1)).reshape(Y.shape)
        self.cholesky_ = _as_state(chol, torch_out)
        self.dual_coef_ = _as_state(dual, torch_out)
        if self._precomputed():
            if hasattr(self, "X_fit_"):
                del self.X_fit_
        else:
            self.X_fit_ = _as_state(X, torch_out)

    def _dual_tensor(self) -> Tensor:
        d = self.dual_coef_
        return d if isinstance(d, Tensor) else _from_numpy(d)

    def _decision(self, X) -> Tensor:
        """``k(X, X_fit) α`` as a tensor."""
        check_is_fitted(self)
        Xt = self._validate_X(X, reset=False)
        if self._precomputed():
            kt = Xt
        else:
            xf = self.X_fit_
            kt = self._kernel(Xt, xf if isinstance(xf, Tensor) else _from_numpy(xf))
        return kt @ self._dual_tensor()

    @property
    def alpha_(self):
        """Deprecated alias of ``dual_coef_`` (scikit-learn's ``alpha`` is a ridge)."""
        warnings.warn(
            "alpha_ is deprecated: use dual_coef_ (the dual coefficients)", DeprecationWarning, stacklevel=2
        )
        return self.dual_coef_


class KernelRegressor(RegressorMixin, _KernelRidge):
    """Kernel ridge regression: ``α = (K + (ridge + jitter) I)⁻¹ y``, ``f(x) = k(x, X_train) α``.

    A scikit-learn estimator (see the module docstring for the conventions): use it in
    :class:`~sklearn.pipeline.Pipeline`, :class:`~sklearn.model_selection.GridSearchCV`
    (``{"krr__ridge": [...]}``), :func:`~sklearn.model_selection.cross_val_score`.
    ``KernelRegressor().fit(X, y)`` on raw features ``(n, d)`` uses the infinite-width NTK of a
    ReLU network with one hidden layer; a kernel matrix needs ``kernel="precomputed"`` (a
    symmetric square ``X`` with another kernel gets a warning). With ``ridge = 0`` it
    interpolates the training data: the ``t → ∞`` limit of kernel gradient descent,
    :func:`neuralpaths.kernels.gd_predict` (on a rank-deficient kernel the ridge-less solution is
    ill-conditioned: use ``ridge > 0``, or ``gd_predict`` at ``t = ∞`` for the minimum-norm one).

    :func:`~sklearn.utils.estimator_checks.check_estimator` passes every check with the named
    and callable kernels. With ``kernel="precomputed"`` two checks are expected to fail
    (:func:`expected_failed_checks` gives them to ``check_estimator`` /
    ``parametrize_with_checks``), both because they feed an indefinite "kernel":

    - ``check_estimators_dtypes``: casts the Gram matrix to integers, which makes it indefinite.
    - ``check_positive_only_tag_during_fit``: subtracts the mean from the Gram matrix, likewise.

    Parameters:
        ridge: the ridge ``λ ≥ 0`` added to the diagonal of the training kernel (scikit-learn's
            ``KernelRidge(alpha=...)``). ``0`` is ridge-less (minimum-norm) regression.
        kernel: ``k(x, x')``. ``"precomputed"``: ``X`` is the kernel, ``K(X_train, X_train)``
            ``(n, n)`` in ``fit`` (checked to be symmetric) and ``K(X_test, X_train)`` ``(m, n)`` in
            ``predict``. ``"relu_ntk"`` (default), ``"relu_nngp"``, ``"npk_limit"``: the
            infinite-width kernels of :mod:`neuralpaths.kernels.infinite` of a fully connected
            net on the ``d`` features, ``depth = 2`` weight layers unless ``kernel_params`` gives
            ``depth`` (and ``widths``, ``bias``) or an ``arch``. ``"rbf"``, ``"linear"``,
            ``"poly"``, ``"laplacian"``, ... : :func:`sklearn.metrics.pairwise.pairwise_kernels`
            (computed in numpy). A callable ``kernel(X1, X2, **kernel_params)``: called with two
            2-D tensors (on the CPU in float64 for numpy data) and returning the ``(n1, n2)``
            kernel (tensor or array); in ``fit`` ``X1`` and ``X2`` are both the training data.
        kernel_params: keyword arguments of the kernel, e.g. ``{"depth": 4, "sigma_b": 0.1}``,
            ``{"arch": Arch.mlp(d, [512, 512]), "parameterization": "standard"}`` or
            ``{"gamma": 0.5}``; ``None`` for none. Not with ``"precomputed"``.
        jitter: what to do when ``K + λ I`` is not numerically positive definite (Cholesky fails):
            ``"auto"`` retries with ``jitter = 10^j · eps · mean|diag K|`` for ``j = 0, 1, ..., 12``
            (``eps`` of the dtype); ``None`` or ``0`` raises; a float is always added.

    Attributes:
        dual_coef_: ``α``, ``(n,)`` or ``(n, k)`` like ``y`` (numpy or tensor like the data);
            ``alpha_`` is a deprecated alias.
        X_fit_: the training data ``(n, d)`` (not with ``kernel="precomputed"``).
        n_features_in_: ``d`` (``"precomputed"``: ``n``, the columns ``predict`` expects).
        feature_names_in_: column names of a data frame ``X``.
        jitter_: the jitter that was added (``0.0`` if none).
        cholesky_: lower Cholesky factor of ``K + (λ + jitter_) I``, ``(n, n)``.

    Shape:
        ``fit``: ``X: (n, d)`` (``"precomputed"``: ``(n, n)``), ``y: (n,)`` or ``(n, k)``;
        ``predict``: ``X: (m, d)`` (``"precomputed"``: ``(m, n)``) ``-> (m,)`` or ``(m, k)``.
        numpy in → numpy out, torch in → torch out.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {**super()._more_tags(), "multioutput": True}

    def fit(self, X, y) -> KernelRegressor:
        """Solve ``(K + λ I) α = y``. Shape: ``X: (n, d)`` or ``(n, n)``, ``y: (n,) | (n, k)``."""
        self._check_params()
        torch_out = isinstance(X, Tensor)
        X, y = self._validate_fit(X, y, classifier=False)
        self._solve(X, y, torch_out)
        return self

    def predict(self, X):
        """``k(X, X_train) α``. Shape: ``(m, d)`` or ``(m, n)`` ``-> (m,)`` or ``(m, k)``."""
        return _as_output(self._decision(X), isinstance(X, Tensor))

    def score(self, X, y, sample_weight=None) -> float:
        """Coefficient of determination ``R²`` (uniform average over outputs), as scikit-learn."""
        pred = _to_numpy(self.predict(X))
        return float(r2_score(_to_numpy(y), pred, sample_weight=_to_numpy(sample_weight)))


class KernelClassifier(ClassifierMixin, _KernelRidge):
    """Classification by kernel ridge regression on ``±1`` targets (as scikit-learn's
    ``RidgeClassifier``): two classes regress ``y ∈ {−1, +1}`` (``+1`` for ``classes_[1]``) and
    predict by the sign; ``C > 2`` classes regress one-vs-rest targets ``(n, C)`` (``+1`` at the
    class, ``−1`` elsewhere) and predict by the argmax.

    Parameters, fitted attributes and conventions as :class:`KernelRegressor`, with the labels
    in ``classes_`` and ``dual_coef_`` of shape ``(n,)`` (two classes) or ``(n, C)``.
    :func:`~sklearn.utils.estimator_checks.check_estimator` passes every check with the named and
    callable kernels; with ``kernel="precomputed"`` the same two as for :class:`KernelRegressor`
    are expected to fail, for the same reason (they feed an indefinite "kernel"):

    - ``check_estimators_dtypes``: casts the Gram matrix to integers, which makes it indefinite.
    - ``check_positive_only_tag_during_fit``: subtracts the mean from the Gram matrix, likewise.

    Shape:
        ``fit``: ``X: (n, d)`` (``"precomputed"``: ``(n, n)``), labels ``y: (n,)``;
        ``decision_function``: ``(m, d)`` or ``(m, n)`` ``-> (m,)`` (two classes) or ``(m, C)``;
        ``predict`` ``-> (m,)`` labels. Torch in → torch out (labels as a tensor when they are
        numbers).
    """

    def fit(self, X, y) -> KernelClassifier:
        """Solve ``(K + λ I) α = Y`` for the ``±1`` targets of the labels ``y``."""
        self._check_params()
        torch_out = isinstance(X, Tensor)
        X, y = self._validate_fit(X, y, classifier=True)
        check_classification_targets(y)
        self.classes_, idx = np.unique(y, return_inverse=True)
        c = len(self.classes_)
        if c < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, got 1 class: {self.classes_[0]}"
            )
        idx = torch.as_tensor(idx.reshape(-1), device=X.device)
        if c == 2:
            targets = torch.where(idx == 1, 1.0, -1.0).to(X.dtype)
        else:
            targets = torch.full((len(idx), c), -1.0, dtype=X.dtype, device=X.device)
            targets[torch.arange(len(idx), device=X.device), idx] = 1.0
        self._solve(X, targets, torch_out)
        return self

    def decision_function(self, X):
        """Scores ``k(X, X_train) α``: ``(m,)`` (positive: ``classes_[1]``) or ``(m, C)``."""
        return _as_output(self._decision(X), isinstance(X, Tensor))

    def predict(self, X):
        """Labels: ``classes_[score > 0]`` (two classes) or ``classes_[argmax score]``."""
        scores = self._decision(X)
        idx = (scores > 0).long() if scores.ndim == 1 else scores.argmax(1)
        labels = self.classes_[idx.cpu().numpy()]
        if isinstance(X, Tensor) and labels.dtype.kind in "biuf":
            return torch.as_tensor(labels, device=scores.device)
        return labels

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy, as scikit-learn classifiers."""
        pred = _to_numpy(self.predict(X))
        return float(accuracy_score(_to_numpy(y), pred, sample_weight=_to_numpy(sample_weight)))
