"""dgn-depth: tables, summary and figures from the saved results."""

from __future__ import annotations

from pathlib import Path

from .analysis import depth_curve, fmt_steps, group, median_of, verdicts
from .figures import kernel_figure, limit_figure, steps_figure

NAMES = {"dgn": "DGN (frozen random gates)", "relu": "ReLU net (adaptive gates)"}


def _limit(results: dict, depth: int) -> dict:
    return next(r for r in results["limit"] if r["depth"] == depth)


def tables(results: dict) -> dict[str, list[dict]]:
    s = results["settings"]
    rows = []
    for v in verdicts(results):
        kind, width = v["kind"], v["width"]
        for c in depth_curve(results, kind, width):
            recs = group(results["runs"], kind, width, c["depth"])
            rows.append(
                {
                    "gates": kind,
                    "width": width,
                    "depth": c["depth"],
                    "steps_median": c["median"],
                    "steps_min": c["min"],
                    "steps_max": c["max"],
                    "reached": f"{c['reached']}/{c['seeds']}",
                    "steps_linearised": median_of(recs, "steps_linearised"),
                    "steps_limit_kernel": _limit(results, c["depth"])["steps_linearised"],
                    "npk_condition": median_of(recs, "npk_condition"),
                    "npk_effective_rank": median_of(recs, "npk_effective_rank"),
                    "npk_offdiag_ratio": median_of(recs, "npk_offdiag_ratio"),
                    "ntk_deviation": median_of(recs, "ntk_deviation"),
                    "ntk_change": median_of(recs, "ntk_change"),
                }
            )
    shapes = [
        {
            "gates": v["kind"],
            "width": v["width"],
            "outcome": v["shape"],
            "best_depth": v["best_depth"],
            f"steps at depth {s['depths'][0]}": fmt_steps(v["shallow"]["median"], s["max_steps"]),
            "steps at best depth": fmt_steps(v["best"]["median"] if v["best"] else None, s["max_steps"]),
            f"steps at depth {s['depths'][-1]}": fmt_steps(v["deep"]["median"], s["max_steps"]),
        }
        for v in verdicts(results)
    ]
    limit = [
        {
            "depth": r["depth"],
            "npk_condition": r["npk_condition"],
            "npk_effective_rank": r["npk_effective_rank"],
            "npk_offdiag_ratio": r["npk_offdiag_ratio"],
            "npk_smallest": r["npk_smallest"][0],
            "steps_kernel_gd": r["steps_linearised"],
        }
        for r in results["limit"]
    ]
    init_only = [
        {
            "width": w,
            "depth": d,
            "npk_condition": median_of(recs, "npk_condition"),
            "limit_rel_frobenius": median_of(recs, "limit_rel_frobenius"),
            "ntk_deviation": median_of(recs, "ntk_deviation"),
        }
        for w in s["kernel_widths"]
        for d in s["depths"]
        if (recs := [r for r in results["kernels_only"] if r["width"] == w and r["depth"] == d])
    ]
    check = results["limit_check"]
    return {
        f"Steps to loss ≤ {s['threshold']:g} × initial per depth and width (median, min, max over "
        f"{s['seeds']} seeds) and the kernels at init (medians)": rows,
        f"Did depth help, then hurt? (a change counts above {100 * s['margin']:.0f} %)": shapes,
        "Infinite-width NPK per depth (H∞ / tr H∞) and kernel gradient descent with it": limit,
        "Kernels at init only, wider nets (DGN, medians over seeds)": init_only,
        f"NPK at init vs the infinite-width limit at widths {check['widths']} "
        f"(tolerance {check['tolerance_factor']:g}·√(depth/width))": check["rows"],
    }


def _num(value: float | None) -> str:
    return "singular" if value is None else f"{value:.3g}"


def _dgn_sentence(results: dict, v: dict) -> str:
    s = results["settings"]
    sh, best, deep = v["shallow"], v["best"], v["deep"]
    steps = lambda r: fmt_steps(r["median"], s["max_steps"])
    if best is None:
        return f"width {v['width']}: no depth reached the threshold in {s['max_steps']} steps"
    text = f"width {v['width']}: {v['shape']} — median steps {steps(sh)} at depth {sh['depth']}"
    if best["depth"] != sh["depth"]:
        text += f", {steps(best)} at depth {best['depth']} (the fewest)"
    if deep["depth"] != best["depth"]:
        text += f", {steps(deep)} at depth {deep['depth']}"
    apart = [w for w, key in (("help", "helps_separated"), ("hurt", "hurts_separated")) if v[key]]
    claimed = [w for w, on in (("help", "helps" in v["shape"]), ("hurt", "hurts" in v["shape"])) if on]
    if claimed:
        shaky = [w for w in claimed if w not in apart]
        text += (
            " (the seeds' ranges do not overlap)"
            if not shaky
            else f" (for the {' and '.join(shaky)} the seeds' min–max ranges overlap)"
        )
    return text


