"""Self-checks of the brute-force path oracle against the zoo modules themselves."""

from __future__ import annotations

import itertools

import pytest
import torch

from .brute import enumerate_paths, enumerate_tagged, path_norm
from .zoo import BLOCKS, IN_SHAPE, ZOO, build, inputs

NAMES = list(ZOO)
RESIDUAL = list(BLOCKS)

# Paths into one output unit, counted by hand ("+1" terms are the bias paths of a unit):
# mlp_bias / leaky: h1 unit 3+1 = 4, h2 unit 1+4·4 = 17, output 1+3·17 = 52.
# functional_relu: 4, 1+4·4 = 17, 1+4·17 = 69, output 1+3·69 = 208.
# conv_valid_stride: conv1 unit 9+1 = 10, conv2 unit 1+2·4·10 = 81, output 1+8·81 = 649.
# conv_same_dilation_groups: on 5 pixels the dilated taps {q−2, q, q+2} inside the image number
#   c = (2, 2, 3, 2, 2), Σc = 11; conv1 unit 1+c_h·c_w (one in channel per group); conv2 unit
#   1+4(1+c_h·c_w); mean unit Σ_pixels = 25·5 + 4·11² = 609; output 1+2·609 = 1219.
# conv1d: conv unit 1+2·taps, taps (2,3,3,3,3,3,3,2); pool windows (5+7, 7+7, 7+7, 7+5) sum to 52
#   per channel; output 1+3·52 = 157.
# maxpool: conv1 unit 1+c_h·c_w with c = (2,3,3,3,3,2); pool unit 4+S_a·S_b with S = (5,6,5), i.e.
#   [[29,34,29],[34,40,34],[29,34,29]]; conv2 unit 1+2·(sum over its 3x3 neighbourhood):
#   [[275,401,275],[401,585,401],[275,401,275]]; every padded 3x3/2 window holds a 2x2 corner block
#   of those: 275+401+401+585 = 1662; output 1+8·1662 = 13297.
# avgpool: conv1 c = (2,3,3,3,2), pool unit 4+S_a·S_b with S = (5,6): 29,34,34,40 (sum 137); conv2
#   unit 1+2·137 = 275; global pool 4·275 = 1100 per channel; output 1+2·1100 = 2201.
# resnet_identity: stem 4; lin1 1+4·4 = 17; lin2 1+4·17 = 69; add 69+4 = 73; output 1+4·73 = 293.
# resnet_projection: stem 4+1 = 5; block1 conv1 1+2·4·5 = 41, conv2 1+8·41 = 329, add 334;
#   block2 conv1 1+2·334 = 669, conv2 1+3·669 = 2008, shortcut 669, add 2677;
#   output 1+3·4·2677 = 32125.
# batchnorm: conv unit 9 + 1 (bias created by the fold) = 10; linear unit 1+8·10 = 81; 1+4·81 = 325.
# cat_view: both branches' units 3+1 = 4; output 1+5·4 = 21.
COUNTS = {
    "mlp_bias": 52,
    "functional_relu": 208,
    "leaky": 52,
    "conv_valid_stride": 649,
    "conv_same_dilation_groups": 1219,
    "conv1d": 157,
    "maxpool": 13297,
    "avgpool": 2201,
    "resnet_identity": 293,
    "resnet_projection": 32125,
    "batchnorm": 325,
    "cat_view": 21,
}

# Paths per sub-architecture (operand chosen at each add; "skip" also holds the paths that start after
# the add): resnet_identity: skip 4·4+1 = 17, branch 4·69 = 276. resnet_projection: into block2's add
# via its branch 3·2·329 = 1974 paths pass block1's branch and 2008−1974 = 34 do not; via its
# shortcut 2·329 = 658 and 669−658 = 11; times 3 channels · 4 pixels, +1 output bias for skip/skip.
SUB_COUNTS = {
    "resnet_identity": {("skip",): 17, ("branch",): 276},
    "resnet_projection": {
        ("skip", "skip"): 12 * 11 + 1,
        ("skip", "branch"): 12 * 34,
        ("branch", "skip"): 12 * 658,
        ("branch", "branch"): 12 * 1974,
    },
}


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", NAMES)
def test_identity1_phi_v_equals_model(name, seed):
    model, x = build(name, seed), inputs(name, 5, seed=seed + 1)
    phi, v = enumerate_paths(name, model, x)
    out = model(x)
    assert phi.dtype == v.dtype == torch.float64
    assert phi.shape == (5, COUNTS[name]) and v.shape == (COUNTS[name], out.shape[1])
    close(phi @ v, out)


