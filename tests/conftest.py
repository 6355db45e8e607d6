"""Shared fixtures: a zoo of small float64 models covering every architecture and gating."""

from __future__ import annotations

import pytest
import torch

from neuralpaths import DGN, DLGN, MLP, Arch, ConvNet


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests run on tiny tensors: one intra-op thread avoids thread-barrier waits that dominate such
    tests (10x slower with 2 threads on a loaded machine). Restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def small_models(seed: int = 0) -> dict[str, torch.nn.Module]:
    """Tiny float64 models, one per family, with random widths/depths drawn from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    depth = int(torch.randint(1, 4, (), generator=g))  # hidden layers
    widths = torch.randint(2, 6, (depth,), generator=g).tolist()
    d_in = int(torch.randint(2, 6, (), generator=g))
    k = int(torch.randint(1, 4, (), generator=g))
    fc = Arch.mlp(d_in, widths, k)
    conv = Arch((2, 4, 4), (3, 2), (3,), k, "gap")  # a small GCONV
    models = {
        "mlp": MLP(d_in, widths, k, seed=seed),
        "dgn-hard": DGN(fc, seed=seed),
        "dgn-soft": DGN(fc, gate="soft", beta=4.0, eps=0.1, seed=seed),
        "dgn-ones": DGN(fc, value_input="ones", seed=seed),
        "dlgn": DLGN(fc, seed=seed),
        "dlgn-hard": DLGN(fc, gate="hard", seed=seed),
        "dlgn-sf": DLGN(fc, shallow=True, seed=seed),
        "gconv": ConvNet.gconv(
            in_channels=2, image_size=4, num_classes=k, channels=(3, 2), dense=(3,), seed=seed
        ),
        "vconv": ConvNet.vconv(
            in_channels=2, image_size=3, num_classes=k, channels=(2, 2), dense=(2,), seed=seed
        ),
        "dgn-gconv": DGN(conv, gate="soft", seed=seed),
        "dlgn-c4gap": DLGN(Arch.c4gap(in_channels=1, image_size=3, num_classes=k, width=2), seed=seed),
    }
    return {name: m.double() for name, m in models.items()}


def inputs_for(model: torch.nn.Module, n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *model.arch.in_shape), generator=g, dtype=torch.float64)


MODEL_NAMES = list(small_models())


@pytest.fixture(params=[0, 1, 2], ids=lambda s: f"seed{s}")
def zoo(request) -> dict[str, torch.nn.Module]:
    return small_models(request.param)
