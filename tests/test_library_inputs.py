"""Bad input to the library's public functions: one row per case, each a one-line TypeError/ValueError
that names the argument (and, where there is one, says what to do)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from neuralpaths import DGN, DLGN, MLP, Arch, npk, ntk
from neuralpaths.data.odt import make_odt_data, sample_inputs
from neuralpaths.data.toy2d import make_toy2d
from neuralpaths.gate import Gate
from neuralpaths.kernels import (
    effective_rank,
    gd_predict,
    kernel_alignment,
    npk_limit,
    npk_parts,
    nu,
    one_hot,
    relu_nngp,
    relu_ntk,
    shared_weight_npk,
    spectrum,
)
from neuralpaths.losses import evaluate
from neuralpaths.models import ReLUNet, Univariate, init_layers_
from neuralpaths.univariate.train import train_univariate

NAN, INF = math.nan, math.inf
FC = Arch.mlp(4, [6, 5])


def _x(n=5, d=4, dtype=torch.float32, seed=0):
    return torch.randn(n, d, dtype=dtype, generator=torch.Generator().manual_seed(seed))


def _with(value, x=None):
    """``x`` with its first entry replaced by ``value``."""
    x = _x() if x is None else x.clone()
    x.view(-1)[0] = value
    return x


def _asym():
    k = _x(5, 5, torch.float64)
    return k @ k.T + torch.triu(torch.ones(5, 5, dtype=torch.float64), 1)  # PSD plus an upper triangle


def _psd():
    k = _x(5, 5, torch.float64)
    return k @ k.T + torch.eye(5, dtype=torch.float64)


_Y = torch.linspace(-1, 1, 5, dtype=torch.float64)
_SEQ = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1))

# (id, call, error type, regex the message must match: it names the argument)
CASES = [
    # --- architectures and models ---------------------------------------------------------------
    (
        "mlp-fractional-width",
        lambda: MLP(4, [8.7]),
        TypeError,
        r"widths\[0\] must be a positive int, got 8.7",
    ),
    ("mlp-string-widths", lambda: MLP(4, "88"), TypeError, r"widths\[0\] must be a positive int"),
    ("mlp-bool-width", lambda: MLP(4, [True]), TypeError, r"widths\[0\] must be a positive int, got True"),
    ("mlp-fractional-in-dim", lambda: MLP(4.5, [8]), TypeError, r"in_shape\[0\] must be a positive int"),
    ("arch-negative-kernel-size", lambda: Arch((1, 4, 4), (2,), (), 1, "gap", -1), ValueError, "kernel_size"),
    ("arch-bias-not-bool", lambda: Arch.mlp(3, [2], bias="no"), TypeError, "bias must be True or False"),
    ("dgn-arch-not-an-arch", lambda: DGN("mlp"), TypeError, "arch must be a neuralpaths Arch"),
    ("relunet-arch-not-an-arch", lambda: ReLUNet((4, 8)), TypeError, "arch must be a neuralpaths Arch"),
    ("dgn-soft-eps-nan", lambda: DGN(FC, gate="soft", eps=NAN), ValueError, "eps must be a finite number"),
    ("dgn-soft-eps-inf", lambda: DGN(FC, gate="soft", eps=INF), ValueError, "eps must be a finite number"),
    ("dgn-hard-gate-eps-nan", lambda: DGN(FC, gate="hard", eps=NAN), ValueError, "eps must be a finite"),
    ("gate-eps-string", lambda: Gate(eps="0.1"), TypeError, "eps must be a real number"),
    ("dlgn-gating-bias-string", lambda: DLGN(FC, gating_bias="yes"), TypeError, "gating_bias must be"),
    ("model-seed-string", lambda: MLP(4, [8], seed="a"), TypeError, "seed .* must be an int"),
    (
        "init-sigma-nan",
        lambda: init_layers_(MLP(4, [3]).layers, "pm", sigma=NAN),
        ValueError,
        "sigma must be",
    ),
    ("univariate-scale-inf", lambda: Univariate(4, scale=INF), ValueError, "scale must be a finite"),
    ("univariate-interval-inf", lambda: Univariate(4, interval=(0, INF)), ValueError, r"interval\[1\]"),
    # --- kernel inputs: NaN / infinity ----------------------------------------------------------
    ("npk-nan-x1", lambda: npk(MLP(4, [3]), _with(NAN)), ValueError, "x1 contains NaN.*check_finite=False"),
    ("npk-inf-x2", lambda: npk(MLP(4, [3]), _x(), _with(INF)), ValueError, "x2 contains NaN or infinity"),
    ("npk-module-nan-x1", lambda: npk(_SEQ, _with(NAN)), ValueError, "x1 contains NaN or infinity"),
    ("npk-parts-nan-x1", lambda: npk_parts(_SEQ, _with(NAN)), ValueError, "x1 contains NaN or infinity"),
    ("shared-npk-nan-x1", lambda: shared_weight_npk(MLP(4, [3]), _with(NAN)), ValueError, "x1 contains NaN"),
    ("ntk-nan-x1", lambda: ntk(MLP(4, [3]), _with(NAN)), ValueError, "x1 contains NaN or infinity"),
    ("ntk-module-inf-x2", lambda: ntk(_SEQ, _x(), _with(-INF)), ValueError, "x2 contains NaN or infinity"),
    ("relu-ntk-nan-x1", lambda: relu_ntk(FC, _with(NAN)), ValueError, "x1 contains NaN or infinity"),
    ("relu-nngp-inf-x2", lambda: relu_nngp(FC, _x(), _with(INF)), ValueError, "x2 contains NaN or infinity"),
    ("npk-limit-nan-x1", lambda: npk_limit(FC, _with(NAN)), ValueError, "x1 contains NaN or infinity"),
    # --- kernel hyper-parameters, dtypes, devices, shapes ---------------------------------------
    ("relu-ntk-sigma-b-inf", lambda: relu_ntk(FC, _x(), sigma_b=INF), ValueError, "sigma_b must be a finite"),
    ("relu-ntk-sigma-w-inf", lambda: relu_ntk(FC, _x(), sigma_w=INF), ValueError, "sigma_w must be a finite"),
    (
        "relu-ntk-integer-x1",
        lambda: relu_ntk(FC, torch.ones(3, 4, dtype=torch.long)),
        TypeError,
        "x1 must be floating",
    ),
    (
        "relu-ntk-float32-x1-float64-x2",
        lambda: relu_ntk(FC, _x(), _x(dtype=torch.float64)),
        TypeError,
        "x1 has dtype torch.float32 but x2 has torch.float64",
    ),
    (
        "npk-x2-other-features",
        lambda: npk(MLP(4, [3]), _x(), _x(3, 5)),
        ValueError,
        r"x1 and x2 .*x2 \(3, 5\)",
    ),
    (
        "npk-float64-x1-float32-model",
        lambda: npk(MLP(4, [3]), _x(dtype=torch.float64)),
        TypeError,
        r"x1 .*model.double\(\)",
    ),
    (
        "npk-integer-x1",
        lambda: npk(MLP(4, [3]), torch.ones(3, 4, dtype=torch.long)),
        TypeError,
        "x1 dtype torch.int64 .*must be floating point",
    ),
    (
        "ntk-module-wrong-features",
        lambda: ntk(_SEQ, _x(5, 3)),
        ValueError,
        r"could not run on x1 of shape \(5, 3\)",
    ),
    (
        "ntk-module-1d-x1",
        lambda: ntk(_SEQ, torch.randn(4)),
        ValueError,
        r"could not run on x1 of shape \(4,\)",
    ),
    ("ntk-not-a-module", lambda: ntk("mlp", _x()), TypeError, "model must be a torch.nn.Module"),
    (
        "npk-x1-on-another-device",
        lambda: npk(MLP(4, [3]), _x().to("meta"), check_finite=False),
        ValueError,
        r"x1 is on meta but the model is on cpu: use model.to\('meta'\)",
    ),
    (
        "relu-ntk-x2-on-another-device",
        lambda: relu_ntk(FC, _x(), _x().to("meta"), check_finite=False),
        ValueError,
        "x1 is on cpu but x2 is on meta",
    ),
    # --- kernel matrices -------------------------------------------------------------------------
    (
        "gd-predict-non-symmetric",
        lambda: gd_predict(_asym(), _psd(), _Y, 1.0),
        ValueError,
        "K_train is not symmetric",
    ),
    (
        "gd-predict-nan-kernel",
        lambda: gd_predict(_with(NAN, _psd()), _psd(), _Y, 1.0),
        ValueError,
        "K_train contains NaN",
    ),
    (
        "gd-predict-nan-targets",
        lambda: gd_predict(_psd(), _psd(), _with(NAN, _Y), 1.0),
        ValueError,
        "y contains NaN",
    ),
    (
        "gd-predict-lr-inf",
        lambda: gd_predict(_psd(), _psd(), _Y, 1.0, lr=INF),
        ValueError,
        "lr must be a finite",
    ),
    ("nu-non-symmetric", lambda: nu(_asym(), _Y), ValueError, "K is not symmetric"),
    ("nu-negative-ridge", lambda: nu(_psd(), _Y, ridge=-1.0), ValueError, "ridge must be >= 0"),
    ("spectrum-non-symmetric", lambda: spectrum(_asym()), ValueError, "K is not symmetric"),
    ("effective-rank-non-symmetric", lambda: effective_rank(_asym()), ValueError, "K is not symmetric"),
    ("alignment-nan", lambda: kernel_alignment(_with(NAN, _psd()), _psd()), ValueError, "K1 contains NaN"),
    (
        "one-hot-fractional-classes",
        lambda: one_hot([0, 1], 2.5),
        TypeError,
        "num_classes must be a positive int",
    ),
    (
        "one-hot-negative-classes",
        lambda: one_hot([0, 1], -1),
        ValueError,
        "num_classes must be a positive int",
    ),
    # --- data and training ---------------------------------------------------------------------
    ("odt-fractional-n", lambda: make_odt_data(100.5, 3, 2, seed=0), TypeError, r"\bn must be an int >= 0"),
    (
        "odt-margin-nan",
        lambda: make_odt_data(50, 3, 2, seed=0, min_margin=NAN),
        ValueError,
        "min_margin must be",
    ),
    (
        "sample-inputs-fractional-d",
        lambda: sample_inputs(10, 2.5, seed=0),
        TypeError,
        r"\bd must be a positive int",
    ),
    (
        "toy2d-noise-nan",
        lambda: make_toy2d("moons", 10, seed=0, noise=NAN),
        ValueError,
        "noise must be a finite",
    ),
    (
        "train-univariate-negative-lr",
        lambda: train_univariate(Univariate(4), _Y, _Y, steps=2, lr=-1.0),
        ValueError,
        "lr must be > 0",
    ),
    (
        "train-univariate-short-targets",
        lambda: train_univariate(Univariate(4), _Y, _Y[:3], steps=2),
        ValueError,
        "y must hold one target per sample",
    ),
    (
        "train-univariate-nan-targets",
        lambda: train_univariate(Univariate(4), _Y, _with(NAN, _Y), steps=2),
        ValueError,
        "y contains NaN",
    ),
    (
        "evaluate-batch-size-zero",
        lambda: evaluate(MLP(4, [3], 2), _x(), torch.zeros(5, dtype=torch.long), batch_size=0),
        ValueError,
        "batch_size must be a positive int",
    ),
]


@pytest.mark.parametrize(("call", "error", "match"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_is_a_one_line_error_naming_the_argument(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_the_table_is_large_and_its_names_unique():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)


# --- what the checks let through ----------------------------------------------------------------
def test_check_finite_false_opts_out():
    x = _with(NAN)
    k = npk(MLP(4, [3]), x, check_finite=False)
    assert k.shape == (5, 5) and bool(k[0].isnan().any()) and bool(k[1:, 1:].isfinite().all())
    assert relu_ntk(FC, x, check_finite=False)[0].isnan().any()


def test_large_finite_inputs_whose_sum_overflows_pass():
    x = torch.full((4, 4), 3e38)  # the sum overflows float32; every entry is finite
    assert npk(MLP(4, [3]), x).shape == (4, 4)


def test_a_bare_layer_is_the_one_layer_network_of_it():
    layer, x = nn.Linear(4, 3), _x()
    assert torch.allclose(npk(layer, x), npk(nn.Sequential(layer), x))


def test_integral_numpy_and_torch_sizes_are_accepted():
    arch = Arch.mlp(np.int64(4), [torch.tensor(3), np.int32(2)])
    assert arch.dense == (3, 2) and all(type(w) is int for w in (*arch.in_shape, *arch.dense))
