"""halfspace-2d: watch a DLGN's half-space features form on 2-D toy data, next to a ReLU net.

In a DLGN every gate is a half-space of the input (layer ``l``: ``⟨V_l x⟩ + b_l > 0`` with
``V_l = W_l ⋯ W_1``), so on 2-D data everything it learns can be drawn: the gating lines of every
layer, the region of a path (the intersection of its half-spaces, one per layer) with the path's
value, and the decision function as the sum of path values over the regions containing a point. A
ReLU net of the same widths is trained beside it; its features are not global half-spaces, so it
is shown by its decision function and its linear regions (one colour per activation pattern).

The DLGN is bias-free in its value network (so paths have values) and has gating biases (so its
lines need not pass through the origin); its value network is fed the all-ones input. The ReLU
net has biases. Both have two output logits trained with cross-entropy (Adam).

Command:  ``neuralpaths run halfspace-2d`` (default preset: ~1 min on 2 CPU cores; the depth-2 tree
and the checkerboard sets). The report shows, per data set, the DLGN and ReLU decision
functions at several epochs (and an animated GIF of them), the trained DLGN's gating lines per
layer, its most important path regions with their values, and the linear regions of both nets.
Expected: the DLGN's gating lines gather on the target's discontinuities (dashed) as it trains;
both nets reach ≈99% on the tree set and ≈95% on the checkerboard (measured, default preset, seed 0:
DLGN 99.3 / 96.0, ReLU 99.8 / 95.7 test %).
"""

from __future__ import annotations

from ..common import Experiment
from . import report, run

EXPERIMENT = Experiment.from_modules(
    "halfspace-2d",
    description=(
        "DLGN vs ReLU on 2-D toy sets: gating lines, path regions, decision functions, linear regions"
    ),
    runtime="~1 min on 2 CPU cores",
    run=run,
    report=report,
)
