"""Parallel trials: wall time of a multi-seed smoke run, one seed at a time vs ``--jobs N`` worker
processes vs Ray tasks on a local Ray instance (``--ray``), and whether every seed's numbers match.

Each mode is one ``neuralpaths run EXPERIMENT --preset smoke --seeds ...`` command in a fresh
subprocess (process start-up, imports and, for Ray, starting the local instance are all counted:
this is the time a user waits). The baseline is the sequential run of the same command.

Usage: ``python benchmarks/bench_parallel.py [--experiment npk-alignment] [--seeds 0,1,2,3]
[--jobs 2] [--no-ray] [--set KEY=VALUE ...]`` (``--set``: a heavier trial than the smoke preset, so
that process start-up does not dominate).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load, save

CLI = [sys.executable, "-m", "neuralpaths.cli"]


def timed_run(experiment: str, seeds: str, out: Path, extra: list[str]) -> float:
    """Seconds the command took (it must succeed)."""
    cmd = [
        *CLI,
        "run",
        experiment,
        "--preset",
        "smoke",
        "--seeds",
        seeds,
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return seconds


def without_times(value):
    """``value`` with every dict key naming ``seconds`` dropped, at any depth (wall times differ)."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def numbers(out: Path, seeds: list[int]) -> dict[int, dict]:
    """Each seed's results without wall times (keys naming ``seconds``, at any depth)."""
    return {s: without_times(json.loads((out / f"seed-{s}" / "results.json").read_text())) for s in seeds}


def differing(a: dict[int, dict], b: dict[int, dict]) -> list[str]:
    """The result keys whose values differ in some seed."""
    return sorted({k for s in a for k in {*a[s], *b[s]} if a[s].get(k) != b[s].get(k)})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="npk-alignment")
    p.add_argument("--seeds", default="0,1,2,3")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--no-ray", action="store_true", help="skip the Ray mode")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    sets = [a for kv in args.overrides for a in ("--set", kv)]  # a heavier trial than smoke
    modes = {"sequential": sets, f"jobs {args.jobs}": ["--jobs", str(args.jobs), *sets]}
    if not args.no_ray:
        modes["ray (local instance)"] = ["--ray", *sets]
    times, same, loads = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        for i, (mode, extra) in enumerate(modes.items()):
            loads[mode] = load()
            times[mode] = timed_run(args.experiment, args.seeds, Path(tmp) / str(i), extra)
            diff = differing(numbers(Path(tmp) / str(i), seeds), numbers(Path(tmp) / "0", seeds))
            same[mode] = not diff
            if diff:
                print(f"{mode}: results differ from the sequential run in {', '.join(diff[:8])}")
            print(f"{mode:>22}: {times[mode]:7.1f} s  (load average {loads[mode]:.1f} before)")
    base = times["sequential"]
    for mode in list(modes)[1:]:
        print(
            f"{mode}: {base / times[mode]:.2f}x faster than sequential; "
            f"per-seed numbers {'identical' if same[mode] else 'DIFFER'}"
        )
    save(
        "parallel",
        {
            "command": " ".join(
                ["neuralpaths run", args.experiment, "--preset smoke --seeds", args.seeds, *sets]
            ),
            "seconds": times,
            "speedup": {m: base / t for m, t in times.items()},
            "identical_per_seed_numbers": same,
            "load_average_before": loads,
        },
    )


if __name__ == "__main__":
    main()