@pytest.mark.parametrize("name", NAMES)
def test_zoo_is_deterministic_float64_eval_and_leaves_global_rng(name):
    state = torch.random.get_rng_state()
    a, b, c = build(name, 0), build(name, 0), build(name, 1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert not a.training and all(p.dtype == torch.float64 for p in a.parameters())
    x = inputs(name, 3)
    assert x.shape == (3, *IN_SHAPE[name]) and x.dtype == torch.float64
    assert torch.equal(a(x), b(x)) and not torch.allclose(a(x), c(x))
    biases = [m.bias for m in a.modules() if getattr(m, "bias", None) is not None]
    assert biases and all(bool((bias != 0).all()) for bias in biases)


def test_mlp_bias_paths_one_index_tuple_at_a_time():
    """The 52 paths of mlp_bias written out from the definitions: 3·4·3 input paths, 4·3 bias paths
    from the first hidden layer, 3 from the second, 1 output bias."""
    model = build("mlp_bias", 0)
    x = inputs("mlp_bias", 6)
    (w1, b1), (w2, b2), (w3, b3) = [(m.weight, m.bias) for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        g1 = (x @ w1.T + b1 > 0).double()
        g2 = (torch.relu(x @ w1.T + b1) @ w2.T + b2 > 0).double()
    ones = torch.ones(6, dtype=torch.float64)
    rows = [(ones, b3)]  # (feature (n,), values (k,)) per path
    for i2 in range(3):
        rows.append((g2[:, i2], w3[:, i2] * b2[i2]))
        for i1 in range(4):
            rows.append((g1[:, i1] * g2[:, i2], w3[:, i2] * w2[i2, i1] * b1[i1]))
            for i0 in range(3):
                rows.append((x[:, i0] * g1[:, i1] * g2[:, i2], w3[:, i2] * w2[i2, i1] * w1[i1, i0]))
    assert len(rows) == 3 * 4 * 3 + 4 * 3 + 3 + 1 == 52
    want = torch.stack([torch.cat([f, v]) for f, v in rows]).detach()
    phi, v = enumerate_paths("mlp_bias", model, x)
    got = torch.cat([phi.T, v], 1)
    key = lambda row: tuple(round(t, 9) for t in row.tolist())
    close(torch.stack(sorted(got, key=key)), torch.stack(sorted(want, key=key)))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", RESIDUAL)
def test_sub_architectures_partition_the_paths(name, seed):
    model, x = build(name, seed), inputs(name, 4, seed=seed + 1)
    phi, v = enumerate_paths(name, model, x)
    blocks = BLOCKS[name]
    out, gram, count, sq = torch.zeros_like(model(x)), torch.zeros(4, 4, dtype=torch.float64), 0, 0.0
    for combo in itertools.product(("skip", "branch"), repeat=len(blocks)):
        phi_c, v_c = enumerate_paths(name, model, x, dict(zip(blocks, combo)))
        assert phi_c.shape[1] == SUB_COUNTS[name][combo]
        out, gram, count = out + phi_c @ v_c, gram + phi_c @ phi_c.T, count + phi_c.shape[1]
        sq = sq + v_c.pow(2).sum()
    close(out, model(x))
    close(gram, phi @ phi.T)
    assert count == COUNTS[name]
    torch.testing.assert_close(sq, v.pow(2).sum(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", RESIDUAL)
def test_late_paths_both_counts_paths_that_start_after_m_adds_2_pow_m_times(name):
    model, x = build(name, 0), inputs(name, 4)
    phi, v, codes = enumerate_tagged(name, model, x)
    blocks = BLOCKS[name]
    times = 2 ** sum((codes[b] == 0).long() for b in blocks)
    total = torch.zeros_like(model(x))
    for combo in itertools.product(("skip", "branch"), repeat=len(blocks)):
        phi_c, v_c = enumerate_paths(name, model, x, dict(zip(blocks, combo)), late_paths="both")
        total = total + phi_c @ v_c
    close(total, phi @ (times[:, None] * v))


@pytest.mark.parametrize("late_paths", ["skip", "both"])
def test_resnet_identity_sub_architectures_use_the_full_networks_gates(late_paths):
    """The skip / branch sub-network keeps only one operand of the add but the gate after the add is
    the full network's ``1{h + branch(h) > 0}``."""
    model, x = build("resnet_identity", 0), inputs("resnet_identity", 6)
    with torch.no_grad():
        h = model.stem(x)
        branch = model.block1.lin2(torch.relu(model.block1.lin1(h)))
        g = (h + branch > 0).double()
        head = model.head
        want = {
            "skip": head(g * h),
            "branch": (g * branch) @ head.weight.T + (head.bias if late_paths == "both" else 0.0),
        }
    for choice in ("skip", "branch"):
        phi, v = enumerate_paths("resnet_identity", model, x, {"block1": choice}, late_paths=late_paths)
        close(phi @ v, want[choice])


def test_unlisted_blocks_keep_both_operands_and_bad_choices_raise():
    model, x = build("resnet_projection", 0), inputs("resnet_projection", 3)
    phi, _ = enumerate_paths("resnet_projection", model, x, {"block1": "skip"})
    assert phi.shape[1] == SUB_COUNTS["resnet_projection"][("skip", "skip")] + 12 * 34
    # operand codes 0 (starts after the add) / 1 (skip) / 2 (branch): after block1's add start the
    # block2 biases (conv2 1 + conv1 3 + shortcut 1 per add unit) and the output bias
    _, _, codes = enumerate_tagged("resnet_projection", model, x)
    assert torch.bincount(codes["block1"]).tolist() == [
        12 * 5 + 1,
        12 * (3 * 2 * 5 + 2 * 5),
        12 * (1974 + 658),
    ]
    assert torch.bincount(codes["block2"]).tolist() == [1, 12 * 669, 12 * 2008]
    with pytest.raises(ValueError):
        enumerate_paths("resnet_projection", model, x, {"block1": "both"})
    with pytest.raises(ValueError):
        enumerate_paths("resnet_projection", model, x, {"block3": "skip"})


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_mlp_path_norm_matches_layerwise_recursion(p):
    """Σ_paths Σ_k |v_k|^p = Σ_k s3_k with s_l = |b_l|^p + |W_l|^p s_{l−1}, s_0 = 1 (every path is a
    bias or an input followed by one weight per layer)."""
    model = build("mlp_bias", 3)
    s = torch.ones(3, dtype=torch.float64)
    with torch.no_grad():
        for m in model:
            if isinstance(m, torch.nn.Linear):
                s = m.bias.abs() ** p + m.weight.abs() ** p @ s
    torch.testing.assert_close(path_norm("mlp_bias", model, p), s.sum() ** (1 / p), rtol=1e-12, atol=0)
