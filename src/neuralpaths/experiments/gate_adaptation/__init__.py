"""gate-adaptation: is the change of the gates during training what makes networks generalise?

The Deep Gated Networks paper (arXiv 2002.03996) states that "gate adaptation, i.e. the change of
gating values through the course of training, is key for generalisation"; its set-ups are not
available, so this is the cleanest test we could design. Same fully connected architecture, data,
optimiser and budget for every regime; only what the gates may do differs:

- **FRNPF**: random gating network, frozen — the gates never change (``DGN.regime("frnpf-ii")``);
- gates that adapt: **ReLU** (gates are the net's own), **soft-gated DGNs** ``soft-b1/4/16`` (an
  independent gating network trained jointly through gates ``sigmoid(β q)``, values in ``[0, 1]``,
  ``DGN.regime("dlnpf", beta=β, eps=0)``) and **DLNPF** (the NPF paper's ``1.1·sigmoid(4 q)``);
- **FLNPF**: the trained ReLU net's gates, frozen, with a fresh value network — the upper reference.

Every regime of a run starts from the same value network (the ReLU net's init) and FRNPF, the soft
DGNs and DLNPF from the same gating network. After every epoch, on a fixed subset of test points
(the same for all runs): the test accuracy (whole test set), the fraction of (point, unit) gates
whose on/off side ``1{q > 0}`` changed since init (for FLNPF counted from the ReLU net's init, where
its gates were learned), the mean change of the gate values, and the NPK's label alignment — ν =
yᵀ(H/tr H)⁻¹y per one-vs-rest problem and the centred alignment — with ±1 one-hot targets. The claim
counts as held in a run when every adapting regime and FLNPF beat FRNPF by more than the spread over
runs; the scatter (one point per run) and Spearman ρ show how gate change relates to accuracy.
``results["regimes"][name]``: ``test_acc`` (final epoch, %), ``gates_changed`` (fraction),
``alignment_init`` / ``alignment_final`` (centred), ``nu_init`` / ``nu_final``, each a mean over runs
with ``*_std``; ``results["by_dataset"]`` the same per data set; ``results["runs"]`` every curve.

Command:  ``neuralpaths run gate-adaptation`` (default preset: ~6 min on 2 CPU cores — MNIST, FC
4×128 on 10 000 training digits, Adam 1e-3, batch 128, 8 epochs, 7 regimes × 2 runs; measured 372 s
with 1 torch thread while the 2 shared cores carried a load of 5–10). ``--preset fashion`` runs
Fashion-MNIST (Debian package ``dataset-fashion-mnist`` or ``--set data_dir=FOLDER``; a one-line
error when absent), ``--preset both`` both data sets (one not installed is skipped and reported),
``--preset paper`` the NPF paper's FC protocol (5×128, all data, Adam 1e-4, batch 32, 30 epochs).
``--set jobs=N`` trains N of the (data set, run) trials at once in worker processes (each seeds
itself: the same numbers; the torch threads are shared out among them).

Measured (default preset, seed 0, final test accuracy, mean of 2 runs; gates changed since init;
centred alignment init → final): FRNPF 93.28 % (0 %; 0.377 flat); ReLU 94.49 % (34.2 %; 0.379 →
0.518); soft β=1 95.03 % (39.5 %; 0.393 → 0.390), β=4 94.66 % (34.3 %; 0.388 → 0.429), β=16 94.90 %
(31.2 %; 0.391 → 0.455); DLNPF 95.71 % (32.7 %; 0.388 → 0.430); FLNPF 94.63 % (the ReLU net's
34.2 %; 0.518). Every run of every adapting regime and of FLNPF beat every FRNPF run (the claim held);
most of the change happens in the first epoch. How much the gates change does not order the adapting
regimes: Spearman ρ(gates changed, accuracy) +0.29 over all 14 runs, −0.15 over the adapting ones;
ρ(alignment gain, accuracy) +0.13.

Measured (``--preset fashion``, seed 0, 75 s with 1 torch thread on 2 shared cores): FRNPF 81.44 %
(0 %; 0.440 flat); ReLU 83.51 % (32.1 %; 0.441 → 0.554); soft β=1 83.98 %, β=4 83.16 %, β=16
82.59 %; DLNPF 84.33 %; FLNPF 84.31 % (0.554). The claim held on Fashion-MNIST too (every adapting
run and every FLNPF run above FRNPF's best, 81.62 %); again the amount of change does not order the
adapting regimes (Spearman ρ +0.28 over all 14 runs, −0.24 over the adapting ones).
"""

from __future__ import annotations

from ..common import Experiment
from . import report, run

EXPERIMENT = Experiment.from_modules(
    "gate-adaptation",
    description=(
        "DGN paper: frozen random vs adapting (ReLU, soft β, DLNPF) vs learned-frozen gates; gate change, "
        "NPK alignment and test accuracy per epoch"
    ),
    runtime="~6 min on 2 CPU cores (default, per data set); paper preset hours",
    run=run,
    report=report,
)
