"""neuralpaths: ReLU networks through their gates and paths.

Deep gated networks (a gating network decides which units are on, a value network holds the
weights), neural path features and values, the neural path kernel, the NTK, and deep linearly gated
networks. See the README for a tour.
"""

from .gate import Gate, hard_gate, soft_gate
from .kernels import npk, ntk
from .models import DGN, DLGN, MLP, Arch, ConvNet, ReLUNet
from .paths import count_paths, npf, npv, path_index, path_norm

__version__ = "0.1.0"

__all__ = [
    "DGN",
    "DLGN",
    "MLP",
    "Arch",
    "ConvNet",
    "Gate",
    "ReLUNet",
    "__version__",
    "count_paths",
    "hard_gate",
    "npf",
    "npk",
    "npv",
    "ntk",
    "path_index",
    "path_norm",
    "soft_gate",
]
