"""dgn-depth: what the saved runs say — steps to the threshold per depth (median over seeds) and
whether depth helped, then hurt, at each width. Pure functions of ``results``."""

from __future__ import annotations

import math

import numpy as np

SHAPES = ("helps, then hurts", "helps", "hurts", "no clear effect")


def _median(values: list[float | None]) -> float | None:
    """Median with ``None`` (not reached) counted as +∞; ``None`` if the median itself is +∞."""
    if not values:
        return None
    m = float(np.median([math.inf if v is None else v for v in values]))
    return m if math.isfinite(m) else None


def group(runs: list[dict], kind: str, width: int, depth: int) -> list[dict]:
    """The records of one (kind, width, depth), all seeds."""
    return [r for r in runs if r.get("kind") == kind and r["width"] == width and r["depth"] == depth]


def median_of(records: list[dict], key: str) -> float | None:
    """Median of ``key`` over records (``None`` counted as +∞, as for steps not reached)."""
    return _median([r.get(key) for r in records])


def depth_curve(results: dict, kind: str, width: int) -> list[dict]:
    """Per depth: median, min and max steps to the threshold over seeds, and how many seeds reached it."""
    rows = []
    for depth in results["settings"]["depths"]:
        recs = group(results["runs"], kind, width, depth)
        if not recs:
            continue
        steps = [r["steps_to_threshold"] for r in recs]
        done = [s for s in steps if s is not None]
        rows.append(
            {
                "depth": depth,
                "median": _median(steps),
                "min": min(done) if done else None,
                "max": max(done) if len(done) == len(steps) else None,
                "reached": len(done),
                "seeds": len(steps),
            }
        )
    return rows


def _ratio(a: float | None, b: float | None) -> float:
    """``a / b`` with ``None`` as +∞ (∞/∞ = 1)."""
    if a is None and b is None:
        return 1.0
    if a is None:
        return math.inf
    if b is None:
        return 0.0
    return a / b if b > 0 else math.inf


def verdict(curve: list[dict], margin: float) -> dict:
    """Did depth help (the best depth needs at least ``margin`` fewer steps than the shallowest) and
    then hurt (the deepest needs at least ``margin`` more than the best, the best not being the
    deepest)? Steps are medians over seeds; not reached counts as more than any number."""
    finite = [r for r in curve if r["median"] is not None]
    shallow, deep = curve[0], curve[-1]
    if not finite:
        return {
            "shape": "no clear effect",
            "best_depth": None,
            "shallow": shallow,
            "best": None,
            "deep": deep,
        }
    best = min(finite, key=lambda r: (r["median"], r["depth"]))
    helps = _ratio(best["median"], shallow["median"]) <= 1 - margin
    hurts = best["depth"] < deep["depth"] and _ratio(deep["median"], best["median"]) >= 1 + margin
    shape = SHAPES[0] if helps and hurts else "helps" if helps else "hurts" if hurts else SHAPES[3]
    return {
        "shape": shape,
        "best_depth": best["depth"],
        "shallow": shallow,
        "best": best,
        "deep": deep,
        "helps_separated": helps and _apart(best, shallow),
        "hurts_separated": hurts and _apart(best, deep),
    }


def _apart(fast: dict, slow: dict) -> bool:
    """Every seed of ``fast`` took fewer steps than every seed of ``slow`` (seed ranges disjoint)."""
    return fast["max"] is not None and (slow["min"] is None or fast["max"] < slow["min"])


def verdicts(results: dict) -> list[dict]:
    """One verdict per (kind, width) trained."""
    out = []
    kinds = [k for k in ("dgn", "relu") if any(r["kind"] == k for r in results["runs"])]
    for kind in kinds:
        for width in results["settings"]["widths"]:
            curve = depth_curve(results, kind, width)
            if curve:
                out.append({"kind": kind, "width": width, **verdict(curve, results["settings"]["margin"])})
    return out


def fmt_steps(value: float | None, max_steps: int) -> str:
    """A median step count, or ``> max_steps`` when not reached."""
    return f"> {max_steps}" if value is None else f"{value:g}"
