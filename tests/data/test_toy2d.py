"""2-D toy sets: shapes, seeds, and labels that follow each set's definition."""

import pytest
import torch

from neuralpaths.data.toy2d import TOY2D, make_toy2d, toy2d_boundaries, toy2d_tree
from neuralpaths.errors import ConfigError


@pytest.mark.parametrize("name", TOY2D)
def test_shapes_balance_and_seed(name):
    x, y = make_toy2d(name, 1001, seed=0, noise=0.05)
    assert x.shape == (1001, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert set(y.tolist()) == {0, 1} and 0.25 < float(y.float().mean()) < 0.75
    x2, y2 = make_toy2d(name, 1001, seed=0, noise=0.05)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, make_toy2d(name, 1001, seed=1, noise=0.05)[0])
    assert float(x.abs().max()) < 1.5


def test_noise_moves_inputs_not_labels():
    x0, y0 = make_toy2d("moons", 500, seed=3)
    x1, y1 = make_toy2d("moons", 500, seed=3, noise=0.1)
    assert torch.equal(y0, y1) and not torch.equal(x0, x1)


def test_circles_radii():
    x, y = make_toy2d("circles", 400, seed=0, dtype=torch.float64)
    r = x.norm(dim=1)
    assert torch.allclose(r[y == 1], torch.full_like(r[y == 1], 0.5))
    assert torch.allclose(r[y == 0], torch.ones_like(r[y == 0]))


def test_checkerboard_labels_flip_across_every_grid_line():
    x, y = make_toy2d("checkerboard", 2000, seed=0, dtype=torch.float64)
    cells = ((x + 1) * 2).floor().clamp(0, 3).long()
    assert torch.equal(y, cells.sum(1) % 2)
    lines = toy2d_boundaries("checkerboard")
    assert len(lines) == 6
    # two points in the same cell of the line arrangement share a label; one line apart, they differ
    signs = lines.positive(x)
    same = (signs[:, None] == signs[None]).all(-1)
    assert (y[:, None] == y[None])[same].all()
    one_apart = (signs[:, None] != signs[None]).sum(-1) == 1
    assert (y[:, None] != y[None])[one_apart].all()


def test_tree_set_is_labelled_by_its_tree():
    x, y = make_toy2d("tree", 1000, seed=2, dtype=torch.float64)
    tree = toy2d_tree()
    assert torch.equal(tree.predict(x), y) and (tree.node_counts(x) > 0).all()
    assert torch.equal(toy2d_boundaries("tree").normals, tree.normals)
    assert toy2d_boundaries("circles") is None


def test_bad_names_and_settings():
    with pytest.raises(ConfigError, match="unknown 2-D toy set 'spiral'"):
        make_toy2d("spiral", 10, seed=0)
    with pytest.raises(ConfigError, match="noise >= 0"):
        make_toy2d("moons", 10, seed=0, noise=-1)
