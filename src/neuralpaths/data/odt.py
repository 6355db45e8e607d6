"""Labelled data from random oblique decision trees (ODT), the DLGN papers' synthetic benchmark.

A complete tree of depth ``D`` has ``m = 2^D − 1`` internal nodes in heap order (node ``i`` at depth
``⌊log2(i+1)⌋``; children ``2i+1`` on the negative side ``⟨w_i, x⟩ + b_i ≤ 0`` and ``2i+2`` on the
positive side) and ``2^D`` leaves; leaf ``j`` (``0..2^D−1``, left to right) is reached by the
decisions that spell ``j`` in binary, root first. Leaves are labelled ``j mod k`` by default, so
sibling leaves always differ and every split matters: the label function is piecewise constant
with discontinuities only on the tree's hyperplanes.

The ICLR 2025 paper's COB-ODT data (:func:`cob_odt`) are points uniform on the unit sphere in
``R^d``, with random Gaussian-direction hyperplanes through the origin at every node and sibling
leaves labelled 0/1 (its generator, ``odt-benchmark/generate_odt_data.py``, draws with numpy, so
the same seed gives different trees here). :func:`make_odt_data` generalises it: cube, sphere or
Gaussian inputs; offsets at the median of the projections of the points reaching each node (every
node then splits its points in half); ``k`` classes; optional orthonormal normals; a margin; label noise.

Shape:
    ``X: (n, d)`` float32, ``y: (n,)`` int64; tree ``normals: (m, d)``, ``offsets: (m,)`` float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import positive_int, real
from ..errors import ConfigError
from ..geometry import Hyperplanes

DISTS = ("uniform", "sphere", "gaussian")
OFFSETS = ("median", "zero")


def _generator(seed: int | torch.Generator) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or a torch.Generator, got {type(seed).__name__}")
    return torch.Generator().manual_seed(seed)


def sample_inputs(n: int, d: int, dist: str = "uniform", *, seed: int | torch.Generator) -> Tensor:
    """``n`` points in ``R^d``: ``"uniform"`` on the cube ``[-1, 1]^d``, ``"sphere"`` uniform on the unit
    sphere, ``"gaussian"`` standard normal. Shape: ``-> (n, d)`` float64."""
    if dist not in DISTS:
        raise ConfigError(f"unknown input distribution {dist!r}: use one of {DISTS}")
    n, d = positive_int("n", n, minimum=0), positive_int("d", d)
    g = _generator(seed)
    if dist == "uniform":
        return 2 * torch.rand((n, d), generator=g, dtype=torch.float64) - 1
    x = torch.randn((n, d), generator=g, dtype=torch.float64)
    return x / x.norm(dim=1, keepdim=True) if dist == "sphere" else x


@dataclass(frozen=True, eq=False)
class ObliqueTree:
    """A complete oblique decision tree: node hyperplanes in heap order and the leaves' labels.

    Shape:
        ``normals: (m, d)`` unit rows, ``offsets: (m,)``, ``leaf_labels: (m + 1,)`` int64.
    """

    normals: Tensor
    offsets: Tensor
    leaf_labels: Tensor
    n_classes: int

    def __post_init__(self) -> None:
        m = len(self.normals)
        if m < 1 or (m + 1) & m or tuple(self.offsets.shape) != (m,) or len(self.leaf_labels) != m + 1:
            raise ValueError(
                "a complete tree has m = 2^D - 1 nodes and m + 1 leaves; got normals "
                f"{tuple(self.normals.shape)}, offsets {tuple(self.offsets.shape)}, "
                f"leaf_labels {tuple(self.leaf_labels.shape)}"
            )

    @property
    def depth(self) -> int:
        return (len(self.normals) + 1).bit_length() - 1

    @property
    def dim(self) -> int:
        return self.normals.shape[1]

    @property
    def depths(self) -> Tensor:
        """Depth of each internal node (root 0). Shape: ``(m,)`` int64."""
        return torch.log2(torch.arange(1, len(self.normals) + 1, dtype=torch.float64)).floor().long()

    @property
    def hyperplanes(self) -> Hyperplanes:
        return Hyperplanes(self.normals, self.offsets)

    def level(self, depth: int) -> list[int]:
        """Indices of the internal nodes at ``depth``."""
        return list(range(2**depth - 1, 2 ** (depth + 1) - 1))

    def _walk(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(nodes (n, D), positive (n, D), leaf (n,))``: the nodes visited, the side taken, the leaf."""
        s = self.hyperplanes.evaluate(x)  # (n, m)
        node = torch.zeros(len(x), dtype=torch.long, device=x.device)
        nodes, sides = [], []
        for _ in range(self.depth):
            pos = s.gather(1, node[:, None])[:, 0] > 0
            nodes.append(node)
            sides.append(pos)
            node = 2 * node + 1 + pos.long()
        return torch.stack(nodes, 1), torch.stack(sides, 1), node - len(self.normals)

    def path_nodes(self, x: Tensor) -> Tensor:
        """The internal node each input visits at each depth. Shape: ``(n, d) -> (n, D)`` int64."""
        return self._walk(x)[0]

    def leaf_index(self, x: Tensor) -> Tensor:
        """Leaf reached by each input, ``0..2^D − 1``. Shape: ``(n, d) -> (n,)`` int64."""
        return self._walk(x)[2]

    def predict(self, x: Tensor) -> Tensor:
        """The tree's label for each input. Shape: ``(n, d) -> (n,)`` int64."""
        return self.leaf_labels.to(x.device)[self.leaf_index(x)]

    def margin(self, x: Tensor) -> Tensor:
        """Distance of each input to the nearest hyperplane on its own root-to-leaf path (a lower
        bound on its distance to the label's discontinuities). Shape: ``(n, d) -> (n,)``."""
        return self.hyperplanes.distance_to(x).gather(1, self.path_nodes(x)).min(dim=1).values

    def node_counts(self, x: Tensor) -> Tensor:
        """Inputs reaching each node and going to its negative / positive side. Shape: ``(m, 2)``."""
        nodes, pos, _ = self._walk(x)
        counts = torch.zeros(2 * len(self.normals), dtype=torch.long, device=x.device)
        counts.index_add_(0, (2 * nodes + pos.long()).flatten(), torch.ones_like(nodes).flatten())
        return counts.view(-1, 2)

    def to_dict(self) -> dict:
        """JSON-able form (lists); :meth:`from_dict` inverts it."""
        return {
            "normals": self.normals.tolist(),
            "offsets": self.offsets.tolist(),
            "leaf_labels": self.leaf_labels.tolist(),
            "n_classes": self.n_classes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ObliqueTree:
        return cls(
            torch.tensor(d["normals"], dtype=torch.float64),
            torch.tensor(d["offsets"], dtype=torch.float64),
            torch.tensor(d["leaf_labels"], dtype=torch.long),
            int(d["n_classes"]),
        )


def _leaf_labels(spec: str | Sequence[int], n_leaves: int, k: int, g: torch.Generator) -> Tensor:
    if not isinstance(spec, str):
        labels = torch.as_tensor(list(spec), dtype=torch.long)
        if len(labels) != n_leaves or labels.min() < 0 or labels.max() >= k:
            raise ConfigError(f"leaf_labels needs {n_leaves} labels in 0..{k - 1}, got {labels.tolist()}")
        return labels
    if spec == "alternating":
        return torch.arange(n_leaves) % k
    if spec == "random":  # sibling leaves differ: the second draws among the other k - 1 classes
        first = torch.randint(0, k, (n_leaves // 2,), generator=g)
        second = (first + torch.randint(1, k, (n_leaves // 2,), generator=g)) % k
        return torch.stack([first, second], 1).flatten()
    raise ConfigError(f"unknown leaf_labels {spec!r}: use 'alternating', 'random' or a list of labels")


def _normals(m: int, d: int, orthogonal: bool, g: torch.Generator) -> Tensor:
    w = torch.randn((m, d), generator=g, dtype=torch.float64)
    if orthogonal:
        if m > d:
            raise ConfigError(f"orthogonal=True needs at most d={d} nodes, the tree has {m}")
        w = torch.linalg.qr(w.T).Q.T  # (d, m) -> orthonormal rows (m, d)
    return w / w.norm(dim=1, keepdim=True)


def _build_offsets(x: Tensor, normals: Tensor, depth: int, offsets: str) -> Tensor:
    """Node offsets, top-down; every node must send inputs to both sides."""
    m = len(normals)
    b = torch.zeros(m, dtype=torch.float64)
    reach = [torch.arange(len(x))] + [None] * (m - 1)
    for i in range(m):
        proj = x[reach[i]] @ normals[i]
        if offsets == "median":
            if len(proj) < 2:
                raise ConfigError(
                    f"node {i} (depth {(i + 1).bit_length() - 1}) receives {len(proj)} points: "
                    f"use n >= {2 ** (depth + 1)} for a depth-{depth} tree"
                )
            b[i] = -torch.quantile(proj, 0.5)
        pos = proj + b[i] > 0
        if pos.all() or not pos.any():
            raise ConfigError(
                f"node {i} (depth {(i + 1).bit_length() - 1}) sends all its {len(proj)} points to one side: "
                "use offsets='median', a larger n, or another seed"
            )
        if 2 * i + 2 < m:
            reach[2 * i + 1], reach[2 * i + 2] = reach[i][~pos], reach[i][pos]
    return b


def make_odt_data(
    n: int,
    d: int,
    depth: int = 4,
    *,
    seed: int | torch.Generator,
    dist: str = "uniform",
    offsets: str = "median",
    n_classes: int = 2,
    leaf_labels: str | Sequence[int] = "alternating",
    orthogonal: bool = False,
    min_margin: float = 0.0,
    label_noise: float = 0.0,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, ObliqueTree]:
    """``n`` points labelled by a random oblique decision tree of ``depth`` in ``R^d``.

    The tree is built on the sample: random unit normals (``orthogonal=True``: orthonormal), offsets
    ``"median"`` (each node halves the sample points reaching it) or ``"zero"`` (through the origin,
    as in COB-ODT; a node that leaves one side empty is an error). ``min_margin > 0`` replaces points
    closer than it to a hyperplane on their path by fresh draws (so no point lies within
    ``min_margin`` of a label discontinuity; the reference generator instead drops points near any
    node). ``label_noise`` flips that fraction of labels (each with that probability) to another class.
    Without noise ``tree.predict(X) == y``.

    Returns:
        ``(X, y, tree)``: ``X (n, d)`` in ``dtype``, ``y (n,)`` int64, the :class:`ObliqueTree`.
    """
    if positive_int("depth", depth, minimum=0) < 1:
        raise ConfigError(f"depth must be >= 1, got {depth}")
    n_classes = positive_int("n_classes", n_classes)
    label_noise, min_margin = real("label_noise", label_noise), real("min_margin", min_margin)
    if offsets not in OFFSETS:
        raise ConfigError(f"unknown offsets {offsets!r}: use one of {OFFSETS}")
    if not 2 <= n_classes <= 2**depth:
        raise ConfigError(f"n_classes must be in 2..{2**depth} (the number of leaves), got {n_classes}")
    if not 0 <= label_noise < 1 or min_margin < 0:
        raise ConfigError(f"need 0 <= label_noise < 1 and min_margin >= 0, got {label_noise}, {min_margin}")
    g = _generator(seed)
    normals = _normals(2**depth - 1, d, orthogonal, g)  # drawn first: the same seed gives the same
    labels = _leaf_labels(leaf_labels, 2**depth, n_classes, g)  # normals and leaf labels for every n
    x = sample_inputs(n, d, dist, seed=g)
    tree = ObliqueTree(normals, _build_offsets(x, normals, depth, offsets), labels, n_classes)
    if min_margin > 0:
        kept = [x[tree.margin(x) >= min_margin]]
        total, drawn = len(kept[0]), n
        while total < n:
            if total == 0 or drawn > 1000 * n:
                raise ConfigError(f"min_margin={min_margin} leaves too few points ({total} of {drawn} kept)")
            more = sample_inputs(n, d, dist, seed=g)
            kept.append(more[tree.margin(more) >= min_margin])
            total, drawn = total + len(kept[-1]), drawn + n
        x = torch.cat(kept)[:n]
    x = x.to(dtype)
    y = tree.predict(x)
    if label_noise > 0:
        flip = torch.rand(n, generator=g) < label_noise
        shift = torch.randint(1, n_classes, (n,), generator=g)
        y = torch.where(flip, (y + shift) % n_classes, y)
    return x, y, tree


def cob_odt(
    n: int, d: int, depth: int = 4, *, seed: int | torch.Generator, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor, ObliqueTree]:
    """The ICLR 2025 paper's COB-ODT data: unit-sphere inputs, random hyperplanes through the origin,
    sibling leaves labelled 0/1 (paper: depth 4; d = 20, 100, 500; n = 40k, 60k, 100k before a
    50/25/25 split). Returns ``(X, y, tree)`` as :func:`make_odt_data`."""
    return make_odt_data(n, d, depth, seed=seed, dist="sphere", offsets="zero", dtype=dtype)