def summary(results: dict) -> str:
    s, lines = results["settings"], []
    vs = verdicts(results)
    for kind in ("dgn", "relu"):
        mine = [v for v in vs if v["kind"] == kind]
        if not mine:
            continue
        seen = [v["width"] for v in mine if v["shape"] == "helps, then hurts"]
        head = (
            f"{NAMES[kind]}: 'depth helps, then hurts' appeared at width(s) {', '.join(map(str, seen))}"
            if seen
            else f"{NAMES[kind]}: 'depth helps, then hurts' did NOT appear at any width"
        )
        lines.append(
            head
            + f" (steps to {s['threshold']:g} × initial loss, median of {s['seeds']} seeds, "
            + f"a change counts above {100 * s['margin']:.0f} %). "
            + "; ".join(_dgn_sentence(results, v) for v in mine)
            + "."
        )
    lim = results["limit"]
    first, last = lim[0], lim[-1]
    monotone = all(
        a["steps_linearised"] is not None
        and b["steps_linearised"] is not None
        and b["steps_linearised"] <= a["steps_linearised"]
        for a, b in zip(lim, lim[1:])
    )
    lines.append(
        f"Infinite width (kernel gradient descent with H∞, same rule and threshold): steps "
        f"{fmt_steps(first['steps_linearised'], s['max_steps'])} at depth {first['depth']} → "
        f"{fmt_steps(last['steps_linearised'], s['max_steps'])} at depth {last['depth']} "
        + ("(never more with depth: in the limit depth only helps)" if monotone else "(not monotone)")
        + f". The mechanism of 'helps': cond(H∞/tr H∞) {_num(first['npk_condition'])} → "
        f"{_num(last['npk_condition'])}, effective rank {first['npk_effective_rank']:.1f} → "
        f"{last['npk_effective_rank']:.1f}, mean off-diagonal cosine {first['npk_offdiag_ratio']:.3f} → "
        f"{last['npk_offdiag_ratio']:.3f}."
    )
    dev = []
    for w in s["widths"] + s["kernel_widths"]:
        pool = results["runs"] + results["kernels_only"]
        a = median_of(
            [r for r in pool if r["kind"] == "dgn" and r["width"] == w and r["depth"] == first["depth"]],
            "ntk_deviation",
        )
        b = median_of(
            [r for r in pool if r["kind"] == "dgn" and r["width"] == w and r["depth"] == last["depth"]],
            "ntk_deviation",
        )
        if a is not None and b is not None:
            dev.append(f"width {w}: {a:.2f} → {b:.2f}")
    limit = {r["depth"]: r["steps_linearised"] for r in lim}
    slow = []
    for w in s["widths"]:
        ends = [
            median_of(group(results["runs"], "dgn", w, r["depth"]), "steps_to_threshold")
            for r in (first, last)
        ]
        if None not in ends and limit[first["depth"]] and limit[last["depth"]]:
            a, b = ends[0] / limit[first["depth"]], ends[1] / limit[last["depth"]]
            slow.append(f"width {w}: {a:.1f}× → {b:.1f}×")
    if slow:
        lines.append(
            f"DGN steps over the infinite-width kernel's, depth {first['depth']} → {last['depth']}: "
            + "; ".join(slow)
            + " (how far finite width falls behind the limit as depth grows)."
        )
    lines.append(
        f"The mechanism of 'hurts': the value NTK's relative deviation ‖K − c·H‖_F/‖c·H‖_F (Identity 3) "
        f"from depth {first['depth']} to {last['depth']}: " + "; ".join(dev) + "."
    )
    c = results["limit_check"]
    lines.append(
        f"NPK at init vs the infinite-width limit (npk_limit), width {c['widths'][-1]}: largest relative "
        f"Frobenius error of H/tr H {c['max_rel_frobenius']:.3f}, of the top eigenvalues "
        f"{c['max_top_rel_error']:.3f}; "
        + ("within" if c["passed"] else "NOT within")
        + f" the tolerance {c['tolerance_factor']:g}·√(depth/width) at every depth"
        + (
            f"; the error shrinks {c['scaling_ratio']:.2f}× from width {c['widths'][0]} to "
            f"{c['widths'][1]} (Monte-Carlo 1/√width predicts {c['scaling_expected']:.2f}×)."
            if c.get("scaling_ratio")
            else "."
        )
    )
    return "\n\n".join(lines)


def plot(results: dict, out: Path) -> list[Path]:
    figs = out / "figures"
    return [
        steps_figure(results, figs / "steps_vs_depth.png", out),
        kernel_figure(results, figs / "npk_spectrum.png"),
        limit_figure(results, figs / "ntk_deviation_and_limit.png"),
    ]
