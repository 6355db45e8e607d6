"""Node-wise rescaling of a ReLU network: the symmetry Path-SGD is invariant to.

Multiplying a hidden unit's incoming weights and bias by ``c > 0`` and its outgoing weights by ``1/c``
leaves the function unchanged (``relu(c·q) = c·relu(q)``; a LeakyReLU too; a DGN's value network is
linear given its gates), and leaves every path value unchanged; the path norm is therefore unchanged,
while the weights (and plain SGD's steps) are not.

Shape:
    ``factors[l]``: ``(width_l,)``, one per hidden layer of the chain, all entries > 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..graph.model import path_model

_CHAIN_KINDS = ("input", "layer", "gate", "move")


def hidden_linears(model: nn.Module) -> list[nn.Linear]:
    """The ``Linear`` layers of a chain network (Linear, ReLU/LeakyReLU, Flatten/Dropout/Identity), in
    order; a clear error for any other network."""
    pm = path_model(model)
    steps = pm.graph.steps
    bad = [s for s in steps if s.kind not in _CHAIN_KINDS or len(s.inputs) > 1]
    layers = [pm.value.get_submodule(s.module) for s in steps if s.kind == "layer"]
    if bad or not all(isinstance(m, nn.Linear) for m in layers) or len(layers) < 2:
        what = f"{bad[0].kind} at {bad[0].where}" if bad else "not a chain of at least two nn.Linear layers"
        raise ValueError(
            f"rescale_units_ needs a chain of nn.Linear layers with ReLU/LeakyReLU between them ({what})"
        )
    return layers


@torch.no_grad()
def rescale_units_(model: nn.Module, factors: Sequence[Tensor]) -> None:
    """In place: hidden unit ``i`` of hidden layer ``l`` gets incoming weights and bias ``× factors[l][i]``
    and outgoing weights ``÷ factors[l][i]``. The function computed does not change.

    Shape:
        ``factors``: one ``(width_l,)`` tensor per hidden layer.
    """
    layers = hidden_linears(model)
    if len(factors) != len(layers) - 1:
        raise ValueError(
            f"rescale_units_: {len(layers) - 1} hidden layers need as many factor vectors, got {len(factors)}"
        )
    for k, c in enumerate(factors):
        into, out = layers[k], layers[k + 1]
        c = torch.as_tensor(c).to(into.weight)
        if c.shape != (into.out_features,) or not bool((c > 0).all()) or not bool(torch.isfinite(c).all()):
            raise ValueError(
                f"rescale_units_: factors[{k}] must be {into.out_features} finite numbers > 0, "
                f"got shape {tuple(c.shape)}"
            )
        into.weight.mul_(c[:, None])
        if into.bias is not None:
            into.bias.mul_(c)
        out.weight.div_(c[None, :])
