"""Optimisers of the path view: Path-SGD and the rescaling symmetry it respects.

- :class:`PathSGD`: ``w_e ← w_e − lr · g_e / γ_e`` with ``γ_e`` the sum over paths through ``e`` of the
  product of the other weights squared (Neyshabur, Salakhutdinov & Srebro 2015), biases included;
- :func:`path_scaling`: those ``γ`` by parameter name (one forward, one backward pass of the ``|w|²``
  network on ones);
- :func:`rescale_units_`: the node-wise rescaling that leaves a ReLU network's function unchanged.

The path norm itself is :func:`neuralpaths.path_norm`. The basis-path norm (Zheng et al. 2018, arXiv
1809.07122) is not provided: it is defined over a particular basis of paths (a choice of "skeleton"
weights, with positive and negative basis paths treated differently), and the exact combination the
paper takes is not available to us to check a formula against; a norm we could not state precisely
would not be a faithful metric.
"""

from .path_sgd import PathSGD, path_scaling
from .rescale import hidden_linears, rescale_units_

__all__ = ["PathSGD", "hidden_linears", "path_scaling", "rescale_units_"]
