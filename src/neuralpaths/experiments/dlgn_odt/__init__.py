"""dlgn-odt: DLGN, DLGN-SF and a ReLU net on oblique-decision-tree data; do the gates find the splits?

The ICLR 2025 DLGN paper's synthetic benchmark (COB-ODT: points uniform on the unit sphere of
``R^d``, labelled 0/1 by a random depth-4 oblique tree of hyperplanes through the origin), split
50/25/25 into train / validation / test, each model reported at its best-validation epoch (as the
paper's code does). Besides test accuracy it measures hyperplane attraction (the paper's Table 1):
for every tree node, the distance ``min(‖û − v̂‖, ‖û + v̂‖)`` to the nearest gating hyperplane of
the DLGN (``V_l = W_l ⋯ W_1``, all layers) at initialisation and after training, and how many gating
hyperplanes lie within 0.1 / 0.2 / 0.3. For the ReLU net only its first layer's hyperplanes are
half-spaces of the input; they are measured too, for comparison.

Command:  ``neuralpaths run dlgn-odt`` (default preset: ~6 min on 2 CPU cores; d = 20, the paper's
40k points, i.e. 20k for training; 1000 epochs of 10 batches; every model at lr 0.005 / 0.01 / 0.02 /
0.05, kept at its best validation accuracy). Paper protocol: ``neuralpaths run
dlgn-odt --preset paper`` (d = 20, 100, 500 with the README's per-d settings, the ReLU net's lr
chosen on validation; measured 24 min on 2 loaded CPU cores). ``--set jobs=N`` runs N of the
(d, model, lr) trainings at once in worker processes (each seeds itself: the same numbers; the torch
threads are shared out among them); each model's best lr is picked afterwards, as before. Each
worker first spends seconds importing torch: on the smoke preset that outweighs the gain (measured
on 2 shared cores: 8 s with ``jobs=1``, 19 s with ``jobs=2``).

Binary outputs are two logits trained with cross-entropy (the paper's code uses logits ``[-v, v]``
with cross-entropy, the same loss of one score). Our tree generator draws with torch, so seed 365
gives a different tree than the paper's numpy generator.

Paper (Table 2, test %, d = 20 / 100 / 500): DLGN 96.1 / 94.3 / 65.1, DLGN-SF 97.4 / 90.3 / 63.6,
ReLU 90.6 / 82.3 / 62.1; Table 1: the tree's hyperplanes are ≈1.2 from the nearest gating
hyperplane at init and 0.05-0.10 after training, the root with 4 / 12 / 13 within 0.1 / 0.2 / 0.3.
Measured (default preset, seed 0): DLGN 95.61, DLGN-SF 97.89, ReLU 97.50; the DLGN's median distance of the
top-level splits (root and its children) 1.07 -> 0.050 (all 15 nodes 0.98 -> 0.036), root 4 / 9 / 13
within 0.1 / 0.2 / 0.3. The attraction is reproduced; the ReLU net's weakness is not: a ReLU net of
the DLGN's widths, with its learning rate chosen the same way, beats the DLGN at d = 20 (the
paper's weak ReLU comes from its baseline's set-up: below).
Measured (paper preset, seed 0; test %, ours (paper)): d = 20: DLGN 94.42 (96.1), DLGN-SF 96.99
(97.4), ReLU 96.21 (90.6); d = 100: DLGN 93.13 (94.3), DLGN-SF 74.56 (90.3), ReLU 92.55 (82.3);
d = 500: DLGN 62.71 (65.1), DLGN-SF 61.72 (63.6), ReLU 60.67 (62.1). The DLGN beats the matched ReLU
net at d = 100 (+0.58) and d = 500 (+2.04) but not at d = 20 (−1.79). The DLGN's attraction holds at
d = 20 and 100 (top-level splits 0.91 -> 0.046 and 1.25 -> 0.048) and fails at d = 500
(1.36 -> 1.14), where every model is near chance (≈ 61-63 %, as in the paper).

Why our ReLU nets beat the paper's (96.2 / 92.6 vs 90.6 / 82.3): the paper's ReLU column comes from
``3.ML_Synthetic.ipynb``, scikit-learn's ``MLPClassifier`` at its defaults (wide nets from the grid
100x100x100 ... 1000x1000x1000x1000, trained until the training loss stalls, L2 1e-4) chosen by
3-fold cross-validation and tested at its *final* iterate, while DLGNs (and our ReLU net) are kept
at their best-validation epoch. ``relu-sklearn`` runs that baseline: ``neuralpaths run dlgn-odt
--preset paper-relu-baseline`` (the grid's smallest net, lr 0.001 / 0.005 / 0.0001, max_iter 200;
measured 8 min on 2 shared cores) gave d = 20: 88.45 % (paper 90.6; lr 0.005, 102 epochs, training
accuracy 100 %) and d = 100: 68.28 % (paper 82.3; training accuracy 99.4 %): the baseline
interpolates the training set and lands in the paper's range at d = 20, 7.8 points below our
best-validation ReLU net of the DLGN's size. At d = 100 our reduced grid falls 14 points short of
the paper's (its wider nets and longer max_iter not run: hours on a CPU).

DLGN-SF at d = 100 (74.56 vs 90.3) is seed variance, not a set-up difference: seeds 0 / 1 / 2 give
74.56 / 86.36 / 87.43 % (``--preset paper --seeds 0,1,2`` restricted to d = 100 and DLGN-SF, the
README's β 3, lr 0.02, 4 x 10); seed 0 stalls (best validation epoch 150, 89 % training accuracy).
"""

from __future__ import annotations

from ..common import Experiment
from . import report, run

EXPERIMENT = Experiment.from_modules(
    "dlgn-odt",
    description=(
        "ICLR 2025 DLGN: DLGN / DLGN-SF / ReLU on oblique-tree data, accuracy and hyperplane attraction"
    ),
    runtime="~6 min on 2 CPU cores (default); paper preset ~25 min",
    run=run,
    report=report,
)
