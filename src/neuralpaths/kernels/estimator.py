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

**Solvers.** ``solver="auto"`` (default) solves exactly by Cholesky where the float64 kernel and
its copy fit in memory and otherwise by preconditioned conjugate gradients on kernel blocks
(:mod:`neuralpaths.kernels.solvers`), which never holds the ``(n, n)`` float64 matrix: all of
MNIST (n = 60 000) fits in ~10 GB (see ``benchmarks/bench_krr_iterative.py``). Predictions on
many points are computed by blocks of rows.

**Memory.** The Cholesky solve copies the training kernel once (the copy is factorised in place and kept
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

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.multiclass import check_classification_targets
from torch import Tensor

from .kernel_ridge import (
    KERNELS,
    PRECOMPUTED_EXPECTED_FAILED_CHECKS,
    _KernelRidge,
    as_output,
    expected_failed_checks,
    to_numpy,
)
from .ridge import cho_solve

__all__ = [
    "KERNELS",
    "PRECOMPUTED_EXPECTED_FAILED_CHECKS",
    "KernelClassifier",
    "KernelRegressor",
    "cho_solve",
    "expected_failed_checks",
]


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
            (``eps`` of the dtype); ``None`` or ``0`` raises; a float is always added. With the
            iterative solver ``"auto"`` adds nothing when ``ridge > 0`` and ``n · eps · mean|diag K|``
            when ``ridge = 0``.
        solver: ``"cholesky"`` (exact, the ``(n, n)`` kernel in float64 and its factor),
            ``"iterative"`` (:mod:`neuralpaths.kernels.solvers`: the kernel by blocks of rows, its
            lower triangle stored within ``memory_budget`` (float32 when float64 does not fit) and
            conjugate gradients with a randomly pivoted Cholesky–Nyström preconditioner; never the
            whole ``(n, n)`` float64 matrix) or ``"auto"`` (default): Cholesky when the kernel and
            its copy (``16 n²`` bytes; ``8 n²`` for a precomputed one) fit in ``memory_budget``,
            else iterative.
        tol: relative residual ``‖(K + λI) α − y‖ / ‖y‖`` (every column) at which the iterative
            solver stops.
        max_iter: most iterations of the iterative solver.
        rank: rank of its preconditioner (``None``: 1000, 2000 above 30 000 points, at most
            ``n``; ``0``: plain CG).
        memory_budget: bytes for the Cholesky-or-iterative choice and the iterative solver's
            kernel store; ``None``: half the available memory (psutil, else ``/proc/meminfo``, else
            8 GiB).

    Attributes:
        dual_coef_: ``α``, ``(n,)`` or ``(n, k)`` like ``y`` (numpy or tensor like the data);
            ``alpha_`` is a deprecated alias.
        X_fit_: the training data ``(n, d)`` (not with ``kernel="precomputed"``).
        n_features_in_: ``d`` (``"precomputed"``: ``n``, the columns ``predict`` expects).
        feature_names_in_: column names of a data frame ``X``.
        jitter_: the jitter that was added (``0.0`` if none).
        cholesky_: lower Cholesky factor of ``K + (λ + jitter_) I``, ``(n, n)`` (Cholesky solver).
        solver_: the solver that ran, ``"cholesky"`` or ``"iterative"``.
        n_iter_: iterations of the iterative solver (``1`` for Cholesky: one direct solve).
        residual_: final relative residual ``max_j ‖(K + (λ + jitter_) I) α_j − y_j‖ / ‖y_j‖``
            (Cholesky: with ``K + λI`` as ``L Lᵀ``).

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
        return as_output(self._decision(X), isinstance(X, Tensor))

    def score(self, X, y, sample_weight=None) -> float:
        """Coefficient of determination ``R²`` (uniform average over outputs), as scikit-learn."""
        pred = to_numpy(self.predict(X))
        return float(r2_score(to_numpy(y), pred, sample_weight=to_numpy(sample_weight)))


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
        return as_output(self._decision(X), isinstance(X, Tensor))

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
        pred = to_numpy(self.predict(X))
        return float(accuracy_score(to_numpy(y), pred, sample_weight=to_numpy(sample_weight)))
