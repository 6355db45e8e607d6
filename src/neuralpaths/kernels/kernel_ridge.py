"""What :class:`~neuralpaths.kernels.KernelRegressor` and :class:`~neuralpaths.kernels.KernelClassifier`
share: parameter and array validation (numpy in → numpy out, torch in → torch out), the kernel
(callable, named or precomputed), the Cholesky solve of ``(K + λ I) α = Y`` and the decision
function ``k(X*, X) α``; and the scikit-learn checks the precomputed estimators fail by design.

Shape:
    ``X: (n, d)`` (``"precomputed"``: ``(n, n)``), ``Y: (n, k)`` -> ``dual_coef_: (n, k)``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d
from torch import Tensor

from ..checks import asymmetry
from .named import KERNELS, TORCH_KERNELS, relu_kernel
from .ridge import check_finite_blocks, check_symmetric, cho_solve, cholesky_ridge
from .solvers import (
    BLOCK_ENTRIES,
    KernelOperator,
    blocked_product,
    check_solver_params,
    choose_solver,
    default_rank,
)
from .solvers import solve as solve_iterative

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6

    def validate_data(_estimator, /, X="no_validation", y="no_validation", **kwargs):
        return _estimator._validate_data(X, y, **kwargs)


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


def from_numpy(a: np.ndarray) -> Tensor:
    """Zero-copy tensor view of a numpy array (read-only arrays are only read)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        try:
            return torch.from_numpy(a)
        except ValueError:  # negative strides
            return torch.from_numpy(np.ascontiguousarray(a))


def as_output(t: Tensor, torch_out: bool):
    return t if torch_out else t.detach().cpu().numpy()


def to_numpy(a):
    return a.detach().cpu().numpy() if isinstance(a, Tensor) else a


