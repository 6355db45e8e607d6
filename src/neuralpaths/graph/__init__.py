"""The path view of any ``nn.Module``: read its forward pass into steps, run it gated, count and
enumerate its paths, and form its kernels.

- :func:`trace`: a module -> :class:`PathGraph` (or :class:`UnsupportedLayerError` naming the layer).
- :func:`path_model`: any model (plain module, ``DGN.from_module``, the library's own) ->
  :class:`PathModel` (graph, value weights, gates).
"""

from .ir import KINDS, PathGraph, Step, UnsupportedLayerError
from .model import PathModel, describe, path_model
from .trace import trace

__all__ = [
    "KINDS",
    "PathGraph",
    "PathModel",
    "Step",
    "UnsupportedLayerError",
    "describe",
    "path_model",
    "trace",
]
