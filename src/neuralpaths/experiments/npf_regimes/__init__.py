"""npf-regimes: do the gates hold what the network learned? (NPF paper; FC 5x128 on MNIST by default)

Trains the same architecture in the five regimes of the NPF paper — ReLU; FRNPF-II (random frozen
gates); FRNPF-DI (frozen gates = the value net's initial weights); FLNPF (frozen gates copied from
the trained ReLU net, fresh value net); DLNPF (soft gates β=4, ε=0.1, both nets trained) — and
measures, for the ReLU net at init and after training, how many gates changed and how well the
neural path kernel ``H`` fits the labels: ``ν = yᵀ(H/tr H)⁻¹y`` (one-vs-rest ±1 labels, averaged over
classes; lower is better aligned).

Command:  ``neuralpaths run npf-regimes`` (default preset: ~5 min on 2 CPU cores).
Paper protocol: ``neuralpaths run npf-regimes --preset paper --seeds 0,1,2,3,4`` (Adam 1e-4, batch
32, 100 epochs; measured ~13 s per epoch for the five regimes on one CPU thread, so ~20 minutes per
seed and ~2 hours for five — each report lists seconds per epoch per regime).

The default preset trades the paper's 100 epochs at batch 32 and Adam learning rate 1e-4 for 20
epochs at batch 128 and learning rate 1e-3, on one thread (``Config`` in ``run.py``; ``presets.toml``).
Expected: FRNPF-II ≈ FRNPF-DI clearly below FLNPF ≈ DLNPF ≈ ReLU (paper, Adam: 96.0 / 96.1 vs 97.8 /
98.2 / 98.1 test %), and ν falls from init to trained while a sizeable fraction of gates flips.

Accuracies are reported two ways: at the epoch with the best accuracy on a held-out validation split
(our headline number) and the maximum test accuracy over epochs (the official code's protocol, which
used the test set for model selection).

Architectures (``--set arch=...``): ``fc`` (the default: ``widths``, flattened images), the paper's
conv nets ``vconv`` / ``gconv`` (conv ``channels`` 3x3 same, then flatten or global average pooling,
dense ``dense``; image inputs), ``resnet`` (:func:`neuralpaths.models.resnet`: ``channels`` and
``blocks`` per stage), or your own network: ``--set model=path/to/file.py:function`` calls
``function(in_shape, num_classes)`` for an ``nn.Module`` of image inputs ``(C, H, W)`` (it overrides
``arch``; ``examples/my_model.py`` is one). ``fc`` / ``vconv`` / ``gconv`` build their regimes with
``DGN.regime``; modules with ``DGN.from_module`` (the ReLU regime is the module itself; a max-pool
is gated too: soft in DLNPF). Every regime's weights are drawn by ``init`` from the seeds
``1000·seed`` (ReLU) and ``1000·seed + i + 1`` (regime ``i``). The report names the architecture, its
layers (one line) and its number of paths per output (bias paths included), and compares with the
official row of the same (arch, data set, optimiser) only: FC/MNIST and VCONV/GCONV on CIFAR-10
(``--preset paper-vconv`` / ``paper-gconv``, the Adam protocols; ``--set data_dir=`` the
``cifar-10-batches-py`` folder), "no reference" otherwise. The NPK of the gate analysis includes bias
paths.

Smoke presets (seconds; they run in CI): ``smoke`` (FC), and on MNIST images with 500 training
images, 1 epoch and tiny widths ``smoke-vconv`` / ``smoke-gconv`` / ``smoke-resnet`` (measured 5–8 s
each on one CPU thread; they check the plumbing, not accuracy: one epoch of 4 steps leaves the
GAP nets near chance). ``--set model=examples/my_model.py:build`` runs a user's network.
"""

from __future__ import annotations

from ..common import Experiment
from . import report, run

EXPERIMENT = Experiment.from_modules(
    "npf-regimes",
    description=(
        "NPF paper: ReLU vs frozen random / learned gates (FRNPF, FLNPF, DLNPF); FC 5x128 on MNIST, "
        "or VCONV / GCONV / ResNet / your own module"
    ),
    runtime="~5 min on 2 CPU cores (default); paper preset ~2 h for 5 seeds",
    run=run,
    report=report,
)