def as_state(t: Tensor, like_torch: bool):
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
        solver: str = "auto",
        tol: float = 1e-6,
        max_iter: int = 1000,
        rank: int | None = None,
        memory_budget: int | None = None,
    ):
        self.ridge = ridge
        self.kernel = kernel
        self.kernel_params = kernel_params
        self.jitter = jitter
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.rank = rank
        self.memory_budget = memory_budget

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
        check_solver_params(self)

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
        check_finite_blocks(X, "X")
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
                X = from_numpy(validate_data(self, X, reset=reset, dtype=np.float64))
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
                y = column_or_1d(to_numpy(y), warn=True)
                check_consistent_length(X, y)
            else:
                y = y.detach() if isinstance(y, Tensor) else torch.as_tensor(np.asarray(y, dtype=np.float64))
                if y.ndim not in (1, 2) or len(y) != len(X):
                    raise ValueError(
                        f"y must have shape ({len(X)},) or ({len(X)}, k) to match X ({len(X)} samples), "
                        f"got {tuple(y.shape)}"
                    )
                y = y.to(device=X.device, dtype=X.dtype)
                check_finite_blocks(y, "y")
        else:
            y = to_numpy(y)
            X, y = validate_data(
                self, X, y, dtype=np.float64, multi_output=not classifier, y_numeric=not classifier
            )
            X = from_numpy(X)
            if not classifier:
                y = from_numpy(np.asarray(y, dtype=np.float64))
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
            out = relu_kernel(kernel, A, B, params)
        else:  # scikit-learn's pairwise kernels, on numpy
            b = None if B is None else to_numpy(B)
            out = pairwise_kernels(to_numpy(A), b, metric=kernel, filter_params=False, **params)
        out = out.detach() if isinstance(out, Tensor) else torch.as_tensor(np.asarray(out))
        want = (len(A), len(A) if B is None else len(B))
        if tuple(out.shape) != want:
            raise ValueError(f"the kernel {kernel!r} returned shape {tuple(out.shape)}, expected {want}")
        out = out.to(device=A.device, dtype=A.dtype)
        check_finite_blocks(out, "kernel")
        return out

    # ------------------------------------------------------------------ solve
    def _solve(self, X: Tensor, Y: Tensor, torch_out: bool) -> None:
        """Fit ``dual_coef_`` (and ``X_fit_``, ``jitter_``, ``solver_``, ``n_iter_``, ``residual_``,
        ``cholesky_`` for the Cholesky solver) on validated inputs."""
        n = len(X)
        solver = self.solver
        if solver == "auto":
            solver = choose_solver(n, self.memory_budget, precomputed=self._precomputed())
        if self._precomputed():
            check_symmetric(X, "the precomputed training kernel X")
        elif X.shape[0] == X.shape[1] > 2 and asymmetry(X)[2]:
            warnings.warn(
                f"{type(self).__name__} got a symmetric (n, n) X with kernel={self.kernel!r}: X is read "
                "as n samples of n features. If X is a kernel matrix, pass kernel='precomputed'.",
                UserWarning,
                stacklevel=3,
            )
        Y2 = Y.reshape(n, -1)
        if solver == "cholesky":
            if self._precomputed():
                K = X
            else:
                K = self._kernel(X, None)
                check_symmetric(K, f"the training kernel of kernel={self.kernel!r}")
            chol, self.jitter_ = cholesky_ridge(K, float(self.ridge), self.jitter)
            del K
            dual = cho_solve(chol, Y2)
            fit = chol @ (chol.mT @ dual) - Y2
            self.n_iter_ = 1  # one direct solve (scikit-learn: n_iter_ >= 1 when there is max_iter)
            self.cholesky_ = as_state(chol, torch_out)
        else:
            if self._precomputed():
                op = KernelOperator(K=X)
            else:
                op = KernelOperator(self._kernel, X, budget=self.memory_budget)
            self.jitter_ = self._iterative_jitter(op)
            shift = float(self.ridge) + self.jitter_
            rank = default_rank(n) if self.rank is None else self.rank
            res = solve_iterative(op, Y2, shift, tol=self.tol, max_iter=self.max_iter, rank=rank)
            dual, fit = res.solution, None
            self.n_iter_, self.residual_ = res.n_iter, res.residual
            if hasattr(self, "cholesky_"):
                del self.cholesky_
        if fit is not None:
            norms = Y2.norm(dim=0).clamp_min(torch.finfo(Y2.dtype).tiny)
            self.residual_ = float((fit.norm(dim=0) / norms).max()) if Y2.numel() else 0.0
        self.solver_ = solver
        self.dual_coef_ = as_state(dual.reshape(Y.shape), torch_out)
        if self._precomputed():
            if hasattr(self, "X_fit_"):
                del self.X_fit_
        else:
            self.X_fit_ = as_state(X, torch_out)

    def _iterative_jitter(self, op: KernelOperator) -> float:
        """The iterative solver's jitter: a float as given; ``"auto"``/``None`` add nothing when
        ``ridge > 0`` and ``n · eps · mean|diag K|`` (what counts as zero) when ``ridge = 0``."""
        if self.jitter is None or isinstance(self.jitter, str):
            if self.jitter is None or self.ridge > 0:
                return 0.0
            return op.n * torch.finfo(op.dtype).eps * float(op.diagonal().abs().mean())
        return float(self.jitter)

    def _dual_tensor(self) -> Tensor:
        d = self.dual_coef_
        return d if isinstance(d, Tensor) else from_numpy(d)

    def _decision(self, X) -> Tensor:
        """``k(X, X_fit) α`` as a tensor."""
        check_is_fitted(self)
        Xt = self._validate_X(X, reset=False)
        if self._precomputed():
            kt = Xt
        else:
            xf = self.X_fit_
            xf = xf if isinstance(xf, Tensor) else from_numpy(xf)
            if len(Xt) * len(xf) > 4 * BLOCK_ENTRIES:  # test kernel by blocks of rows
                return blocked_product(self._kernel, Xt, xf, self._dual_tensor())
            kt = self._kernel(Xt, xf)
        return kt @ self._dual_tensor()

    @property
    def alpha_(self):
        """Deprecated alias of ``dual_coef_`` (scikit-learn's ``alpha`` is a ridge)."""
        warnings.warn(
            "alpha_ is deprecated: use dual_coef_ (the dual coefficients)", DeprecationWarning, stacklevel=2
        )
        return self.dual_coef_
