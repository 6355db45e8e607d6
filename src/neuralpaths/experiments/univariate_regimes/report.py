"""univariate-regimes: tables, summary and figures (drawn by :mod:`.figures`) from the results alone: the
scale-ratio sweep, the reference parameterisations, the crossover ratio by gain, other datasets, and
verdicts (which spline each end of the sweep is nearer, where the distance curves cross, whether
knot movement grows with the ratio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import figures
from .run import REFERENCES


def crossover_at(gain_sweep: list[dict], gain: float) -> float | None:
    """The crossover ratio at ``gain``, interpolated log-log between the swept gains (``None``
    outside their range or where a swept gain has no single crossing)."""
    pts = [(s["gain"], s["crossings"][0]) for s in gain_sweep if len(s["crossings"]) == 1]
    if len(pts) < 2 or not pts[0][0] <= gain <= pts[-1][0]:
        return None
    g, c = np.log10(np.array(pts)).T
    return float(10 ** np.interp(np.log10(gain), g, c))


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
        "crossings": ", ".join(f"{c:.2g}" for c in s["crossings"]) or "none",
    }


def tables(results: dict) -> dict[str, list[dict]]:
    title = f"Scale-ratio sweep ({results['data']} data, width {results['width']}, gain {results['gain']:g})"
    out = {title: [_row(r) for r in results["runs"]]}
    if results["references"]:
        out["Reference parameterisations (= ratio 1 at the gain shown)"] = [
            _row(r) for r in results["references"]
        ]
    if len(results["gain_sweep"]) > 1:
        out["Crossover ratio by gain"] = [
            _ends_row("gain", f"{s['gain']:g}", s) for s in results["gain_sweep"]
        ]
    if results["datasets"]:
        main = {k: results[k] for k in ("runs", "crossings", "same_sign_kinks")}
        rows = [_ends_row("data", results["data"], main)]
        out["Other datasets"] = rows + [_ends_row("data", d["data"], d) for d in results["datasets"]]
    return out


def _verdicts(runs: list[dict], cross: list[float]) -> list[str]:
    lazy, rich = runs[0], runs[-1]
    ok_lazy, ok_rich = lazy["dist_cubic"] < lazy["dist_linear"], rich["dist_linear"] < rich["dist_cubic"]
    move = np.array([r["knot_movement"] for r in runs])
    drops = [f"{runs[i]['ratio']:g} -> {runs[i + 1]['ratio']:g}" for i in np.flatnonzero(np.diff(move) < 0)]
    where = ", ".join(f"≈ {c:.2g}" for c in cross) or "nowhere in the sweep"
    lazy_verdict = "closer to the cubic spline" if ok_lazy else "NOT closer to the cubic spline"
    rich_verdict = "closer to the linear interpolant" if ok_rich else "NOT closer to the linear interpolant"
    trend = (
        "it grows monotonically with the ratio." if not drops else f"NOT monotone (drops {'; '.join(drops)})."
    )
    return [
        f"Kernel end (ratio {lazy['ratio']:g}): distance to the cubic spline {lazy['dist_cubic']:.3f}, "
        f"to the linear interpolant {lazy['dist_linear']:.3f} — {lazy_verdict}.",
        f"Adaptive end (ratio {rich['ratio']:g}): {rich['dist_cubic']:.3f} to the cubic spline, "
        f"{rich['dist_linear']:.3f} to the linear interpolant — {rich_verdict}.",
        f"The two distance curves cross at ratio {where}.",
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
    cross = crossover_at(gain_sweep, r["gain"])
    if cross is not None:
        side = "above it: adaptive side" if cross < 1 else "below it: kernel side"
        line += f" The crossover ratio interpolated at this gain is {cross:.2g} (ratio 1 lies {side})."
    return line


def summary(results: dict) -> str:
    runs = results["runs"]
    lines = [" ".join(_verdicts(runs, results["crossings"]))]
    lazy, rich = runs[0], runs[-1]
    lines.append(
        f"At the kernel end the trained net is {lazy['dist_kernel']:.3g} from the frozen-knot minimum-norm "
        f"interpolant and {100 * lazy['knots_moved']:.0f}% of its knots moved by more than eps; at the "
        f"adaptive end {100 * rich['knots_near_samples']:.0f}% of the active knots lie within eps of a "
        f"sample (chance: {100 * rich['knots_near_chance']:.0f}%)."
    )
    if len(results["gain_sweep"]) > 1:
        parts = [
            f"gain {s['gain']:g}: {', '.join(f'{c:.2g}' for c in s['crossings']) or 'none'} (adaptive end "
            f"{s['runs'][-1]['dist_linear']:.3f} from the linear interpolant)"
            for s in results["gain_sweep"]
        ]
        lines.append("Crossover ratio by gain (s_in s_out width): " + "; ".join(parts) + ".")
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
            + " ".join(_verdicts(d["runs"], d["crossings"])[:3])
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
