"""Infinite-width kernels: closed forms by hand, and Monte Carlo over wide random networks.

Monte Carlo tolerance: the mean of N iid draws differs from its expectation by about one standard
error ``s.e. = std/√N``; every entry must lie within 4 s.e. (probability of a false alarm per
entry ≈ 6e-5 for a Gaussian mean). The finite-width bias of the expectation is ``O(1/width)``;
with 400 draws it was below the Monte-Carlo resolution at widths 64, 384 and 1536 (depth 3: mean
signed deviation within ±0.3 s.e. over the entries, relative s.e. 2 % to 0.4 %), so the noise alone
sets the tolerance. Width 384 with 120 draws gives a relative s.e. of about 1.5 %.
"""

import math

import pytest
import torch

from neuralpaths import DGN, MLP, Arch, npk
from neuralpaths.kernels import npk_limit, ntk, relu_nngp, relu_ntk
from neuralpaths.models import init_layers_

D_IN, N, WIDTH, DRAWS = 5, 6, 384, 120


def _arch(depth: int, widths=None, bias: bool = False) -> Arch:
    """A fully connected architecture of ``depth`` weight layers (hidden widths ``widths``)."""
    return Arch.mlp(D_IN, widths or [WIDTH] * (depth - 1), 1, bias=bias)


