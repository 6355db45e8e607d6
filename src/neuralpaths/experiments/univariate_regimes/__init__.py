"""univariate-regimes: kernel vs adaptive regime of a wide shallow ReLU net on 1-D data (Williams et al.)

A two-layer ReLU net ``f(x) = Σ_i c_i relu(a_i x + b_i)`` of width 500 is trained by full-batch
gradient descent to interpolate 8 samples, once for each ratio ``s_out / s_in`` of the scales of its
output layer ``c`` and its first layer ``(a, b)`` (``init="scale"``: ``s_in s_out = gain / width``;
the initial knots are the same in every run and ``f ≡ 0`` at the start). For each ratio: the
distances of the fit to the natural cubic spline and to the linear interpolant (normalised L2 on a
grid between the outer samples, both divided by the variation of the linear interpolant), to the
frozen-knot minimum-norm interpolant of the initial knots (the kernel-regime limit), how far the
knots moved, and the fraction of the active knots within ``eps`` of a sample. The sweep is repeated
at other gains (where the two regimes meet depends on the gain), and the NTK (``M = 1/sqrt(width)``)
and mean-field (``M = 1/width``) parameterisations run as references: they equal ``init="scale"`` at
ratio 1 with gain ``sqrt(width)`` and 1.

Command:  ``neuralpaths run univariate-regimes`` (default preset: ~2 min on 2 CPU cores).
Expected: small ratios (kernel regime) end near the cubic spline with frozen knots, large ratios
(adaptive regime) at the linear interpolant with the knots on the samples; the two distance curves
cross near ratio 7e-3 at gain 10, and knot movement grows with the ratio. The crossover ratio grows
with the gain (about 7e-4 at gain 1, 5e-2 at gain 100), so the NTK and mean-field references (ratio
1 at gains 22 and 1 for width 500) are adaptive here, and the NTK scaling stays adaptive at widths
we can run (width 10^4 is gain 100). At gain 1000 the fits at large ratios are rough interpolants,
0.24 from the linear one: the large initial weights leave their imprint, and neither limit applies.
With zig-zag data the slope changes of the linear interpolant alternate in sign; where neighbouring
ones bend the same way the adaptive end need not reach the linear interpolant (the ``paper`` preset
adds such Gaussian-target datasets). The paper's exact figure settings (widths, samples, step sizes)
are not known to us; ``paper`` is our denser protocol (``neuralpaths run univariate-regimes --preset
paper``, width 2000, 14 ratios, 7 datasets; about 10 minutes on 2 CPU cores).
"""

from __future__ import annotations

from ..common import Experiment
from . import report, run

EXPERIMENT = Experiment.from_modules(
    "univariate-regimes",
    description=(
        "Williams et al. 2019: 1-D shallow ReLU nets, kernel (cubic spline) vs adaptive (linear) regime"
    ),
    runtime="~2 min on 2 CPU cores (default); paper preset ~10 min",
    run=run,
    report=report,
)
