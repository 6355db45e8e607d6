"""Oblique-decision-tree data: labels are the tree's, every node splits, seeds reproduce, and the
label changes only across the tree's hyperplanes — and across each of them somewhere."""

import math

import pytest
import torch

from neuralpaths.data.odt import ObliqueTree, cob_odt, make_odt_data, sample_inputs
from neuralpaths.errors import ConfigError

CASES = [
    dict(n=3000, d=20, depth=4),
    dict(n=2000, d=2, depth=3, dist="gaussian"),
    dict(n=2000, d=5, depth=3, dist="sphere", n_classes=3),
    dict(n=2000, d=8, depth=2, orthogonal=True, leaf_labels="random", n_classes=4),
]


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: f"d{kw['d']}-D{kw['depth']}")
def test_labels_are_the_trees_and_every_node_splits(kw):
    x, y, tree = make_odt_data(seed=0, **kw)
    assert x.shape == (kw["n"], kw["d"]) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert tree.depth == kw["depth"] and len(tree.normals) == 2 ** kw["depth"] - 1
    assert torch.equal(tree.predict(x), y)
    counts = tree.node_counts(x)
    assert (counts > 0).all(), counts  # both sides of every internal node receive data
    assert counts.sum() == kw["n"] * kw["depth"]  # each point passes one node per level
    assert torch.allclose(tree.normals.norm(dim=1), torch.ones(len(tree.normals), dtype=torch.float64))
    classes = set(range(kw.get("n_classes", 2)))
    assert set(y.unique().tolist()) <= classes
    if kw.get("leaf_labels", "alternating") == "alternating":  # j mod k: every class labels some leaf
        assert set(y.unique().tolist()) == classes


def test_median_offsets_halve_the_points_at_every_node():
    x, _, tree = make_odt_data(4096, 6, depth=3, seed=1, dtype=torch.float64)
    counts = tree.node_counts(x)
    assert ((counts[:, 0] - counts[:, 1]).abs() <= 1).all()


