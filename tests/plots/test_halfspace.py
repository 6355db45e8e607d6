"""Pictures are written (PNG files of real size), carry titles, axis labels and legends, and animate."""

import numpy as np
import pytest
import torch
from PIL import Image

from neuralpaths import DLGN, MLP, Arch
from neuralpaths.data.toy2d import make_toy2d, toy2d_boundaries
from neuralpaths.geometry import (
    activation_patterns,
    append_constant,
    gating_hyperplanes,
    path_halfspaces,
    path_region,
    path_value,
)
from neuralpaths.io import save_figure
from neuralpaths.plots import (
    grid_points,
    plot_decision_function,
    plot_gating_hyperplanes,
    plot_linear_regions,
    plot_path_regions,
    render_frames,
    window,
)

RES = 60  # small grids keep the tests fast


@pytest.fixture(scope="module")
def setting():
    x, y = make_toy2d("checkerboard", 300, seed=0)
    model = DLGN(Arch.mlp(2, [4, 3], 1, bias=True), seed=0)  # gating hyperplanes with offsets
    return x, y, model


def _labelled(ax) -> bool:
    return bool(ax.get_title()) and bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def _saved(fig, path) -> int:
    save_figure(fig, path)
    return path.stat().st_size


def test_gating_hyperplanes_one_panel_per_layer(setting, tmp_path):
    x, y, model = setting
    fig = plot_gating_hyperplanes(
        gating_hyperplanes(model), x, y, targets=toy2d_boundaries("checkerboard"), title="gates"
    )
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2 and all(_labelled(ax) for ax in visible)
    assert visible[0].get_legend() is not None
    assert len(visible[0].lines) == 4 + 6  # one line per gating hyperplane + the 6 target lines
    assert _saved(fig, tmp_path / "gates.png") > 20_000


def test_path_regions_shows_value_and_share(setting, tmp_path):
    """A bias-free DLGN on the lifted input [x, 1] (path values need a bias-free value network)."""
    x, y, _ = setting
    model = DLGN.mlp(3, [4, 3], 1, seed=0)
    paths = [(0, 1), (2, 2)]
    regions = [path_halfspaces(model, p).absorb_constant(1.0) for p in paths]
    fig = plot_path_regions(
        regions,
        [path_value(model, p) for p in paths],
        labels=[f"path {p}" for p in paths],
        X=x,
        y=y,
        resolution=RES,
    )
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert len(titles) == 2 and all("value = " in t and "% of data" in t for t in titles)
    share = path_region(model, paths[0], append_constant(x)).float().mean()
    assert f"{100 * float(share):.0f}% of data" in titles[0]
    assert _saved(fig, tmp_path / "paths.png") > 20_000


def test_decision_function_from_a_model_or_precomputed_values(setting, tmp_path):
    x, y, model = setting
    fig = plot_decision_function(model, x, y, resolution=RES, title="DLGN")
    ax = fig.axes[0]
    assert _labelled(ax) and ax.get_legend() is not None and len(fig.axes) == 2  # + colour bar
    lim = window(x)
    with torch.no_grad():
        values = model(grid_points(lim, RES).float()).reshape(RES, RES).numpy()
    again = plot_decision_function(values, x, y, lim=lim, resolution=RES)
    assert np.allclose(again.axes[0].images[0].get_array(), ax.images[0].get_array())
    with pytest.raises(ValueError, match="grid values must have shape"):
        plot_decision_function(values[:10], x, y, resolution=RES)
    assert _saved(fig, tmp_path / "decision.png") > 20_000


def test_linear_regions_counts_patterns(tmp_path):
    x, y = make_toy2d("moons", 200, seed=0)
    net = MLP(2, [5], bias=True, seed=0)
    fig = plot_linear_regions(net, x, y, resolution=RES, title="ReLU net")
    lim = window(x)
    n = len(torch.unique(activation_patterns(net, grid_points(lim, RES).float()), dim=0))
    assert f"{n} activation patterns" in fig.axes[0].get_title()
    assert _saved(fig, tmp_path / "regions.png") > 10_000


def test_grid_points_rows_are_y():
    pts = grid_points(((0.0, 1.0), (10.0, 20.0)), 3)
    img = pts.reshape(3, 3, 2)
    assert torch.equal(img[:, 0, 1], torch.tensor([10.0, 15.0, 20.0], dtype=torch.float64))
    assert torch.equal(img[0, :, 0], torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))


def test_render_frames_writes_pngs_and_a_gif(setting, tmp_path):
    x, y, model = setting
    frames = []
    for epoch in range(3):
        with torch.no_grad():
            model.gating[0].weight.mul_(1.5)
        frames.append(plot_gating_hyperplanes(gating_hyperplanes(model), x, y, title=f"epoch {epoch}"))
    paths = render_frames(frames, tmp_path / "frames", stem="gates", gif="gates.gif", dpi=60)
    assert [p.name for p in paths] == ["gates_000.png", "gates_001.png", "gates_002.png", "gates.gif"]
    assert all(p.stat().st_size > 5_000 for p in paths)
    with Image.open(paths[-1]) as gif:
        assert gif.n_frames == 3
    assert not list((tmp_path / "frames").glob(".*.tmp"))  # written atomically, no leftovers
