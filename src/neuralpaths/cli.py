"""The ``neuralpaths`` command: list, run, sweep, resume, show and plot experiments.

Errors a user can fix (unknown experiment, bad override, missing data, unwritable folder) print one
line and exit with status 2; an interrupted run says how to resume it.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
from pathlib import Path

from . import __version__, config, experiments, runner
from .errors import UserError


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds expects integers like 0,1,2; got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="neuralpaths", description="ReLU networks through their gates and paths."
    )
    p.add_argument("--version", action="version", version=f"neuralpaths {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ls = sub.add_parser(
        "list", help="list experiments with their expected runtime (or one experiment's settings)"
    )
    ls.add_argument("experiment", nargs="?", help="show this experiment's config keys and presets")
    r = sub.add_parser("run", help="run an experiment")
    r.add_argument("experiment")
    r.add_argument("--preset", default="default", help="default | smoke | paper (default: default)")
    r.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (repeatable), e.g. --set epochs=3",
    )
    r.add_argument("--config", help="TOML or YAML file of config overrides")
    r.add_argument("--seeds", type=_seeds, help="comma-separated seeds, e.g. 0,1,2 (writes mean ± std)")
    r.add_argument("--out", help="run folder (default: runs/EXPERIMENT/TIME-PRESET)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    w = sub.add_parser("sweep", help="run an experiment over a grid of config values")
    w.add_argument("experiment")
    w.add_argument(
        "--grid",
        action="append",
        default=[],
        required=True,
        metavar="KEY=V1,V2",
        help="values to sweep (repeatable; the product is run), e.g. --grid lr=1e-3,1e-4",
    )
    w.add_argument("--preset", default="default")
    w.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    w.add_argument("--out", help="sweep folder (default: runs/EXPERIMENT/TIME-sweep)")
    w.add_argument("--quiet", action="store_true", help="no progress bars")
    for name, text in (
        ("resume", "continue an interrupted run"),
        ("show", "print a run's tables"),
        ("plot", "redraw a run's figures and report from saved results"),
    ):
        c = sub.add_parser(name, help=text)
        c.add_argument("run_dir")
        if name == "resume":
            c.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _list(name: str | None = None) -> None:
    if name is not None:
        print(describe_experiment(experiments.get(name)))
        return
    names = sorted(experiments.EXPERIMENTS)
    width = max((len(n) for n in names), default=0)
    for name in names:
        m = experiments.get(name)
        print(f"{name.ljust(width)}  {m.description}  [{m.runtime}]")


def _field_help(config: type) -> dict[str, str]:
    """The comment after each field in the ``Config`` source (``epochs: int = 20  # ...``)."""
    try:
        lines = inspect.getsource(config).splitlines()
    except (OSError, TypeError):
        return {}
    helps = {}
    for line in lines:
        m = re.match(r"\s+(\w+)\s*:[^#]*#\s*(.+)$", line)
        if m:
            helps[m.group(1)] = m.group(2).strip()
    return helps


def describe_experiment(exp) -> str:
    """``neuralpaths list EXPERIMENT``: what it does, its config keys (type, default, help), presets."""
    helps = _field_help(exp.config)
    rows = []
    for f in dataclasses.fields(exp.config):
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append((f.name, kind, repr(f.default), helps.get(f.name, "")))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        f"{exp.name}: {exp.description}",
        f"runtime: {exp.runtime}",
        "",
        "config keys (--set KEY=VALUE):",
    ]
    lines += [f"  {a.ljust(w[0])}  {b.ljust(w[1])}  {c.ljust(w[2])}  {d}".rstrip() for a, b, c, d in rows]
    lines += ["", "presets (--preset NAME):"]
    for preset, values in config.presets(exp).items():
        shown = ", ".join(f"{k}={v}" for k, v in values.items()) or "(the defaults above)"
        lines.append(f"  {preset}: {shown}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = getattr(args, "out", None) or getattr(args, "run_dir", None)
    try:
        if args.command == "list":
            _list(args.experiment)
        elif args.command == "run":
            overrides = runner.parse_overrides(args.overrides)
            path = runner.run_experiment(
                args.experiment, args.preset, overrides, args.seeds, args.out, not args.quiet, args.config
            )
            print(f"report: {Path(path) / 'report.md'}")
        elif args.command == "sweep":
            grid, overrides = runner.parse_grid(args.grid), runner.parse_overrides(args.overrides)
            path = runner.sweep(args.experiment, grid, args.preset, overrides, args.out, not args.quiet)
            print(f"report: {Path(path) / 'report.md'}")
        elif args.command == "resume":
            path = runner.resume(args.run_dir, not args.quiet)
            print(f"report: {Path(path) / 'report.md'}")
        elif args.command == "show":
            print(runner.show(args.run_dir))
        elif args.command == "plot":
            for f in runner.replot(args.run_dir):
                print(f)
    except UserError as e:
        print(f"neuralpaths: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = f" with `neuralpaths resume {out}`" if out else ""
        print(f"\nneuralpaths: interrupted; continue{where}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