def test_same_seed_same_data_and_tree_other_seed_differs():
    a, b, c = (make_odt_data(500, 4, depth=2, seed=s) for s in (3, 3, 4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(a[2].normals, b[2].normals) and torch.equal(a[2].offsets, b[2].offsets)
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[2].normals, c[2].normals)


def test_normals_do_not_depend_on_n():
    """COB-ODT (offsets through 0): the tree depends on the seed only, not on how many points are drawn."""
    small, large = cob_odt(300, 10, seed=9)[2], cob_odt(5000, 10, seed=9)[2]
    assert torch.equal(small.normals, large.normals) and torch.equal(small.offsets, large.offsets)


def _all_signs(tree: ObliqueTree, x: torch.Tensor) -> torch.Tensor:
    return tree.hyperplanes.evaluate(x) > 0


def test_label_constant_unless_a_tree_hyperplane_is_crossed():
    """Move each point by less than its distance to every node's hyperplane: no hyperplane is
    crossed (the sign pattern is unchanged) and the label stays."""
    x, y, tree = make_odt_data(400, 6, depth=3, seed=2, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        direction = torch.randn(x.shape, generator=g, dtype=torch.float64)
        direction /= direction.norm(dim=1, keepdim=True)
        room = tree.hyperplanes.distance_to(x).min(dim=1).values  # to the nearest hyperplane of any node
        moved = x + 0.99 * room[:, None] * direction
        assert torch.equal(_all_signs(tree, moved), _all_signs(tree, x))
        assert torch.equal(tree.predict(moved), y)


def test_every_split_matters():
    """For each node: data reaching it, pushed just across its hyperplane (staying in the node's
    region), change label for some points — the label is discontinuous on every node's hyperplane."""
    x, _, tree = make_odt_data(3000, 5, depth=3, seed=4, dtype=torch.float64)
    nodes = tree.path_nodes(x)
    eps = 1e-6
    for i in range(len(tree.normals)):
        at = x[(nodes == i).any(1)]
        w, b = tree.normals[i], tree.offsets[i]
        foot = at - (at @ w + b)[:, None] * w  # projection onto the node's hyperplane
        lo, hi = foot - eps * w, foot + eps * w
        still = (tree.path_nodes(lo) == i).any(1) & (tree.path_nodes(hi) == i).any(1)
        assert still.sum() > 0
        flips = tree.predict(lo[still]) != tree.predict(hi[still])
        assert flips.any(), f"node {i}: crossing its hyperplane never changes the label"


def test_margin_keeps_points_away_from_their_paths_hyperplanes():
    x, y, tree = make_odt_data(1000, 3, depth=3, seed=5, min_margin=0.05)
    assert len(x) == 1000 and float(tree.margin(x).min()) >= 0.05 - 1e-6
    assert torch.equal(tree.predict(x), y)


def test_label_noise_flips_that_fraction_to_other_classes():
    n, p = 20000, 0.1
    x, y, tree = make_odt_data(n, 4, depth=3, seed=6, label_noise=p, n_classes=3)
    flipped = (tree.predict(x) != y).float().mean()
    assert abs(float(flipped) - p) < 5 * math.sqrt(p * (1 - p) / n)  # binomial, 5σ


def test_cob_odt_is_the_papers_protocol():
    x, y, tree = cob_odt(4000, 20, seed=365)
    assert torch.allclose(x.double().norm(dim=1), torch.ones(4000, dtype=torch.float64), atol=1e-6)
    assert torch.equal(tree.offsets, torch.zeros(15, dtype=torch.float64))
    assert tree.depths.tolist() == [0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3]
    assert torch.equal(tree.leaf_labels, torch.arange(16) % 2)  # sibling leaves differ
    assert 0.4 < float(y.float().mean()) < 0.6 and (tree.node_counts(x) > 0).all()


def test_orthogonal_normals_and_leaf_labels_siblings_differ():
    _, _, tree = make_odt_data(800, 10, depth=3, seed=7, orthogonal=True, leaf_labels="random", n_classes=3)
    assert torch.allclose(tree.normals @ tree.normals.T, torch.eye(7, dtype=torch.float64), atol=1e-12)
    assert (tree.leaf_labels[0::2] != tree.leaf_labels[1::2]).all()


def test_tree_round_trips_through_a_dict():
    x, y, tree = make_odt_data(300, 3, depth=2, seed=8)
    back = ObliqueTree.from_dict(tree.to_dict())
    assert torch.equal(back.predict(x), y) and back.n_classes == 2 and tree.level(1) == [1, 2]


def test_sample_inputs_distributions():
    g = torch.Generator().manual_seed(0)
    assert sample_inputs(500, 3, "uniform", seed=g).abs().max() <= 1
    s = sample_inputs(500, 3, "sphere", seed=g)
    assert torch.allclose(s.norm(dim=1), torch.ones(500, dtype=torch.float64))


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(dist="cube"), "unknown input distribution 'cube'"),
        (dict(offsets="mean"), "unknown offsets 'mean'"),
        (dict(n_classes=9), r"n_classes must be in 2\.\.8"),
        (dict(depth=0), "depth must be >= 1"),
        (dict(n=5), "use n >= 16 for a depth-3 tree"),
        (dict(d=4, orthogonal=True), "needs at most d=4 nodes"),
        (dict(leaf_labels=[0, 1]), "leaf_labels needs 8 labels"),
        (dict(label_noise=1.0), "label_noise"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(kw, match):
    args = dict(n=200, d=5, depth=3, seed=0) | kw
    with pytest.raises(ConfigError, match=match):
        make_odt_data(**args)


def test_zero_offsets_that_leave_a_side_empty_are_refused():
    with pytest.raises(ConfigError, match="sends all its .* points to one side: use offsets='median'"):
        for seed in range(50):  # 2-D, through the origin, depth 4: some node fails for some seed
            make_odt_data(64, 2, depth=4, seed=seed, offsets="zero")
