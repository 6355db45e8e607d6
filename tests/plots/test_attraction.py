"""Attraction pictures: written, labelled, one mark per target."""

import torch

from neuralpaths.data.odt import cob_odt
from neuralpaths.geometry import Hyperplanes, attraction_rows
from neuralpaths.io import save_figure
from neuralpaths.plots import plot_attraction_by_node, plot_distance_histogram


def test_distance_histogram(tmp_path):
    fig = plot_distance_histogram(torch.rand(15) + 0.4, torch.rand(15) * 0.3)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(label.startswith("median after training") for label in labels)
    save_figure(fig, tmp_path / "hist.png")
    assert (tmp_path / "hist.png").stat().st_size > 10_000


def test_attraction_by_node(tmp_path):
    _, _, tree = cob_odt(500, 8, depth=3, seed=0)
    g = torch.Generator().manual_seed(0)
    init = Hyperplanes(torch.randn(10, 8, generator=g, dtype=torch.float64))
    final = Hyperplanes(torch.cat([tree.normals[:3] * 2, init.normals]))  # the top nodes are attracted
    rows = attraction_rows(tree.hyperplanes, init, final, depths=tree.depths)
    assert [r["dist_final"] for r in rows[:3]] == [0.0, 0.0, 0.0]
    fig = plot_attraction_by_node(rows)
    ax = fig.axes[0]
    assert len(ax.get_xticks()) == 7 and ax.get_title() and ax.get_legend() is not None
    save_figure(fig, tmp_path / "nodes.png")
    assert (tmp_path / "nodes.png").stat().st_size > 10_000
