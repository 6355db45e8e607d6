"""Univariate ReLU nets: knots and delta-slopes against numerical differences, the closed-form NTK
against autograd, the initialisations against their definitions."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from neuralpaths.models import Univariate
from neuralpaths.models.univariate import univariate_forward


def test_shapes_and_input_forms():
    model = Univariate(6, seed=0).double()
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    assert model(x).shape == (5,)
    assert torch.equal(model(x[:, None]), model(x))
    assert [tuple(g.shape) for g in model.gates(x)] == [(5, 6)]
    assert model.features(x).shape == (5, 6)
    assert model.knots().shape == model.delta_slopes().shape == (6,)
    with pytest.raises(ValueError, match=r"shape \(n,\) or \(n, 1\)"):
        model(torch.zeros(3, 2, dtype=torch.float64))


def test_forward_is_the_sum_over_units():
    model = Univariate(5, init="ntk", symmetric=False, linear=True, seed=3).double()
    with torch.no_grad():
        model.alpha.fill_(0.7)
        model.beta.fill_(-0.2)
    x = torch.linspace(-2, 2, 7, dtype=torch.float64)
    brute = sum(model.multiplier * model.c[i] * torch.relu(model.a[i] * x + model.b[i]) for i in range(5))
    assert torch.allclose(model(x), brute + 0.7 * x - 0.2, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_knots_are_where_the_slope_changes_by_the_delta_slopes(seed):
    """The second difference of f on a fine grid is non-zero only within one grid step of a knot,
    and summed around a knot it equals (delta-slope) x (grid step)."""
    model = Univariate(8, symmetric=False, knots="normal", init="ntk", seed=seed).double()
    knots, mu = model.knots().numpy(), model.delta_slopes().numpy()
    h = 1e-3
    grid = np.arange(-3, 3 + h / 2, h)
    inside = (knots > -3 + 3 * h) & (knots < 3 - 3 * h)
    with torch.no_grad():
        f = model(torch.from_numpy(grid)).numpy()
    d2 = f[2:] - 2 * f[1:-1] + f[:-2]  # at grid[1:-1]
    centre = grid[1:-1]
    dist = np.min(np.abs(centre[:, None] - knots[None, inside]), axis=1) if inside.any() else np.inf
    kinked = np.abs(d2) > 1e-12
    assert kinked.any() == inside.any()
    assert np.all(dist[kinked] < h * (1 + 1e-9))  # no kink away from a knot
    for e, m in zip(knots[inside], mu[inside]):
        if np.sort(np.abs(knots - e))[1] < 3 * h:  # another knot too close to separate
            continue
        jump = d2[np.abs(centre - e) < h].sum() / h
        assert jump == pytest.approx(m, rel=1e-7, abs=1e-9)


def test_delta_slopes_and_knots_under_the_rescaling_symmetry():
    """(a, b, c) -> (λa, λb, c/λ), λ > 0, keeps f, the knots and the delta-slopes."""
    model = Univariate(10, symmetric=False, seed=4).double()
    x = torch.linspace(-1.5, 1.5, 11, dtype=torch.float64)
    f, k, mu = model(x), model.knots(), model.delta_slopes()
    lam = torch.rand(10, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 0.5
    with torch.no_grad():
        model.a.mul_(lam)
        model.b.mul_(lam)
        model.c.div_(lam)
    assert torch.allclose(model(x), f, atol=1e-13)
    assert torch.allclose(model.knots(), k, atol=1e-13)
    assert torch.allclose(model.delta_slopes(), mu, atol=1e-13)


@pytest.mark.parametrize("train", ["all", "output"])
@pytest.mark.parametrize("init", ["scale", "ntk", "mean-field"])
def test_closed_form_ntk_equals_autograd(init, train):
    model = Univariate(6, init=init, scale=0.3, symmetric=False, linear=True, seed=1).double()
    x = torch.linspace(-1.2, 1.1, 5, dtype=torch.float64)
    params = {k: getattr(model, k) for k in ("a", "b", "c", "alpha", "beta")}
    trained = ("c", "alpha", "beta") if train == "output" else tuple(params)

    def f(*ps):
        p = dict(zip(trained, ps))
        full = {k: p.get(k, params[k].detach()) for k in params}
        return univariate_forward(
            x, full["a"], full["b"], full["c"], model.multiplier, full["alpha"], full["beta"]
        )

    jac = torch.autograd.functional.jacobian(f, tuple(params[k].detach() for k in trained))
    j = torch.cat([t.reshape(5, -1) for t in jac], 1)  # (n, params)
    assert torch.allclose(model.ntk(x, train=train), j @ j.T, atol=1e-12)


def test_symmetric_init_starts_at_zero_and_pairs_units():
    model = Univariate(10, seed=0).double()
    assert torch.equal(model.a[:5], model.a[5:]) and torch.equal(model.c[:5], -model.c[5:])
    assert model(torch.linspace(-3, 3, 50, dtype=torch.float64)).abs().max() < 1e-15  # up to rounding
    with pytest.raises(ValueError, match="even"):
        Univariate(7)


def test_scale_init_sets_the_layer_scales():
    width, scale, gain = 20_000, 0.01, 5.0
    model = Univariate(width, scale=scale, gain=gain, symmetric=False, seed=0).double()
    s_in, s_out = math.sqrt(gain / (width * scale)), math.sqrt(gain * scale / width)
    assert (model.scale_in, model.scale_out) == pytest.approx((s_in, s_out))
    assert model.scale_out / model.scale_in == pytest.approx(scale)
    assert torch.allclose(model.a.abs(), torch.full_like(model.a, s_in))  # uniform knots: |a| = s_in
    assert model.c.std().item() == pytest.approx(s_out, rel=0.03)
    # knots uniform on the widened interval (Kolmogorov-Smirnov, fixed seed)
    lo, hi = -1.1, 1.1
    assert stats.kstest(model.knots().numpy(), stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3
    assert model.multiplier == 1.0


@pytest.mark.parametrize(("init", "mult"), [("ntk", lambda m: m**-0.5), ("mean-field", lambda m: 1 / m)])
def test_ntk_and_mean_field_scalings(init, mult):
    model = Univariate(4000, init=init, knots="normal", symmetric=False, seed=0).double()
    assert model.multiplier == pytest.approx(mult(4000))
    for p in (model.a, model.b, model.c):
        assert p.std().item() == pytest.approx(1.0, rel=0.05)
    mu = model.delta_slopes()
    assert torch.allclose(mu, model.multiplier * model.c * model.a.abs())


def test_stratified_knots_one_per_cell_per_orientation():
    model = Univariate(40, knots="stratified", interval=(0.0, 1.0), margin=0.5, symmetric=False, seed=0)
    a, k = model.a.detach(), model.knots().double()
    assert (a > 0).sum() == (a < 0).sum() == 20
    for side in (a > 0, a < 0):
        cells = torch.floor((k[side] + 0.5) / 2.0 * 20)  # widened interval [-0.5, 1.5], 20 cells
        assert sorted(cells.tolist()) == list(range(20))


@pytest.mark.parametrize("knots", ["uniform", "stratified", "normal"])
def test_knot_density_matches_a_weighted_histogram(knots):
    """Monte Carlo: Σ_i M² a_i² 1{e_i in bin} / bin width ≈ rho(bin centre) (closed form)."""
    model = Univariate(400_000, init="ntk", knots=knots, interval=(-0.5, 1.0), margin=0.2, seed=0).double()
    edges = np.linspace(-1.0, 1.5, 26)
    hist, _ = np.histogram(model.knots().numpy(), bins=edges, weights=model.knot_weights().numpy())
    centres = torch.from_numpy((edges[1:] + edges[:-1]) / 2)
    rho = model.knot_density(centres).numpy()
    est = hist / np.diff(edges)
    keep = np.abs(centres.numpy() - (-0.7)) > 0.06  # skip the bins the support's edges cut
    keep &= np.abs(centres.numpy() - 1.2) > 0.06
    assert np.allclose(est[keep], rho[keep], rtol=0.05, atol=0.02 * rho.max())


def test_seeded_and_dtype_consistent():
    a, b = Univariate(8, seed=5), Univariate(8, seed=5).double()
    assert a.a.dtype == torch.get_default_dtype() and b.a.dtype == torch.float64
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p.double(), q, atol=1e-7)
    assert not torch.equal(Univariate(8, seed=1).b, Univariate(8, seed=2).b)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"init": "lecun"}, "unknown init"),
        ({"knots": "grid"}, "unknown knots"),
        ({"scale": 0.0}, "scale must be > 0"),
        ({"interval": (1.0, -1.0)}, "lo < hi"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Univariate(4, **kwargs)
