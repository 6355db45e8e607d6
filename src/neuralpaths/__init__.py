"""neuralpaths: ReLU networks through their gates and paths.

Deep gated networks (a gating network decides which units are on, a value network holds the
weights), neural path features and values, the neural path kernel, the NTK, and deep linearly gated
networks. See the README for a tour.
"""

from . import optim  # noqa: F401 (neuralpaths.optim: Path-SGD)
from .gate import Gate, hard_gate, soft_gate
from .graph import UnsupportedLayerError
from .kernels import npk, npk_parts, ntk
from .models import DGN, DLGN, MLP, Arch, ConvNet, ModuleDGN, ReLUNet
from .paths import count_paths, gates, npf, npv, path_index, path_norm, sub_architecture_paths

__version__ = "0.1.0"

__all__ = [
    "DGN",
    "DLGN",
    "MLP",
    "Arch",
    "ConvNet",
    "Gate",
    "ModuleDGN",
    "ReLUNet",
    "UnsupportedLayerError",
    "__version__",
    "count_paths",
    "gates",
    "hard_gate",
    "npf",
    "npk",
    "npk_parts",
    "npv",
    "ntk",
    "path_index",
    "path_norm",
    "soft_gate",
    "sub_architecture_paths",
]
