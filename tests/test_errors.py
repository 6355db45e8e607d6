"""Bad input gets a clear error naming the problem."""

import pytest
import torch

from neuralpaths import DGN, DLGN, MLP, Arch, ConvNet, npf, npk, ntk


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: m(x),
        lambda m, x: m.gates(x),
        lambda m, x: npf(m, x),
        lambda m, x: npk(m, x),
        lambda m, x: ntk(m, x),
    ],
)
def test_wrong_input_shape(fn):
    net = MLP(784, [8], 10)
    with pytest.raises(ValueError, match=r"shape \(3, 28, 28\) but the model expects \(n, 784\).*flatten"):
        fn(net, torch.randn(3, 28, 28))


def test_wrong_conv_input_shape():
    net = ConvNet.gconv(in_channels=3, image_size=8, num_classes=2, channels=(2,), dense=(2,))
    with pytest.raises(ValueError, match=r"expects \(n, 3, 8, 8\)"):
        net(torch.randn(2, 1, 8, 8))


@pytest.mark.parametrize("model", [MLP(4, [3]), DGN(Arch.mlp(4, [3])), DLGN.mlp(4, [3])])
def test_dtype_mix(model):
    with pytest.raises(TypeError, match=r"dtype torch.float64 does not match the model's torch.float32"):
        model(torch.randn(2, 4, dtype=torch.float64))


def test_second_kernel_input_checked_too():
    with pytest.raises(TypeError, match="dtype"):
        npk(MLP(4, [3]), torch.randn(2, 4), torch.randn(2, 4, dtype=torch.float64))


def test_not_a_tensor():
    with pytest.raises(TypeError, match="must be a torch.Tensor, got list"):
        MLP(2, [2])([[1.0, 2.0]])


def test_unknown_regime():
    with pytest.raises(ValueError, match="unknown regime 'frnpf'.*relu, frnpf-ii, frnpf-di, flnpf, dlnpf"):
        DGN.regime("frnpf", Arch.mlp(3, [2]))


def test_flnpf_needs_a_trained_net():
    with pytest.raises(ValueError, match="relu_net="):
        DGN.regime("flnpf", Arch.mlp(3, [2]))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(in_shape=(3, 8, 8), dense=(4,)), "needs in_shape \\(d,\\)"),
        (dict(in_shape=(8,), conv=(4,)), "needs in_shape \\(C, H, W\\)"),
        (dict(in_shape=(8,), dense=(4,), pool="max"), "unknown pool 'max'"),
        (dict(in_shape=(8,), dense=(0,)), "positive"),
        (dict(in_shape=(8,)), "at least one hidden"),
    ],
)
def test_bad_architectures(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Arch(**kwargs)


def test_bad_model_settings():
    with pytest.raises(ValueError, match="unknown gating network 'tanh'"):
        DGN(Arch.mlp(3, [2]), gating="tanh")
    with pytest.raises(ValueError, match="fully connected nets only"):
        DLGN(Arch.c4gap(), shallow=True)
    with pytest.raises(ValueError, match="unknown value_input 'zeros'"):
        DGN(Arch.mlp(3, [2]), value_input="zeros")
    with pytest.raises(ValueError, match="unknown init scheme 'xavier'"):
        MLP(3, [2], init="xavier")
