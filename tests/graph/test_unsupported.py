"""What has no gate/path reading is refused with one line naming the layer and saying why."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuralpaths import DGN, UnsupportedLayerError, gates, npf, npk, ntk, path_norm


class Wrap(nn.Module):
    """``stem`` (Linear) -> ``body`` (the layer under test) -> ``head`` (Linear)."""

    def __init__(self, body: nn.Module, d: int = 4):
        super().__init__()
        self.stem, self.body, self.head = nn.Linear(3, d), body, nn.Linear(d, 2)

    def forward(self, x):
        return self.head(self.body(self.stem(x)))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 1, batch_first=True)

    def forward(self, x):
        h = x[:, None, :]  # (n, 4) -> (n, 1, 4)
        return self.attn(h, h, h)[0][:, 0]


class Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow
            return F.relu(x)
        return x


class Product(nn.Module):
    def forward(self, x):
        return x * F.relu(x)  # data times data


class PlusOne(nn.Module):
    def forward(self, x):
        return F.relu(x) + 1.0


class RawWeight(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 4))

    def forward(self, x):
        return x @ self.w


class Pair(nn.Module):
    def forward(self, x):
        return F.relu(x), x


CASES = {
    "tanh": (nn.Tanh(), r"layer 'body' \(Tanh\) saturates"),
    "sigmoid": (nn.Sigmoid(), r"layer 'body' \(Sigmoid\) saturates"),
    "gelu": (nn.GELU(), r"layer 'body' \(GELU\) is a smooth activation"),
    "elu": (nn.ELU(), r"layer 'body' \(ELU\) is a smooth activation"),
    "relu6": (nn.ReLU6(), r"layer 'body' \(ReLU6\) saturates"),
    "prelu": (nn.PReLU(), r"layer 'body' \(PReLU\) learns its negative slope"),
    "softmax": (nn.Softmax(dim=1), r"layer 'body' \(Softmax\) normalises across units"),
    "layernorm": (nn.LayerNorm(4), r"layer 'body' \(LayerNorm\) divides each sample by its own statistics"),
    "attention": (Attention(), r"layer 'body.attn' \(MultiheadAttention\) multiplies data-dependent weights"),
    "control-flow": (Branchy(), r"layer 'body'.*data-dependent Python control flow"),
    "data-times-data": (Product(), r"mul in body multiplies two data-dependent tensors"),
    "constant-bias": (PlusOne(), r"add in body adds a constant"),
    "raw-parameter": (RawWeight(), r"body.forward uses the tensor 'body.w' directly"),
    "tuple-output": (None, r"returns tuple: the path view needs a single output tensor"),
    "upsample": (nn.Upsample(scale_factor=2), r"layer 'body' \(Upsample\) has no gate/path reading"),
}


def _model(case: str) -> nn.Module:
    body, _ = CASES[case]
    return Pair() if body is None else Wrap(body)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "use",
    [
        lambda m, x: npk(m, x),
        lambda m, x: npf(m, x),
        lambda m, x: gates(m, x),
        lambda m, x: path_norm(m),
        lambda m, x: DGN.from_module(m, "frnpf-ii"),
    ],
    ids=["npk", "npf", "gates", "path_norm", "from_module"],
)
def test_unsupported_layer_is_named_in_one_line(case, use):
    model = _model(case)
    x = torch.randn(3, 3 if not isinstance(model, Pair) else 4)
    with pytest.raises(UnsupportedLayerError, match=CASES[case][1]) as err:
        use(model, x)
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)


@pytest.mark.parametrize("layer", [nn.BatchNorm1d(4), nn.Dropout(0.5)])
def test_training_mode_batchnorm_and_dropout_are_refused(layer):
    model = Wrap(nn.Sequential(layer, nn.ReLU()))
    x = torch.randn(5, 3)
    name = "body.0"
    with pytest.raises(
        UnsupportedLayerError, match=rf"layer '{name}' \({type(layer).__name__}\) is in training mode"
    ):
        npk(model.train(), x)
    npk(model.eval(), x)  # fine in eval mode


def test_batchnorm_without_running_statistics_is_refused():
    model = Wrap(nn.BatchNorm1d(4, track_running_stats=False)).eval()
    with pytest.raises(UnsupportedLayerError, match="keeps no running statistics"):
        npk(model, torch.randn(3, 3))


def test_reflect_padding_is_refused():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), nn.ReLU(), nn.Flatten())
    with pytest.raises(UnsupportedLayerError, match=r"layer '0' pads with 'reflect'"):
        npk(model, torch.randn(2, 1, 4, 4))


def test_non_module_is_a_type_error():
    with pytest.raises(TypeError, match="expected a torch.nn.Module, got list"):
        npk([nn.Linear(2, 2)], torch.randn(2, 2))


def test_ntk_refuses_training_mode_batchnorm_before_running_it():
    model = Wrap(nn.BatchNorm1d(4)).train()
    with pytest.raises(ValueError, match=r"layer 'body' \(BatchNorm1d\) is in training mode"):
        ntk(model, torch.randn(3, 3))


def test_input_that_does_not_fit_the_module_is_one_line():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    with pytest.raises(ValueError, match=r"could not run on an input of shape \(4, 5\)") as err:
        npk(model, torch.randn(4, 5))
    assert "\n" not in str(err.value)
    with pytest.raises(TypeError, match="input dtype torch.float64 does not match the model's torch.float32"):
        npf(model, torch.randn(4, 3, dtype=torch.float64))
