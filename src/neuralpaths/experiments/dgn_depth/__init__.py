"""dgn-depth: does depth help training up to a point and hurt it beyond (Deep Gated Networks,
arXiv 2002.03996)?

The paper's own set-ups are not known to us (only its abstract; PAPERS.md §2), so this is the
cleanest test of the claim we could design. Deep gated networks (DGNs) whose gating network is a
random ReLU net, frozen: only the value network trains, so the neural path kernel (NPK) ``H`` never
changes and training is a linear problem in the path values. Fully connected, no biases, value and
gating weights He-normal (``N(0, 2/fan_in)``); ``depth`` counts the gated hidden layers (``depth + 1``
weight layers). Data: ``n = 200`` MNIST training images, class-balanced, each scaled to norm
``√784``, targets ``+1`` for even digits and ``−1`` for odd (scalar output). Depths 1, 2, 3, 4, 6, 8,
12, 16 at widths 16, 64, 256; 3 seeds each. Per run:

- **at init**, the spectrum of ``H / tr H`` (condition number, entropy effective rank, the least
  eigenvalues) and the mean off-diagonal cosine ``H_ij / √(H_ii H_jj)`` — the proposed reason depth
  helps: every gated layer multiplies the input Gram by an overlap factor that is smaller off the
  diagonal than on it, decorrelating the inputs;
- the value NTK's relative deviation ``‖K − c·H‖_F / ‖c·H‖_F`` from its expectation (Identity 3,
  ``c = Σ_l Π_{l'≠l} σ_l'²``, ``d·σ^{2(d−1)}`` for equal ``σ``) — the proposed reason depth hurts;
- **training**: full-batch gradient descent on ``½ Σ_i (f(x_i) − f_0(x_i) − y_i)²`` (the initial
  outputs subtracted, so every run starts from the residual ``−y``) with the fixed learning rate
  ``lr = ½ · 2/λ_max(K_0)`` (the largest stable rate of the linearised problem, halved), in float32;
  ``steps_to_threshold`` is the first step with loss ≤ 1 % of the initial loss (``null`` if not within
  3000 steps). Also recorded: the steps the *initial* kernel ``K_0`` predicts (closed form) and how far
  the NTK moved, ``‖K_T − K_0‖_F / ‖K_0‖_F``.

Beside them: ReLU nets (adaptive gates) with the same data, initialisation and learning-rate rule
(their full NTK); the infinite-width limit of the NPK (``npk_limit``) per depth, with the steps of
gradient descent with that kernel; and the DGN's kernels at init at width 1024 (too costly to
train). "Helps, then hurts" is decided from the medians over seeds: the best depth needs at least
20 % fewer steps than depth 1, and the deepest at least 20 % more than the best.

Acceptance check: at the largest width, ``H / tr H`` agrees with ``npk_limit``'s (also over its trace:
``npk_limit`` is the limit of ``npk(..., normalize=True) = H / Π_l w_l``, a constant factor the trace
removes) within ``2·√(depth/width)`` in relative Frobenius norm. Why that tolerance: each layer's
overlap ``(1/w) Σ_i G_i(x) G_i(x')`` is a mean over ``w`` units, a Monte-Carlo estimate with relative
error ``∝ 1/√w``, and ``depth`` such layers multiply, so the error grows like ``√(depth/w)``; the
run measures the constant (≈ 0.7–1.2) and checks the ``1/√w`` scaling at the two largest widths.

Command:  ``neuralpaths run dgn-depth`` (default preset: ~4 min on 1 CPU thread; measured 196 s of
CPU time for 144 training runs and 24 kernel-only ones, 14 min wall clock while the 2 cores were shared
at load ≈ 10). ``--preset smoke`` is a CI check on scikit-learn's digits (≈ 8 s of CPU);
``--preset paper`` the same protocol larger (500 points, depths to 32, widths to 1024, 5 seeds; not
measured, estimated at several hours).
``--set jobs=N`` runs N of the (kind, width, depth, seed) trials at once in worker processes (each
seeds itself: the same numbers; the torch threads are shared out among them). Each worker first
spends seconds importing torch: on the smoke grid that outweighs the gain (measured on 2 shared
cores: 8 s with ``jobs=1``, 20 s with ``jobs=2``).

Measured (default preset, seed 0; medians of 3 seeds). Infinite width: depth only helps — kernel
gradient descent with ``H∞`` needs 265 steps at depth 1, 50 at 4, 19 at 8, 7 at 16, as
``cond(H∞/tr H∞)`` falls 501 → 66 → 19 → 5.1 and the mean off-diagonal cosine 0.26 → 0.013. DGNs
(frozen random gates), steps to 1 % of the initial loss at depths 1 / best / 16: width 16: 566 /
355 (depth 8) / 797 — helps, then hurts (noisy: the seeds' ranges at depths 1 and 8 overlap);
width 64: 367 / 51 (depth 12) / 74 — helps, then hurts (the hurt within the seed spread); width 256:
299 / 18 (depth 16) — only helps up to depth 16. So the turning depth grows with width, as the claim
predicts, and the finite nets fall behind the limit more as depth grows (steps over the limit's, depth
1 → 16: 2.1× → 114× at width 16, 1.4× → 10.6× at 64, 1.1× → 2.6× at 256) while the value NTK's
deviation from ``c·H`` grows (depth 1 → 16: 0.51 → 1.02, 0.17 → 0.92, 0.10 → 0.60, 0.08 → 0.35 at
widths 16, 64, 256, 1024). ReLU nets (adaptive gates) turn earlier: best at depth 4–6 (188–212
steps) and slower again by depth 16 at every width (254 / 314 / 467 steps), within the seed spread.
Acceptance: at width 1024 the NPK's largest relative Frobenius error from ``npk_limit`` is 0.097
(top eigenvalues 0.083), within ``2·√(depth/1024)`` at every depth, the fitted constant 0.69–1.20;
from width 256 to 1024 the error shrinks 2.02× (``1/√width`` predicts 2.00×).
"""

from __future__ import annotations

from ..common import Experiment
from . import report, run

EXPERIMENT = Experiment.from_modules(
    "dgn-depth",
    description=(
        "DGN paper: with frozen random gates, does depth speed up gradient descent and then slow it "
        "(NPK spectrum, NTK deviation, steps to threshold per depth and width)"
    ),
    runtime="~4 min on 1 CPU thread (default); paper preset several hours (estimated)",
    run=run,
    report=report,
)
