"""npk-alignment: as a ReLU net learns its gates, its neural path kernel aligns with the labels.

The official notebook's protocol (``code/binary-mnist_vt.ipynb`` of the NPF paper, PAPERS.md §1.5):
binary MNIST, digits 4 vs 7, the first 100 training examples of each class (200 points, labels
−1 for 4 and +1 for 7); a fully connected net of depth 6 and width 100 — read, as in the notebooks'
``depth, width = 6, 128`` (5 hidden layers plus the output layer), as **5 hidden layers of 100** and
a scalar output — without biases, weights ``±√(2/100)`` with probability ½ each in every layer (the
notebook's ``±√(2/width)``, first layer included); RMSprop, learning rate 1e-4, squared loss, batch
64, 50 epochs, 5 runs. Every 2 epochs, on the 200 training points:

- ``ν_t = yᵀ (H_t / tr H_t)⁻¹ y`` for the NPK ``H_t = (X Xᵀ) ⊙ Π_l G_l Gᵀ_l`` of the current gates
  (lower: the labels lie along the kernel's large eigen-directions);
- the same ν for the empirical NTK of the trainable parameters;
- the test accuracy (sign) on all 4-vs-7 test digits (2010) of ridge-less kernel regression on the
  200 points with each kernel (automatic jitter), i.e. what the kernel alone "knows";
- the fraction of gates (point × unit) that differ from the initial ones, the network's own test
  accuracy (sign of the output), and the training loss.

Regimes: **ReLU** (gates learned), and the controls **FRNPF-DI** (gates frozen at the ReLU net's own
initial weights: at t = 0 it *is* the ReLU net, with the same NPK and NTK) and **FRNPF-II** (frozen
gates of an independent random net); both train the value network from the ReLU net's initial
weights. With frozen gates the NPK is the same matrix at every t, so its ν is constant by
construction (the table checks it is exactly flat); the NTK of the value weights still moves.

Differences from the notebook: PyTorch's RMSprop (``alpha = 0.99, eps = 1e-8``) instead of Keras'
(``rho = 0.9, eps = 1e-7``); kernels in float64.

Command:  ``neuralpaths run npk-alignment`` (default preset: ~1.5 min on 1 CPU thread, measured 84 s;
the notebook's protocol, 5 runs × 3 regimes). ``--preset paper`` is the same protocol with 10 runs.
``--set jobs=N`` trains N of the (regime, run) trials at once in worker processes (each seeds
itself: the same numbers; the torch threads are shared out among them). Each worker first spends
seconds importing torch: on the smoke preset that outweighs the gain (measured on 2 shared cores:
12 s with ``jobs=1``, 22 s with ``jobs=2``).

Measured (default preset, seed 0, mean ± std over 5 runs; ``ν ≥ n = 200`` always, since
``λ_max(K / tr K) ≤ 1``): ReLU ν_NPK 16 899 ± 584 → 14 469 ± 717 (−14 %, lower in every run) with
8.8 % of the gates flipped; ν_NTK 42 334 → 19 731. FRNPF-DI / -II: ν_NPK exactly flat (16 899 /
16 734); their ν_NTK falls too (→ 21 105 / 17 979). The nets' test accuracy (4 vs 7): ReLU 92.8 %,
FRNPF-DI 91.0 %, FRNPF-II 78.6 %. Ridge-less regression with the NPK is ≈ 98 % for all three and does
not improve as ν falls: on this easy pair the kernel of *random* gates already separates the classes.
"""

from __future__ import annotations

from ..common import Experiment
from . import report, run

EXPERIMENT = Experiment.from_modules(
    "npk-alignment",
    description=(
        "NPF notebook: ν_t = yᵀ(H_t/tr H_t)⁻¹y of the NPK and NTK while training on binary MNIST "
        "(ReLU vs FRNPF)"
    ),
    runtime="~1.5 min on 1 CPU thread (default); paper preset ~3 min",
    run=run,
    report=report,
)
