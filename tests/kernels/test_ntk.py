"""NTK: the reference agrees with a plain autograd loop; Identity 3 (E[NTK_value] = const · NPK)."""

import pytest
import torch

from neuralpaths import DGN, MLP, Arch, npk, ntk
from neuralpaths.kernels import value_ntk_constant
from neuralpaths.models import init_layers_

from ..conftest import inputs_for, small_models


def autograd_ntk(model, x, names):
    """Per-sample, per-output gradients by autograd, then dot products: (n, n, k, k)."""
    params = [p for n, p in model.named_parameters() if n in names]
    rows = []
    for xi in x:
        out = model(xi[None])[0]
        rows.append(
            torch.stack(
                [
                    torch.cat([g.flatten() for g in torch.autograd.grad(out[k], params, retain_graph=True)])
                    for k in range(len(out))
                ]
            )
        )
    j = torch.stack(rows)  # (n, k, P)
    return torch.einsum("akp,blp->abkl", j, j)


@pytest.mark.parametrize(
    "name,params",
    [
        ("mlp", "all"),
        ("dgn-soft", "value"),
        ("dgn-soft", "gating"),
        ("dgn-soft", "all"),
        ("dlgn", "gating"),
        ("dlgn-sf", "all"),
        ("dgn-gconv", "all"),
        ("vconv", "all"),
    ],
)
def test_reference_ntk_equals_autograd_loop(name, params):
    model = small_models(2)[name]
    x = inputs_for(model, 4)
    names = {"all": [n for n, _ in model.named_parameters()]}.get(
        params, [n for n, _ in model.named_parameters() if n.startswith(params + ".")]
    )
    want = autograd_ntk(model, x, names)
    got = ntk(model, x, wrt=params)
    if model.arch.out_dim == 1:
        want = want[:, :, 0, 0]
    assert got.shape == want.shape
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)


def test_ntk_shapes_and_cross_kernel():
    model = MLP(3, [4], 2, seed=0).double()
    x1, x2 = torch.randn(5, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    k12 = ntk(model, x1, x2)
    assert k12.shape == (5, 2, 2, 2)
    full = ntk(model, torch.cat([x1, x2]))
    assert torch.allclose(k12, full[:5, 5:])
    scalar = MLP(3, [4], 1, seed=0).double()
    assert ntk(scalar, x1).shape == (5, 5)


def test_hard_gate_dgn_gating_ntk_is_zero():
    dgn = DGN(Arch.mlp(3, [4, 4], 1), seed=0).double()
    assert ntk(dgn, torch.randn(4, 3, dtype=torch.float64), wrt="gating").abs().max() == 0


def test_trainable_excludes_frozen_gating():
    dgn = DGN.regime("frnpf-ii", Arch.mlp(3, [4], 1), seed=0).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(ntk(dgn, x, wrt="trainable"), ntk(dgn, x, wrt="value"))


def _value_ntk_draws(width: int, draws: int, sigma: float, seed: int = 0):
    """Fixed random hard gates; value weights ±σ redrawn each time. Returns (stack of K_v, NPK)."""
    arch = Arch.mlp(5, [width, width], 1)  # d = 3 weight layers
    dgn = DGN.regime("frnpf-ii", arch, seed=seed).double()
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    g = torch.Generator().manual_seed(seed + 2)
    ks = []
    for _ in range(draws):
        init_layers_(dgn.value, "pm", sigma=sigma, generator=g)
        ks.append(ntk(dgn, x, wrt="value"))
    return torch.stack(ks), npk(dgn, x)


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_identity3_monte_carlo_mean_is_const_times_npk():
    sigma, d = 0.3, 3
    ks, h = _value_ntk_draws(width=32, draws=200, sigma=sigma)
    const = d * sigma ** (2 * (d - 1))
    assert const == pytest.approx(value_ntk_constant([sigma] * d))
    assert _rel(ks.mean(0), const * h) < 0.05


def test_identity3_single_draw_concentrates_with_width():
    sigma, d = 0.3, 3
    const = d * sigma ** (2 * (d - 1))
    errs = {}
    for width in (16, 64, 256):
        ks, h = _value_ntk_draws(width=width, draws=5, sigma=sigma, seed=width)
        errs[width] = sum(_rel(k, const * h) for k in ks) / len(ks)
    assert errs[16] > errs[64] > errs[256]
    assert errs[256] < 0.5 * errs[16]


def test_identity3_general_per_layer_variances():
    assert value_ntk_constant([1.0, 2.0, 3.0]) == pytest.approx(4 * 9 + 9 + 4)


def test_params_is_the_deprecated_name_of_wrt():
    net, x = MLP(3, [2]), torch.randn(2, 3)
    with pytest.deprecated_call(match="use wrt="):
        old = ntk(net, x, params="trainable")
    assert torch.equal(old, ntk(net, x, wrt="trainable"))


def test_params_errors():
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match="needs a DGN"):
        ntk(MLP(3, [2]), x, wrt="value")
    with pytest.raises(ValueError, match="share their weights"):
        ntk(DGN.regime("relu", Arch.mlp(3, [2])), x, wrt="gating")
    with pytest.raises(ValueError, match="unknown wrt="):
        ntk(MLP(3, [2]), x, wrt="weights")
    with pytest.raises(ValueError, match="unknown parameter names"):
        ntk(MLP(3, [2]), x, wrt=["layers.9.weight"])


@pytest.mark.parametrize("method", ["structured", "reference"])
@pytest.mark.parametrize("make", [lambda: MLP(3, [5, 4], 3, bias=True, seed=0), lambda: _plain3()])
def test_trace_and_mean_over_outputs(method, make):
    """``outputs="trace"`` is ``Σ_k Θ_kk`` of the full kernel, ``"mean"`` that divided by ``k``."""
    model = make().double()
    x1, x2 = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    full = ntk(model, x1, x2, method=method)
    trace = full.diagonal(dim1=2, dim2=3).sum(-1)
    torch.testing.assert_close(
        ntk(model, x1, x2, method=method, outputs="trace"), trace, rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(
        ntk(model, x1, outputs="mean", method=method),
        ntk(model, x1, method=method).diagonal(dim1=2, dim2=3).mean(-1),
        rtol=1e-12,
        atol=1e-12,
    )
    with pytest.raises(ValueError, match="unknown outputs 'diag'"):
        ntk(model, x1, outputs="diag")


def _plain3():
    from torch import nn

    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))
