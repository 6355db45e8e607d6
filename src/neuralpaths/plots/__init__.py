"""Pictures: half-space features of deep linearly gated networks, and animations of them.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot) and saved with
:func:`neuralpaths.io.save_figure` or :func:`render_frames`.
"""

from .attraction import plot_attraction_by_node, plot_distance_histogram
from .frames import figure_to_rgb, render_frames, save_gif
from .halfspace import (
    grid_points,
    plot_decision_function,
    plot_gating_hyperplanes,
    plot_linear_regions,
    plot_path_regions,
    window,
)

__all__ = [
    "figure_to_rgb",
    "grid_points",
    "plot_attraction_by_node",
    "plot_decision_function",
    "plot_distance_histogram",
    "plot_gating_hyperplanes",
    "plot_linear_regions",
    "plot_path_regions",
    "render_frames",
    "save_gif",
    "window",
]
