"""Path-SGD: its scaling ``γ`` against the sum over enumerated paths, its update, and its invariance.

``γ_e`` is checked two independent ways, in float64 with biases: (a) a brute-force loop over every
path of a chain of Linear layers (from each input unit and from each bias to each output), summing the
product of the other edges' squared weights; (b) for conv nets with weight sharing, the multilinearity
of ``S = Σ_paths Π w² = path_norm²`` in each ``w_e²``: ``γ_e = S(w_e = 1) − S(w_e = 0)``, from two
forward passes of :func:`neuralpaths.path_norm` per weight.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuralpaths import DGN, MLP, Arch, ConvNet, UnsupportedLayerError, path_norm
from neuralpaths.optim import PathSGD, path_scaling, rescale_units_

D = torch.float64


def _chain(seed: int = 0, widths=(3, 4, 3, 2)) -> nn.Sequential:
    torch.manual_seed(seed)
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        mods += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(widths) - 2 else [])
    return nn.Sequential(*mods).to(D)


def _brute_gamma(layers: list[nn.Linear], p: float = 2.0) -> dict[int, torch.Tensor]:
    """``Σ_{paths ∋ e} Π_{e' ≠ e} |w_e'|^p`` by walking every path (input or bias → output)."""
    out = {id(t): torch.zeros_like(t) for m in layers for t in (m.weight, m.bias) if t is not None}

    def walk(layer: int, unit: int, edges: list) -> None:
        if layer == len(layers):
            vals = [abs(float(t.detach()[i])) ** p for t, i in edges]
            for k, (t, i) in enumerate(edges):
                out[id(t)][i] += torch.tensor(vals[:k] + vals[k + 1 :], dtype=D).prod()
            return
        for j in range(layers[layer].out_features):
            walk(layer + 1, j, [*edges, (layers[layer].weight, (j, unit))])

    for i in range(layers[0].in_features):
        walk(0, i, [])
    for k, m in enumerate(layers):
        if m.bias is not None:
            for j in range(m.out_features):
                walk(k + 1, j, [(m.bias, (j,))])
    return out


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
def test_gamma_equals_enumerated_sum_over_paths_with_biases(p):
    net = _chain(1)
    with torch.no_grad():  # zeros: γ must still be the sum over the other weights (no 0/0)
        net[0].bias[1] = 0.0
        net[2].weight[0, 1] = 0.0
    got = path_scaling(net, p)
    brute = _brute_gamma(_linears(net), p)
    assert set(got) == {n for n, _ in net.named_parameters()}
    for name, t in net.named_parameters():
        torch.testing.assert_close(got[name], brute[id(t)] ** (2.0 / p), rtol=1e-12, atol=1e-14)
    assert float(got["0.bias"][1]) > 0  # a zero bias still has paths through it


def test_gamma_of_library_models_mlp_and_dgn_value_network():
    mlp = MLP(3, [4, 3], 2, bias=True, seed=2).double()
    got = path_scaling(mlp)
    brute = _brute_gamma(list(mlp.value_layers))
    for name, t in mlp.named_parameters():
        torch.testing.assert_close(got[name], brute[id(t)], rtol=1e-12, atol=1e-14)
    dgn = DGN(Arch.mlp(3, [4, 3], 2, bias=True), seed=3).double()
    got = path_scaling(dgn)
    value = {id(t) for m in dgn.value_layers for t in m.parameters()}
    named = dict(dgn.named_parameters())
    assert got and all(id(named[n]) in value for n in got)  # the gating network has no γ
    brute = _brute_gamma(list(dgn.value_layers))
    for name, g in got.items():
        torch.testing.assert_close(g, brute[id(named[name])], rtol=1e-12, atol=1e-14)


def test_gamma_of_conv_net_with_shared_weights_by_multilinearity():
    net = ConvNet.gconv(
        in_channels=1, image_size=4, num_classes=2, channels=(2, 2), dense=(3,), seed=4
    ).double()
    got = path_scaling(net)
    g = torch.Generator().manual_seed(5)
    for name, t in net.named_parameters():
        for _ in range(2):
            i = int(torch.randint(t.numel(), (), generator=g))
            keep = t.detach().clone()
            s = []
            for v in (1.0, 0.0):
                with torch.no_grad():
                    t.view(-1)[i] = v
                s.append(float(path_norm(net, 2.0).detach()) ** 2)
            with torch.no_grad():
                t.copy_(keep)
            assert got[name].view(-1)[i].item() == pytest.approx(s[0] - s[1], rel=1e-9, abs=1e-12), name


def test_step_divides_the_gradient_by_gamma_unlike_sgd():
    """The update is −lr·g/γ exactly (the authors' code, as written, would leave it −lr·g)."""
    net = _chain(6)
    x, y = torch.randn(5, 3, dtype=D), torch.randn(5, 2, dtype=D)
    gamma = path_scaling(net)
    before = {n: t.detach().clone() for n, t in net.named_parameters()}
    opt = PathSGD(net, lr=0.1)
    ((net(x) - y) ** 2).mean().backward()
    grads = {n: t.grad.clone() for n, t in net.named_parameters()}
    opt.step()
    for n, t in net.named_parameters():
        torch.testing.assert_close(t.detach(), before[n] - 0.1 * grads[n] / gamma[n], rtol=1e-12, atol=1e-14)
        if n != "4.bias":  # the output bias's only path is itself: γ = 1
            assert not torch.allclose(t.detach(), before[n] - 0.1 * grads[n])
    torch.testing.assert_close(gamma["4.bias"], torch.ones(2, dtype=D))


def _trajectory(net: nn.Module, make_opt, steps: int, seed: int = 7) -> list[torch.Tensor]:
    """Outputs on a fixed probe set after each of ``steps`` mini-batch steps (squared loss)."""
    g = torch.Generator().manual_seed(seed)
    x_all, y_all = torch.randn(64, 3, generator=g, dtype=D), torch.randn(64, 2, generator=g, dtype=D)
    probe = torch.randn(20, 3, generator=g, dtype=D)
    opt, outs = make_opt(net), []
    for k in range(steps):
        idx = torch.arange(8 * k, 8 * k + 8) % 64
        opt.zero_grad()
        ((net(x_all[idx]) - y_all[idx]) ** 2).mean().backward()
        opt.step()
        outs.append(net(probe).detach())
    return outs


def _rescaled_pair(seed: int = 8, spread: float = 5.0) -> tuple[nn.Module, nn.Module]:
    a = _chain(seed, (3, 6, 5, 2))
    b = _chain(seed, (3, 6, 5, 2))
    g = torch.Generator().manual_seed(seed)
    factors = [spread ** (2 * torch.rand(w, generator=g, dtype=D) - 1) for w in (6, 5)]
    rescale_units_(b, factors)
    x = torch.randn(10, 3, dtype=D)
    torch.testing.assert_close(a(x), b(x), rtol=1e-12, atol=1e-12)  # same function
    assert not torch.allclose(a[0].weight, b[0].weight)  # different weights
    torch.testing.assert_close(path_norm(a), path_norm(b), rtol=1e-12, atol=0)
    return a, b


OPTIMIZERS = {
    "path-sgd": lambda net: PathSGD(net, lr=0.05),
    "path-sgd-momentum": lambda net: PathSGD(net, lr=0.02, momentum=0.9),
    "sgd": lambda net: torch.optim.SGD(net.parameters(), lr=0.05),
    "adam": lambda net: torch.optim.Adam(net.parameters(), lr=0.01),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_rescaling_invariance_of_the_trajectory(name):
    a, b = _rescaled_pair()
    ta, tb = _trajectory(a, OPTIMIZERS[name], 8), _trajectory(b, OPTIMIZERS[name], 8)
    diff = max(float((u - v).abs().max()) for u, v in zip(ta, tb))
    moved = float((ta[-1] - ta[0]).abs().max())
    assert moved > 1e-3  # the net did train
    if name.startswith("path-sgd"):
        assert diff < 1e-10, diff
    else:  # SGD and Adam follow another trajectory from the same function
        assert diff > 1e-3, diff


def test_rescale_units_rejects_bad_factors_and_non_chains():
    net = _chain(9)
    with pytest.raises(ValueError, match="2 hidden layers need"):
        rescale_units_(net, [torch.ones(4, dtype=D)])
    with pytest.raises(ValueError, match=r"factors\[0\]"):
        rescale_units_(net, [-torch.ones(4, dtype=D), torch.ones(3, dtype=D)])
    conv = ConvNet.gconv(in_channels=1, image_size=4, num_classes=2, channels=(2,), dense=(), seed=0)
    with pytest.raises(ValueError, match="chain of nn.Linear"):
        rescale_units_(conv, [torch.ones(2)])


def test_path_sgd_rejects_bad_settings_and_batchnorm():
    net = _chain(10)
    with pytest.raises(ValueError, match="lr"):
        PathSGD(net, lr=-1.0)
    with pytest.raises(ValueError, match="p must be"):
        PathSGD(net, lr=0.1, p=0)
    with pytest.raises(TypeError, match="nn.Module"):
        PathSGD(list(net.parameters()), lr=0.1)
    bn = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).eval()
    with pytest.raises(UnsupportedLayerError, match="BatchNorm"):
        PathSGD(bn, lr=0.1)


def test_path_sgd_state_round_trips_and_dropout_does_not_change_gamma():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2)).to(D).train()
    gamma = path_scaling(net)
    assert net.training and net[2].training  # modes restored
    torch.testing.assert_close(path_scaling(net), gamma)  # no random masks inside
    opt = PathSGD(net, lr=0.1, momentum=0.9)
    net(torch.randn(4, 3, dtype=D)).sum().backward()
    opt.step()
    again = PathSGD(net, lr=0.1, momentum=0.9)
    again.load_state_dict(opt.state_dict())
    buf = again.state[net[0].weight]["momentum_buffer"]
    torch.testing.assert_close(buf, opt.state[net[0].weight]["momentum_buffer"])


def test_fit_trains_with_path_sgd_and_resumes_bitwise(tmp_path):
    from neuralpaths.data import Splits
    from neuralpaths.train import TrainConfig, fit

    g = torch.Generator().manual_seed(11)
    x = torch.randn(60, 3, generator=g)
    y = (x[:, 0] > 0).long()
    data = Splits("toy", x[:40], y[:40], x[40:50], y[40:50], x[50:], y[50:], 2)
    cfg = TrainConfig(epochs=4, batch_size=8, optimizer="path-sgd", lr=0.01, momentum=0.9, progress=False)
    nets = [MLP(3, [6, 5], 2, bias=True, seed=12) for _ in range(2)]
    hist = fit(nets[0], data, cfg)
    assert hist.epochs[-1]["train_loss"] < 0.9 * hist.epochs[0]["train_loss"]
    fit(nets[1], data, cfg, checkpoint=tmp_path / "ck.pt", stop_after=2)  # interrupted, then resumed
    fit(nets[1], data, cfg, checkpoint=tmp_path / "ck.pt")
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)