def _x(seed=0, n=N):
    return torch.randn(n, D_IN, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _within_4se(draws: list[torch.Tensor], want: torch.Tensor) -> float:
    ks = torch.stack(draws)
    se = ks.std(0) / math.sqrt(len(ks))
    z = ((ks.mean(0) - want) / se).abs().max().item()
    assert z < 4, f"Monte-Carlo mean is {z:.1f} standard errors from the closed form"
    return z


def _gaussian_init_(net, sigma_w, sigma_b, gen):
    """Standard parameterisation: W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²), drawn in place."""
    with torch.no_grad():
        for m in net.layers:
            m.weight.normal_(0.0, sigma_w / math.sqrt(m.weight.shape[1]), generator=gen)
            m.bias.normal_(0.0, 1.0, generator=gen).mul_(sigma_b)
    return net


def _empirical(net, x, sigma_w, sigma_b):
    """(standard-param NTK, NTK-param NTK, readout-marginalised NNGP) of one net.

    NTK parameterisation W = (σ_w/√fan_in) ω: ∂f/∂ω = (σ_w/√fan_in) ∂f/∂W, so its kernel is
    Σ_l σ_w²/fan_in_l · K_{W_l} + σ_b² · K_{b_l}. NNGP: E over the last layer of f(x) f(x') given
    the hidden features, σ_w² ⟨h, h'⟩ / width + σ_b².
    """
    sp = ntk(net, x)
    ntk_param = 0
    for i, m in enumerate(net.layers):
        kw = ntk(net, x, wrt=[f"layers.{i}.weight"])
        kb = ntk(net, x, wrt=[f"layers.{i}.bias"])
        ntk_param = ntk_param + sigma_w**2 / m.weight.shape[1] * kw + sigma_b**2 * kb
    with torch.no_grad():
        h = x
        for m in list(net.layers)[:-1]:
            h = torch.relu(m(h))
    nngp = sigma_w**2 * (h @ h.T) / h.shape[1] + sigma_b**2
    return sp, ntk_param, nngp


@pytest.mark.parametrize(("depth", "sigma_w", "sigma_b"), [(3, math.sqrt(2), 0.0), (2, 1.3, 0.4)])
def test_monte_carlo_mean_of_wide_nets_matches_closed_forms(depth, sigma_w, sigma_b):
    x, gen = _x(1), torch.Generator().manual_seed(depth)
    net = MLP(D_IN, [WIDTH] * (depth - 1), 1, bias=True).double()
    sps, ntks, nngps = zip(
        *(_empirical(_gaussian_init_(net, sigma_w, sigma_b, gen), x, sigma_w, sigma_b) for _ in range(DRAWS))
    )
    kw = {"sigma_w": sigma_w, "sigma_b": sigma_b}
    arch = _arch(depth, bias=True)  # the network has trainable biases even when they start at zero
    _within_4se(list(ntks), relu_ntk(arch, x, **kw))
    _within_4se(list(nngps), relu_nngp(arch, x, **kw))
    _within_4se(list(sps), relu_ntk(arch, x, **kw, parameterization="standard"))


def test_depth_two_ntk_by_hand():
    """One hidden layer, no bias, NTK parameterisation:
    Θ = (σ_w⁴ ‖x‖‖x'‖ / (2π d)) (sin θ + 2 (π − θ) cos θ)."""
    x1, x2 = _x(2, 4), _x(3, 3)
    sw = 1.7
    norms = x1.norm(dim=1)[:, None] * x2.norm(dim=1)[None]
    theta = torch.arccos((x1 @ x2.T / norms).clamp(-1, 1))
    want = (
        sw**4 * norms / (2 * math.pi * D_IN) * (torch.sin(theta) + 2 * (math.pi - theta) * torch.cos(theta))
    )
    assert torch.allclose(relu_ntk(_arch(2), x1, x2, sigma_w=sw), want, rtol=1e-12)
    nngp = sw**4 * norms / (2 * math.pi * D_IN) * (torch.sin(theta) + (math.pi - theta) * torch.cos(theta))
    assert torch.allclose(relu_nngp(_arch(2), x1, x2, sigma_w=sw), nngp, rtol=1e-12)


def test_depth_one_is_the_linear_kernel():
    """No hidden layer (an Arch cannot express it): the older calling convention, which warns."""
    x1, x2 = _x(4, 4), _x(5, 2)
    lin = 2.0 * (x1 @ x2.T) / D_IN + 0.09
    for p in ("ntk", "standard"):
        with pytest.deprecated_call(match=r"relu_ntk\(x1, x2, depth=...\) is deprecated"):
            got = relu_ntk(x1, x2, depth=1, sigma_w=math.sqrt(2), sigma_b=0.3, parameterization=p, widths=[])
        want = lin if p == "ntk" else D_IN * (lin - 0.09) / 2 + 1  # ⟨x,x'⟩ + 1 (bias)
        assert torch.allclose(got, want, rtol=1e-12)
    with pytest.deprecated_call():
        assert torch.allclose(relu_nngp(x1, x2, depth=1, sigma_b=0.3), lin, rtol=1e-12)


def test_older_calling_convention_gives_the_same_kernels():
    x1, x2 = _x(4, 4), _x(5, 2)
    with pytest.deprecated_call():
        old = relu_ntk(x1, x2, depth=3, parameterization="standard", widths=[7, 5], bias=True)
    assert torch.equal(
        old, relu_ntk(Arch.mlp(D_IN, [7, 5], 1, bias=True), x1, x2, parameterization="standard")
    )
    with pytest.deprecated_call():
        old = npk_limit(x1, x2, depth=3, gating="linear")
    assert torch.equal(old, npk_limit(_arch(3), x1, x2, gating="linear"))


def test_a_dgn_gives_its_own_gating_and_value_input():
    x = _x(6, 5)
    dlgn = DGN(_arch(3), gating="linear", value_input="ones")
    assert torch.equal(npk_limit(dlgn, x), npk_limit(_arch(3), x, gating="linear", value_input="ones"))
    assert torch.equal(relu_ntk(MLP(D_IN, [4, 4]), x), relu_ntk(_arch(3), x))


def test_ntk_recursion_equals_sum_over_layers_and_diagonal():
    x = _x(6, 5)
    k = relu_ntk(_arch(4), x, sigma_w=1.2, sigma_b=0.2)
    assert torch.allclose(k, k.T)
    assert torch.allclose(relu_ntk(_arch(4), x, x, sigma_w=1.2, sigma_b=0.2), k)
    # He scaling (σ_w² = 2, no bias) keeps 2⟨x,x⟩/d on the NNGP's diagonal; the NTK's is d times that
    diag = (x * x).sum(1) * 2 / D_IN
    assert torch.allclose(relu_nngp(_arch(4), x).diagonal(), diag)
    assert torch.allclose(relu_ntk(_arch(4), x).diagonal(), 4 * diag)


@pytest.mark.parametrize(
    ("gating", "sigma_b", "value_input"),
    [("relu", 0.0, "x"), ("relu", 0.5, "x"), ("linear", 0.0, "ones"), ("shallow", 0.3, "x")],
)
def test_npk_limit_matches_monte_carlo_of_wide_random_gates(gating, sigma_b, value_input):
    """Normalised NPK of hard-gated DGNs with Gaussian gating weights, over fresh gating networks."""
    depth, x = 4, _x(7)
    arch = Arch.mlp(D_IN, [WIDTH] * (depth - 1), 1, bias=sigma_b > 0)
    dgn = DGN(arch, gating=gating, value_input=value_input, seed=0).double()
    gen = torch.Generator().manual_seed(11)
    draws = []
    for _ in range(DRAWS):
        init_layers_(dgn.gating, "he", generator=gen)
        if sigma_b > 0:
            with torch.no_grad():
                for m in dgn.gating:
                    m.bias.copy_(sigma_b * torch.randn(m.bias.shape, generator=gen, dtype=torch.float64))
        draws.append(npk(dgn, x, normalize=True, ignore_bias=True))
    want = npk_limit(arch, x, gating=gating, sigma_b=sigma_b, value_input=value_input)
    _within_4se(draws, want)


def test_npk_limit_relu_angle_recursion_by_hand():
    """No bias: cos θ_{l+1} = (sin θ_l + (π − θ_l) cos θ_l)/π, factor (π − θ_l)/(2π) per hidden layer."""
    x1, x2 = _x(8, 1), _x(9, 1)
    theta = torch.arccos((x1 @ x2.T / (x1.norm() * x2.norm())).clamp(-1, 1))
    want = x1 @ x2.T
    for _ in range(3):
        want = want * (math.pi - theta) / (2 * math.pi)
        theta = torch.arccos((torch.sin(theta) + (math.pi - theta) * torch.cos(theta)) / math.pi)
    assert torch.allclose(npk_limit(_arch(4), x1, x2), want, rtol=1e-12)
    same = (math.pi - torch.arccos((x1 @ x2.T / (x1.norm() * x2.norm())).clamp(-1, 1))) / (2 * math.pi)
    assert torch.allclose(npk_limit(_arch(4), x1, x2, gating="linear"), x1 @ x2.T * same**3, rtol=1e-12)


def test_zero_input_gives_zero_not_nan():
    x = torch.zeros(2, D_IN, dtype=torch.float64)
    x[1, 0] = 1.0
    for k in (relu_ntk(_arch(3), x), relu_nngp(_arch(3), x), npk_limit(_arch(3), x)):
        assert torch.isfinite(k).all()
        assert k[0].abs().max() == 0


def test_errors():
    x = _x()
    with pytest.raises(ValueError, match="unknown parameterization"):
        relu_ntk(_arch(3), x, parameterization="mup")
    with pytest.raises(ValueError, match="flatten images"):
        relu_nngp(_arch(2), x.view(N, 1, D_IN))
    with pytest.raises(ValueError, match="unknown gating"):
        npk_limit(_arch(2), x, gating="tanh")
    with pytest.raises(ValueError, match="sigma_w must be > 0"):
        relu_nngp(_arch(2), x, sigma_w=0.0)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        relu_ntk(_arch(2), x, block_size=0)
    with pytest.raises(ValueError, match="inputs have 5 features but the architecture takes 7"):
        relu_ntk(Arch.mlp(7, [3]), x)
    with pytest.raises(ValueError, match="covers fully connected ReLU nets; this architecture has conv"):
        relu_ntk(Arch.gconv(1, 4, 2, channels=(2,), dense=(2,)), x)
    with pytest.raises(TypeError, match="must be an Arch or a library model, got str"):
        relu_ntk("mlp", x)
    with pytest.deprecated_call(), pytest.raises(ValueError, match="depth is the number of weight layers"):
        relu_ntk(x, depth=0)
    with pytest.deprecated_call(), pytest.raises(ValueError, match="needs the hidden widths"):
        relu_ntk(x, depth=3, parameterization="standard")
    with pytest.deprecated_call(), pytest.raises(ValueError, match="must give 2 positive hidden widths"):
        relu_ntk(x, depth=3, parameterization="standard", widths=[4])


@pytest.mark.parametrize(
    "kernel",
    [
        lambda a, b, bs: relu_nngp(_arch(4), a, b, sigma_b=0.3, block_size=bs),
        lambda a, b, bs: relu_ntk(_arch(4), a, b, block_size=bs),
        lambda a, b, bs: relu_ntk(_arch(4, [7, 5, 3]), a, b, parameterization="standard", block_size=bs),
        lambda a, b, bs: npk_limit(_arch(4), a, b, gating="linear", block_size=bs),
        lambda a, b, bs: npk_limit(_arch(4), a, b, block_size=bs),
    ],
    ids=["nngp", "ntk", "ntk-standard", "npk-limit-linear", "npk-limit-relu"],
)
def test_row_blocks_equal_one_pass_and_symmetric_is_exact(kernel):
    x = _x(n=8)
    x2 = x[:5].flip(0)
    whole = kernel(x, None, len(x))  # one block
    blocked = kernel(x, None, 3)  # several blocks and a ragged last one
    torch.testing.assert_close(blocked, whole, rtol=1e-13, atol=1e-13)
    assert torch.equal(blocked, blocked.T)
    torch.testing.assert_close(kernel(x2, x, 2), kernel(x2, x, None), rtol=1e-13, atol=1e-13)
