"""univariate-regimes: tables, summary and figures (drawn by :mod:`.figures`) from the results alone: the
scale-ratio sweep, the reference parameterisations, the crossover ratio by gain, other datasets, and
verdicts (which spline each end of the sweep is nearer, where the distance curves cross, whether
knot movement grows with the ratio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuralpaths.report import bracket

from . import figures
from .run import REFERENCES


def crossover_at(gain_sweep: list[dict], gain: float) -> float | None:
    """The crossover ratio at ``gain``, interpolated log-log between the swept gains (``None``
    outside their range or where a swept gain has no single crossing). An estimate between measured
    points: the report states the measured brackets (:func:`crossing_brackets`) instead."""
    pts = [(s["gain"], s["crossings"][0]) for s in gain_sweep if len(s["crossings"]) == 1]
    if len(pts) < 2 or not pts[0][0] <= gain <= pts[-1][0]:
        return None
    g, c = np.log10(np.array(pts)).T
    return float(10 ** np.interp(np.log10(gain), g, c))


def crossing_brackets(runs: list[dict]) -> list[tuple[float, float]]:
    """The measured neighbouring ratios between which the distance to the cubic spline and the
    distance to the linear interpolant swap order (where the curves cross, without interpolating)."""
    return bracket([r["ratio"] for r in runs], [r["dist_cubic"] - r["dist_linear"] for r in runs])


def brackets_text(runs: list[dict]) -> str:
    """``"between 0.001 and 0.01"`` per crossing, or ``"none"``."""
    return ", ".join(f"between {a:g} and {b:g}" for a, b in crossing_brackets(runs)) or "none"


def _row(r: dict) -> dict:
    return {
        "ratio": r["ratio"] if r["kind"] == "scale" else REFERENCES[r["kind"]],
        "gain": f"{r['gain']:.3g}",
        "dist_cubic": r["dist_cubic"],
        "dist_linear": r["dist_linear"],
        "nearer": "cubic" if r["dist_cubic"] < r["dist_linear"] else "linear",
        "dist_kernel": r["dist_kernel"],
        "knot_movement": r["knot_movement"],
        "knots_moved": r["knots_moved"],
        "knots_near_samples": r["knots_near_samples"],
        "near_weighted": r["knots_near_samples_weighted"],
        "near_chance": r["knots_near_chance"],
        "steps": r["steps"],
        "converged": r["converged"],
        "seconds": r["seconds"],
    }


def _ends_row(label: str, value, s: dict) -> dict:
    lazy, rich = s["runs"][0], s["runs"][-1]
    kinks = {"same_sign_kinks": s["same_sign_kinks"]} if "same_sign_kinks" in s else {}
    return {
        label: value,
        **kinks,
        "kernel_end_cubic": lazy["dist_cubic"],
        "kernel_end_linear": lazy["dist_linear"],
        "adaptive_end_cubic": rich["dist_cubic"],
        "adaptive_end_linear": rich["dist_linear"],
        "curves_cross (ratio)": brackets_text(s["runs"]),
    }


def tables(results: dict) -> dict[str, list[dict]]:
    title = f"Scale-ratio sweep ({results['data']} data, width {results['width']}, gain {results['gain']:g})"
    out = {title: [_row(r) for r in results["runs"]]}
    if results["references"]:
        out["Reference parameterisations (= ratio 1 at the gain shown)"] = [
            _row(r) for r in results["references"]
        ]
    if len(results["gain_sweep"]) > 1:
        out[
            "Kernel and adaptive ends by gain, and between which measured ratios the distance curves cross"
        ] = [_ends_row("gain", f"{s['gain']:g}", s) for s in results["gain_sweep"]]
    if results["datasets"]:
        main = {k: results[k] for k in ("runs", "crossings", "same_sign_kinks")}
        rows = [_ends_row("data", results["data"], main)]
        out["Other datasets"] = rows + [_ends_row("data", d["data"], d) for d in results["datasets"]]
    return out


def _verdicts(runs: list[dict]) -> list[str]:
    lazy, rich = runs[0], runs[-1]
    ok_lazy, ok_rich = lazy["dist_cubic"] < lazy["dist_linear"], rich["dist_linear"] < rich["dist_cubic"]
    move = np.array([r["knot_movement"] for r in runs])
    drops = [f"{runs[i]['ratio']:g} -> {runs[i + 1]['ratio']:g}" for i in np.flatnonzero(np.diff(move) < 0)]
    where = brackets_text(runs).replace("none", "nowhere in the sweep")
    lazy_verdict = "closer to the cubic spline" if ok_lazy else "closer to the linear interpolant"
    rich_verdict = "closer to the linear interpolant" if ok_rich else "closer to the cubic spline"
    trend = (
        "it grows monotonically with the ratio."
        if not drops
        else f"not monotone in the ratio (drops {'; '.join(drops)})."
    )
    return [
        f"Kernel end (ratio {lazy['ratio']:g}): distance to the cubic spline {lazy['dist_cubic']:.3f}, "
        f"to the linear interpolant {lazy['dist_linear']:.3f} — {lazy_verdict}.",
        f"Adaptive end (ratio {rich['ratio']:g}): {rich['dist_cubic']:.3f} to the cubic spline, "
        f"{rich['dist_linear']:.3f} to the linear interpolant — {rich_verdict}.",
        f"The two distance curves cross {where} (measured ratios on either side).",
        f"Mean knot movement goes from {move[0]:.2g} to {move[-1]:.2g}: {trend}",
    ]


def _reference_line(r: dict, gain_sweep: list[dict]) -> str:
    nearer = (
        "linear interpolant (adaptive)" if r["dist_linear"] < r["dist_cubic"] else "cubic spline (kernel)"
    )
    line = (
        f"{REFERENCES[r['kind']]} = ratio 1 at gain {r['gain']:.3g}: nearer the {nearer} (distance to cubic "
        f"{r['dist_cubic']:.3f}, to linear {r['dist_linear']:.3f}, knot movement {r['knot_movement']:.3g})."
    )
    same = [s for s in gain_sweep if np.isclose(s["gain"], r["gain"], rtol=1e-6)]
    if same:
        line += f" The swept ratios at this gain cross {brackets_text(same[0]['runs'])}."
    return line


def summary(results: dict) -> str:
    runs = results["runs"]
    lines = [" ".join(_verdicts(runs))]
    lazy, rich = runs[0], runs[-1]
    lines.append(
        f"At the kernel end the trained net is {lazy['dist_kernel']:.3g} from the frozen-knot minimum-norm "
        f"interpolant and {100 * lazy['knots_moved']:.0f}% of its knots moved by more than eps; at the "
        f"adaptive end {100 * rich['knots_near_samples']:.0f}% of the active knots lie within eps of a "
        f"sample (chance: {100 * rich['knots_near_chance']:.0f}%)."
    )
    if len(results["gain_sweep"]) > 1:
        parts = [
            f"gain {s['gain']:g}: {brackets_text(s['runs'])} (adaptive end "
            f"{s['runs'][-1]['dist_linear']:.3f} from the linear interpolant)"
            for s in results["gain_sweep"]
        ]
        lines.append("Where the distance curves cross, by gain (s_in s_out width): " + "; ".join(parts) + ".")
        far = [
            s["gain"]
            for s in results["gain_sweep"]
            if min(s["runs"][-1]["dist_cubic"], s["runs"][-1]["dist_linear"]) > 0.1
        ]
        if far:
            lines.append(
                f"At gain {', '.join(f'{g:g}' for g in far)} the largest ratio ends more than 0.1 from both "
                "splines: a rough interpolant that keeps the imprint of the large initial weights."
            )
    lines += [_reference_line(r, results["gain_sweep"]) for r in results["references"]]
    for d in results["datasets"]:
        lines.append(
            f"Data {d['data']} ({d['same_sign_kinks']} neighbouring kinks bending the same way): "
            + " ".join(_verdicts(d["runs"])[:3])
        )
    sweeps = [(f"gain {s['gain']:g}", s["runs"]) for s in results["gain_sweep"]]
    sweeps += [(f"data {results['data']}", runs)] + [
        (f"data {d['data']}", d["runs"]) for d in results["datasets"]
    ]
    bad = {f"{where} ratio {r['ratio']:g}" for where, rs in sweeps for r in rs if not r["converged"]}
    bad |= {REFERENCES[r["kind"]] for r in results["references"] if not r["converged"]}
    if bad:
        lines.append(f"Not converged to the loss tolerance within the step budget: {', '.join(sorted(bad))}.")
    return "\n\n".join(lines)


def plot(results: dict, out: Path) -> list[Path]:
    return figures.draw_all(results, out / "figures")
