"""Models: ReLU networks, deep gated networks (DGN), deep linearly gated networks (DLGN) and a small
residual network builder (:func:`resnet`)."""

from .arch import Arch, gated_forward, make_layers, relu_forward
from .base import GatedModel
from .conv import ConvNet
from .dgn import DGN, GATINGS, REGIMES
from .dlgn import DLGN
from .init import SCHEMES, init_layers_
from .mlp import MLP, ReLUNet
from .module_dgn import ModuleDGN, reinitialise_
from .resnet import resnet
from .univariate import Univariate

__all__ = [
    "DGN",
    "DLGN",
    "GATINGS",
    "MLP",
    "REGIMES",
    "SCHEMES",
    "Arch",
    "ConvNet",
    "GatedModel",
    "ModuleDGN",
    "ReLUNet",
    "Univariate",
    "gated_forward",
    "init_layers_",
    "make_layers",
    "reinitialise_",
    "relu_forward",
    "resnet",
]
