"""Kernels of gated networks: the neural path kernel (NPK), the neural tangent kernel (NTK, empirical
and infinite-width), kernel regression and kernel metrics.

Every kernel is called the same way, ``K(model_or_arch, x1, x2=None, *, block_size=None,
progress=None, ...)`` → ``(n1, n2)`` (``x2=None``: the symmetric ``K(x1, x1)``, exactly symmetric).
``block_size`` is always rows of ``x1`` per block, ``None`` choosing one automatically; ``progress``
shows a bar (``None``: only for jobs longer than 2 s). Results keep the inputs' dtype and device.
Inputs with NaN or infinity are refused (``check_finite=False`` skips that one reduction per input).

==================  ================  ==================================================================
kernel              first argument    its own options
==================  ================  ==================================================================
npk                 model             normalize, method, ignore_bias
npk_parts           model             ignore_bias
shared_weight_npk   model
ntk                 model             wrt, method, outputs
relu_ntk            arch              sigma_w, sigma_b, parameterization
relu_nngp           arch              sigma_w, sigma_b
npk_limit           arch              gating, sigma_w, sigma_b, value_input
univariate_ntk      model             wrt
==================  ================  ==================================================================

``model``: the library's models, ``DGN.from_module`` or any supported ``nn.Module`` (for
``univariate_ntk``: a :class:`~neuralpaths.models.Univariate` net); ``arch``: an
:class:`~neuralpaths.models.arch.Arch` or a library model (fully connected). ``wrt`` selects the
parameters the NTK differentiates (``"all"``, ``"trainable"``, ``"value"``, ``"gating"`` or names).
``normalize`` has one meaning per place: in :func:`npk` it divides by the number of gate
combinations ``Π_l units_l`` (the kernel :func:`npk_limit` describes); in the metrics (:func:`nu`,
:func:`spectrum`) it divides the kernel by its trace.
"""

from .infinite import npk_limit, relu_nngp, relu_ntk
from .metrics import effective_rank, kernel_alignment, nu, spectrum, target_alignment
from .npk import npk, npk_parts
from .ntk import ntk, ntk_reference, select_params, value_ntk_constant
from .regression import KernelClassifier, KernelRegressor, accuracy, gd_predict, one_hot
from .shared import shared_weight_npk
from .solvers import choose_solver
from .univariate import univariate_features, univariate_ntk

__all__ = [
    "KernelClassifier",
    "KernelRegressor",
    "accuracy",
    "choose_solver",
    "effective_rank",
    "gd_predict",
    "kernel_alignment",
    "npk",
    "npk_limit",
    "npk_parts",
    "ntk",
    "ntk_reference",
    "nu",
    "one_hot",
    "relu_nngp",
    "relu_ntk",
    "select_params",
    "shared_weight_npk",
    "spectrum",
    "target_alignment",
    "univariate_features",
    "univariate_ntk",
    "value_ntk_constant",
]
