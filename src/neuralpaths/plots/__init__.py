"""Pictures: half-space features of deep linearly gated networks, animations of them, and the
shared figure conventions (:mod:`.style`: integer epoch ticks, plain log ticks, bars from zero, the
preset on figures that compare with a paper, mean ± std over seeds).

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
from .planar import draw_hyperplanes, extent, scatter_classes, setup_axes
from .style import (
    bars_from_zero,
    integer_ticks,
    label_error_bars,
    mean_std,
    plain_log_ticks,
    plain_number,
    preset_label,
    seed_bars,
    seed_curve,
)

__all__ = [
    "bars_from_zero",
    "draw_hyperplanes",
    "extent",
    "figure_to_rgb",
    "grid_points",
    "integer_ticks",
    "label_error_bars",
    "mean_std",
    "plain_log_ticks",
    "plain_number",
    "plot_attraction_by_node",
    "plot_decision_function",
    "plot_distance_histogram",
    "plot_gating_hyperplanes",
    "plot_linear_regions",
    "plot_path_regions",
    "preset_label",
    "render_frames",
    "save_gif",
    "scatter_classes",
    "seed_bars",
    "seed_curve",
    "setup_axes",
    "window",
]
