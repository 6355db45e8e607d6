"""Gating geometry: DLGN hyperplanes are products of gating weights; path regions are the hard gates;
hyperplane distance is sign- and scale-free; nearest distances and counts match brute force."""

import functools
import itertools
import math

import pytest
import torch

from neuralpaths import DGN, DLGN, MLP, Arch, npv
from neuralpaths.geometry import (
    Hyperplanes,
    activation_patterns,
    append_constant,
    attraction_rows,
    count_within,
    gating_hyperplanes,
    hyperplane_distance,
    linear_regions,
    nearest_gating_distance,
    pairwise_hyperplane_distance,
    path_halfspaces,
    path_region,
    path_value,
    unit_path_values,
)

F64 = torch.float64


def randn(*shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def dlgn(d, widths, *, shallow=False, bias=False, gate="hard", out=1, seed=0, value_input="ones"):
    arch = Arch.mlp(d, widths, out, bias=bias)
    return DLGN(arch, shallow=shallow, gate=gate, seed=seed, value_input=value_input).double()


# --- hyperplanes of a model -----------------------------------------------------------------
@pytest.mark.parametrize("d, widths", [(2, [3, 4, 2]), (5, [4, 4]), (9, [6, 3, 5, 2])])
@pytest.mark.parametrize("bias", [False, True])
def test_dlgn_hyperplanes_are_products_of_gating_weights(d, widths, bias):
    model = dlgn(d, widths, bias=bias)
    ws = [m.weight for m in model.gating]
    planes = gating_hyperplanes(model)
    x = randn(20, d, seed=1)
    for layer, (h, q) in enumerate(zip(planes, model.preactivations(x)), start=1):
        v = functools.reduce(lambda acc, w: w @ acc, ws[1:layer], ws[0])  # W_l ⋯ W_1
        assert torch.allclose(h.normals, v, atol=1e-12)
        if bias:  # b_l = Σ_j W_l ⋯ W_{j+1} c_j
            b = sum(
                functools.reduce(lambda acc, w: w @ acc, ws[j + 1 : layer], model.gating[j].bias)
                for j in range(layer)
            )
            assert torch.allclose(h.offsets, b, atol=1e-12)
        else:
            assert h.offsets is None
        assert torch.allclose(h.evaluate(x), q, atol=1e-12)  # q_l = V_l x + b_l


@pytest.mark.parametrize("bias", [False, True])
def test_dlgn_sf_hyperplanes_are_its_parameters(bias):
    model = dlgn(4, [3, 5], shallow=True, bias=bias)
    for h, m in zip(gating_hyperplanes(model), model.gating):
        assert torch.equal(h.normals, m.weight.detach())
        assert (h.offsets is None) if not bias else torch.equal(h.offsets, m.bias.detach())


@pytest.mark.parametrize("bias", [False, True])
def test_conv_dlgn_hyperplanes_reproduce_preactivations(bias):
    arch = Arch((2, 3, 3), (2, 3), (), 2, "gap", bias=bias)
    model = DLGN(arch, seed=0).double()
    x = randn(5, 2, 3, 3)
    for h, q in zip(gating_hyperplanes(model), model.preactivations(x)):
        assert h.normals.shape == (q[0].numel(), 18)
        assert torch.allclose(h.evaluate(x.flatten(1)), q.flatten(1), atol=1e-12)


ARCHS = {
    "fc": lambda bias: Arch.mlp(3, [4, 5], 2, bias=bias),
    "conv": lambda bias: Arch((1, 4, 4), (2, 2), (), 1, "gap", bias=bias),
    "conv-dense": lambda bias: Arch((2, 3, 3), (2,), (3,), 2, "flatten", bias=bias),
}


@pytest.mark.parametrize("kind", [*ARCHS, "shallow"])
@pytest.mark.parametrize("arch_bias", [False, True])
@pytest.mark.parametrize("gating_bias", [None, False, True])
def test_hyperplanes_follow_the_gating_layers_own_biases(kind, arch_bias, gating_bias):
    """Offsets exist iff the gating layers have biases (not iff ``arch.bias``); the hyperplanes
    reproduce the gating pre-activations and every path region equals the model's own hard gates."""
    arch = ARCHS.get(kind, ARCHS["fc"])(arch_bias)
    model = DLGN(arch, shallow=kind == "shallow", gate="hard", gating_bias=gating_bias, seed=9).double()
    has_bias = arch_bias if gating_bias is None else gating_bias
    assert all((m.bias is not None) == has_bias for m in model.gating)
    x = 2 * randn(200, *arch.in_shape, seed=3)
    planes = gating_hyperplanes(model)
    for h, q in zip(planes, model.preactivations(x)):
        assert (h.offsets is not None) == has_bias
        assert torch.allclose(h.evaluate(x.flatten(1)), q.flatten(1), rtol=0, atol=1e-12)
    gates = model.gates(x)
    for units in itertools.islice(itertools.product(*(range(w) for w in arch.widths)), 0, None, 7):
        on = torch.stack([g[:, i] > 0 for g, i in zip(gates, units)], 1).all(1)
        assert torch.equal(path_region(model, units, x), on)


@pytest.mark.parametrize(
    "make", [lambda: MLP(3, [4]), lambda: DGN(Arch.mlp(3, [4])), lambda: DGN.from_relu(MLP(3, [4]))]
)
def test_relu_gates_are_refused(make):
    with pytest.raises(ValueError, match="not half-spaces"):
        gating_hyperplanes(make())


def test_absorb_constant_is_the_lifted_input():
    h = Hyperplanes(randn(4, 3), randn(4, seed=1))
    x = randn(10, 2, seed=2)
    assert torch.allclose(h.evaluate(append_constant(x, 0.7)), h.absorb_constant(0.7).evaluate(x))


def test_hyperplanes_round_trip_and_shape_errors():
    h = Hyperplanes(randn(3, 2), randn(3))
    back = Hyperplanes.from_dict(h.to_dict())
    assert torch.equal(back.normals, h.normals) and torch.equal(back.offsets, h.offsets)
    with pytest.raises(ValueError, match="offsets must have shape"):
        Hyperplanes(randn(3, 2), randn(2))
    with pytest.raises(ValueError, match=r"inputs must have shape \(n, 2\)"):
        h.evaluate(randn(4, 3))


# --- path regions and values ----------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3, 7])
@pytest.mark.parametrize("shallow", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_path_region_is_where_all_its_gates_are_on(d, shallow, bias):
    """Region from the hyperplanes == the hard gates of the path's units all on (every path)."""
    model = dlgn(d, [3, 2, 3], shallow=shallow, bias=bias, seed=d)
    x = 4 * randn(400, d, seed=d + 1)  # wide enough to reach regions far from the origin (biases)
    gates = model.gates(x)  # hard gates
    nonempty = 0
    for units in itertools.product(*(range(w) for w in model.arch.widths)):
        on = torch.stack([g[:, i] for g, i in zip(gates, units)], 1).prod(1).bool()
        region = path_region(model, units, x)
        assert torch.equal(region, on)
        assert torch.equal(path_region(model, (0, *units), x), region)  # the input coordinate is irrelevant
        nonempty += bool(region.any())
    assert nonempty > 0


def test_path_region_uses_the_hard_limit_of_soft_gates():
    model = dlgn(4, [5, 5], gate="soft")
    x = randn(200, 4)
    q = model.preactivations(x)
    assert torch.equal(path_region(model, (1, 3), x), (q[0][:, 1] > 0) & (q[1][:, 3] > 0))
    assert path_halfspaces(model, (1, 3)).normals.shape == (2, 4)


def test_path_value_is_the_npv_row():
    model = dlgn(3, [2, 3], out=2)
    v, rows = npv(model), list(itertools.product(range(3), range(2), range(3)))
    for r, path in enumerate(rows):
        assert torch.allclose(path_value(model, path), v[r], atol=1e-14)
    table = unit_path_values(model)  # ones input: Σ over the input coordinate
    assert table.shape == (2, 3, 2)
    assert torch.allclose(table, v.view(3, 2, 3, 2).sum(0), atol=1e-14)
    assert torch.allclose(path_value(model, (1, 2)), table[1, 2])


@pytest.mark.parametrize("shallow", [False, True])
def test_dlgn_output_is_sum_of_path_values_over_path_regions(shallow):
    """Hard-gate DLGN, ones input: ŷ(x) = Σ_π g_π · 1{x ∈ region(π)}."""
    model = dlgn(3, [3, 4, 2], shallow=shallow, out=2, bias=False)
    x = randn(50, 3, seed=5)
    table = unit_path_values(model)
    total = torch.zeros(50, 2, dtype=F64)
    for units in itertools.product(*(range(w) for w in model.arch.widths)):
        total += path_region(model, units, x)[:, None] * table[units]
    assert torch.allclose(total, model(x), atol=1e-12)


def test_path_errors_name_the_problem():
    model = dlgn(3, [2, 2], value_input="x")
    with pytest.raises(ValueError, match="one unit per hidden layer"):
        path_region(model, (0,), randn(2, 3))
    with pytest.raises(ValueError, match="unit 5 out of range for hidden layer 2"):
        path_halfspaces(model, (0, 5))
    with pytest.raises(ValueError, match="value_input='ones'"):
        path_value(model, (0, 1))
    assert path_value(model, (2, 0, 1)).shape == (1,)


# --- distances ------------------------------------------------------------------------------
def test_distance_sign_scale_symmetry_and_range():
    u, v = randn(300, 6, seed=1), randn(300, 6, seed=2)
    s = torch.rand(300, 1, dtype=F64) * 10 + 0.01
    d = hyperplane_distance(u, v)
    assert torch.allclose(hyperplane_distance(u, -v), d, atol=1e-12)
    assert torch.allclose(hyperplane_distance(-u, v), d, atol=1e-12)
    assert torch.allclose(hyperplane_distance(v, u), d, atol=1e-12)
    assert torch.allclose(hyperplane_distance(s * u, v / s), d, atol=1e-12)
    assert torch.equal(hyperplane_distance(u, u), torch.zeros(300, dtype=F64))
    assert torch.allclose(hyperplane_distance(u, -3 * u), torch.zeros(300, dtype=F64), atol=1e-15)
    assert (d >= 0).all() and (d <= math.sqrt(2) + 1e-12).all()
    # orthogonal normals are the farthest apart: √2
    assert torch.allclose(
        hyperplane_distance(torch.eye(3, dtype=F64), torch.eye(3, dtype=F64).roll(1, 0)),
        torch.full((3,), math.sqrt(2), dtype=F64),
    )
    # the pairwise matrix agrees with the elementwise version
    p = pairwise_hyperplane_distance(u[:7], v[:5])
    assert torch.allclose(p, hyperplane_distance(u[:7, None], v[None, :5]), atol=1e-12)


def test_random_pairs_in_high_dimension_are_near_sqrt2():
    """cos θ of random directions has std 1/√d; d = √(2 − 2|cos θ|) ≥ √2 (1 − |cos θ|), so
    √2 − d ≤ √2 · 6/√d except with probability ~2e-9 per pair (6σ)."""
    dim, n = 2000, 200
    d = hyperplane_distance(randn(n, dim, seed=3), randn(n, dim, seed=4))
    assert ((math.sqrt(2) - d) <= math.sqrt(2) * 6 / math.sqrt(dim)).all()
    assert (d <= math.sqrt(2) + 1e-12).all()
    low = hyperplane_distance(randn(n, 2, seed=3), randn(n, 2, seed=4))  # in 2-D: uniform angle, far from √2
    assert float(low.mean()) < 1.0


def test_distance_with_offsets_uses_homogeneous_vectors():
    w = randn(10, 3)
    through0 = Hyperplanes(w, torch.zeros(10, dtype=F64))
    v = randn(10, 3, seed=1)
    assert torch.allclose(hyperplane_distance(through0, v), hyperplane_distance(w, v), atol=1e-12)
    h = Hyperplanes(w, randn(10, seed=2))
    same = Hyperplanes(-2.5 * w, -2.5 * h.offsets)  # the same hyperplanes, written differently
    assert torch.allclose(hyperplane_distance(h, same), torch.zeros(10, dtype=F64), atol=1e-12)
    shifted = Hyperplanes(w, h.offsets + 1.0)  # parallel, different: positive distance
    assert (hyperplane_distance(h, shifted) > 0.01).all()
    manual = hyperplane_distance(h.homogeneous(), shifted.homogeneous())
    assert torch.allclose(hyperplane_distance(h, shifted), manual)


def test_nearest_distance_and_counts_match_brute_force():
    targets = randn(6, 4, seed=7)
    layers = [Hyperplanes(randn(5, 4, seed=8)), Hyperplanes(randn(3, 4, seed=9))]
    layers[1].normals[0] = -2 * targets[2]  # one gating hyperplane *is* target 2
    brute = torch.tensor(
        [[min(float(hyperplane_distance(t, g)) for g in layer.normals) for layer in layers] for t in targets],
        dtype=F64,
    )
    per = nearest_gating_distance(targets, layers, per_layer=True)
    assert torch.allclose(per, brute)
    assert torch.allclose(nearest_gating_distance(targets, layers), brute.min(1).values)
    assert float(nearest_gating_distance(targets, layers)[2]) == 0.0
    radii = (0.5, 1.0, 1.3)
    counts = count_within(targets, layers, radii)
    all_normals = torch.cat([layer.normals for layer in layers])
    for i, t in enumerate(targets):
        d = hyperplane_distance(t, all_normals)
        assert counts[i].tolist() == [int((d <= r).sum()) for r in radii]
    assert torch.equal(count_within(targets, layers, radii, per_layer=True).sum(1), counts)
    rows = attraction_rows(targets, layers, layers, depths=[0, 1, 1, 2, 2, 2], radii=radii)
    assert rows[2]["dist_final"] == 0.0 and rows[2]["nearest_layer"] == 2 and rows[2]["within_0.5"] >= 1
    assert set(rows[0]) == {
        "node",
        "depth",
        "dist_init",
        "dist_final",
        "nearest_layer",
        "within_0.5",
        "within_1",
        "within_1.3",
    }


# --- activation patterns --------------------------------------------------------------------
def test_region_ids_are_gate_patterns():
    net = MLP(2, [4, 3], bias=True, seed=0).double()
    x = randn(300, 2)
    ids, n = linear_regions(net, x)
    pats = activation_patterns(net, x)
    same_id = ids[:, None] == ids[None, :]
    same_pattern = (pats[:, None, :] == pats[None, :, :]).all(-1)
    assert torch.equal(same_id, same_pattern) and n == len(torch.unique(pats, dim=0))
    gates = torch.cat(net.gates(x), 1).bool()
    assert torch.equal(pats, gates)


def test_one_hidden_layer_1d_regions_are_the_intervals_between_knots():
    """f(x) = Σ c_i relu(a_i x + b_i): the patterns on a fine grid are the (#knots inside + 1) intervals."""
    net = MLP(1, [6], bias=True, seed=3).double()
    a, b = net.layers[0].weight[:, 0].detach(), net.layers[0].bias.detach()
    knots = -b / a
    lo, hi = float(knots.min()) - 1, float(knots.max()) + 1
    _, n = linear_regions(net, torch.linspace(lo, hi, 20001, dtype=F64)[:, None])
    assert n == len(torch.unique(knots)) + 1
