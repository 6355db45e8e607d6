"""dlgn-images: how much of a ReLU network's accuracy does a DLGN recover on images?

Three nets of one architecture: the **DLGN** (gates ``sigmoid(β q)`` from a deep *linear* gating
network; the value network fed the all-ones input), the **DGN** (the same, with ReLUs in the
gating network) and the **ReLU** net. Part 1: fully connected nets on MNIST. Part 2, when a
CIFAR-10 folder is present (``--set data_dir=...`` or ``$NEURALPATHS_CIFAR10_DIR``): C4GAP conv nets
(four 3x3 convs, global average pooling, a linear layer) on CIFAR-10. Without the folder, part 2
is skipped and the report says so (``cifar="yes"`` makes a missing folder an error instead).
Accuracies are at the best-validation epoch; the DLGN's (and DGN's) accuracy is also given as a
percentage of the ReLU net's.

Command:  ``neuralpaths run dlgn-images`` (default preset: ~2 min on 2 CPU cores; MNIST FC 4x128, 20
epochs; with CIFAR-10, a CPU-sized C4GAP run of width 16 on 10000 images for 6 epochs adds about 4-5
minutes, timed on random images of CIFAR's size).
Paper-sized: ``neuralpaths run dlgn-images --preset paper --set data_dir=/path/to/cifar-10-batches-py``
(C4GAP width 128, full CIFAR-10, 32 epochs: a GPU job).

Expected: the papers (arXiv 2110.03403) claim the DLGN recovers ≥ 83.5% of a ReLU net's CIFAR-10
accuracy; on MNIST the three are within a point or two of each other (default preset, seed 0:
DLGN 97.40, DGN 97.93, ReLU 97.87 test %, the DLGN at 99.5% of the ReLU net). The default CIFAR part
is far too small to test the CIFAR claim (a few epochs on 10000 images).
"""

from __future__ import annotations

from ..common import Experiment
from . import report, run

EXPERIMENT = Experiment.from_modules(
    "dlgn-images",
    description="DLGN vs DGN vs ReLU on MNIST (FC) and, if present, CIFAR-10 (C4GAP): accuracy recovered",
    runtime="~2 min on 2 CPU cores (default, MNIST only; +~5 min with a CIFAR-10 folder)",
    run=run,
    report=report,
)
