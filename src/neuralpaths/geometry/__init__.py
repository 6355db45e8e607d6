"""Gating geometry of deep linearly gated networks: hyperplanes, their distances, path regions.

In a DLGN the layer-``l`` gate pre-activations are affine in the input,
``q_l = V_l x + b_l`` with ``V_l = W_l ⋯ W_1`` and ``b_l = W_l b_{l-1} + c_l`` (``c_l`` the gating
biases, ``b_1 = c_1``); DLGN-SF parameterises ``(V_l, b_l)`` directly. Every gate is a half-space
of the input and every path's feature the indicator of an intersection of half-spaces.

Convention: a hyperplane is ``{x : ⟨w, x⟩ + b = 0}``; a hard gate is on on its positive side
``⟨w, x⟩ + b > 0``.

Distance (ICLR 2025 DLGN paper): ``d(u, v) = min(‖û − v̂‖, ‖û + v̂‖)`` with ``û = u/‖u‖``, between
the normals of hyperplanes through the origin (the paper's DLGNs and its COB-ODT data are bias-free,
so its code compares normals only). It lies in ``[0, √2]``, ignores sign and scale, and a random
pair in high dimension sits near ``√2``. Hyperplanes with offsets are compared through their
homogeneous vectors ``[w, b]`` (hyperplanes through the origin of the lifted input ``[x, 1]``):
this equals the paper's distance when both offsets are 0, and depends on the scale of ``x``.
A zero normal has no direction: its distances are NaN.

Shape:
    ``Hyperplanes.normals: (m, d)``, ``offsets: (m,)``; inputs ``x: (n, d)``.
"""

from .gating import (
    activation_patterns,
    gating_hyperplanes,
    linear_regions,
    path_halfspaces,
    path_region,
    path_value,
    unit_path_values,
)
from .hyperplanes import (
    DEFAULT_RADII,
    Hyperplanes,
    append_constant,
    attraction_rows,
    count_within,
    hyperplane_distance,
    nearest_gating_distance,
    pairwise_hyperplane_distance,
)

__all__ = [
    "DEFAULT_RADII",
    "Hyperplanes",
    "activation_patterns",
    "append_constant",
    "attraction_rows",
    "count_within",
    "gating_hyperplanes",
    "hyperplane_distance",
    "linear_regions",
    "nearest_gating_distance",
    "pairwise_hyperplane_distance",
    "path_halfspaces",
    "path_region",
    "path_value",
    "unit_path_values",
]
