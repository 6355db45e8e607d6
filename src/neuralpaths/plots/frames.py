"""Sequences of figures (e.g. gating hyperplanes at several epochs) as PNG frames and an animated GIF.

Shape:
    GIF frames are the figures rendered at ``dpi``, padded with white to the largest one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from ..io import atomic_write, save_figure


def figure_to_rgb(fig: Figure, dpi: int = 100) -> np.ndarray:
    """The figure rendered as an RGB image. Shape: ``-> (H, W, 3)`` uint8."""
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_gif(
    path: str | os.PathLike, frames: Sequence[Figure | np.ndarray], duration_ms: int = 700, dpi: int = 100
) -> Path:
    """An animated GIF (looping) of ``frames`` (figures or RGB images), written atomically."""
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    images = [f if isinstance(f, np.ndarray) else figure_to_rgb(f, dpi) for f in frames]
    h, w = max(im.shape[0] for im in images), max(im.shape[1] for im in images)
    padded = []
    for im in images:
        canvas = np.full((h, w, 3), 255, dtype=np.uint8)
        canvas[: im.shape[0], : im.shape[1]] = im[..., :3]
        padded.append(Image.fromarray(canvas).convert("P", palette=Image.Palette.ADAPTIVE, colors=255))
    first, rest = padded[0], padded[1:]
    return atomic_write(
        path,
        lambda f: first.save(
            f, format="GIF", save_all=True, append_images=rest, duration=duration_ms, loop=0
        ),
    )


def render_frames(
    frames: Sequence[Figure],
    out_dir: str | os.PathLike,
    *,
    stem: str = "frame",
    gif: str | os.PathLike | None = None,
    duration_ms: int = 700,
    dpi: int = 120,
) -> list[Path]:
    """Save ``frames`` as ``out_dir/{stem}_{i:03d}.png`` and, if ``gif`` is given, as an animated GIF
    there (relative to ``out_dir``). Returns the paths written (PNGs, then the GIF)."""
    out = Path(out_dir)
    paths = [save_figure(fig, out / f"{stem}_{i:03d}.png", dpi=dpi) for i, fig in enumerate(frames)]
    if gif is not None:
        paths.append(save_gif(out / gif, frames, duration_ms, dpi=min(dpi, 100)))
    return paths
