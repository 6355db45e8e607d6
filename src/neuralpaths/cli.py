"""The ``neuralpaths`` command: list, run, sweep, resume, show, plot and compare experiments.

Errors a user can fix (unknown experiment, bad override or config file, missing or damaged data,
a run folder that is in use, another run's or damaged) print one line ``neuralpaths: error: ...`` and
exit with status 2; anything else is a bug and shows its traceback (``--debug`` always shows it). An
interrupted run (Ctrl-C: exit 130, SIGTERM: exit 143) says how to resume it.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import inspect
import re
import signal
import sys
import traceback
from pathlib import Path

from . import __version__, config, experiments, runner
from .errors import Terminated, UserError, shorten

# OS errors a user fixes (a full disk, a read-only or forbidden folder): one line, not a traceback
USER_OS_ERRORS = (errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EDQUOT, errno.EPERM)


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (``neuralpaths: error: ...``), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"neuralpaths: error: {shorten(message, 300)[1:-1]} (see {self.prog} --help)\n")


def _seeds(text: str) -> list[int]:
    items = [s.strip() for s in text.split(",")]
    if not all(s.isdigit() for s in items):
        raise argparse.ArgumentTypeError(
            f"--seeds expects non-negative integers like 0,1,2; got {shorten(text, 40)}"
        )
    return [int(s) for s in items]


def _jobs(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 256:
        raise argparse.ArgumentTypeError(
            f"--jobs expects a number of processes from 1 to 256; got {shorten(text, 20)}"
        )
    return int(text)


def _ray_address(text: str) -> str:
    ok = text in ("auto", "local") or re.fullmatch(r"(ray://)?[\w.\-\[\]:]+:\d+", text)
    if not ok:
        raise argparse.ArgumentTypeError(
            "--ray takes no value (a local Ray instance), auto, HOST:PORT or ray://HOST:PORT; "
            f"got {shorten(text, 40)}"
        )
    return text


def _add_parallel(c: argparse.ArgumentParser) -> None:
    """``--jobs N`` and ``--ray [ADDRESS]`` of the commands that run several trials."""
    c.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="run up to N trials (seeds, grid points) at once in worker processes (default: 1)",
    )
    c.add_argument(
        "--ray",
        nargs="?",
        const="local",
        type=_ray_address,
        metavar="ADDRESS",
        help="run each trial as a Ray task: on a local Ray instance, or the cluster at ADDRESS "
        "(auto | ray://HOST:PORT); needs `pip install neuralpaths[ray]`",
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="neuralpaths", description="ReLU networks through their gates and paths.")
    p.add_argument("--version", action="version", version=f"neuralpaths {__version__}")
    debug = {"action": "store_true", "help": "show the full traceback of any error"}
    p.add_argument("--debug", **debug)
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
    r.add_argument("--out", help="run folder, new or empty (default: runs/EXPERIMENT/TIME-PRESET)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--device", help="cpu | cuda | cuda:N | auto (shorthand for --set device=...)")
    _add_parallel(r)
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
    w.add_argument("--device", help="cpu | cuda | cuda:N | auto (shorthand for --set device=...)")
    _add_parallel(w)
    for name, text in (
        ("resume", "continue an interrupted run or sweep (failed trials run again)"),
        ("show", "print a run's or sweep's tables (a sweep: grid points, mean ± std over seeds, failures)"),
        ("plot", "redraw a run's or sweep's figures and report from saved results"),
    ):
        c = sub.add_parser(name, help=text)
        c.add_argument("run_dir")
        if name == "resume":
            c.add_argument("--quiet", action="store_true", help="no progress bars")
            _add_parallel(c)
    m = sub.add_parser("compare", help="print and plot the common metrics of several runs side by side")
    m.add_argument("run_dirs", nargs="+", metavar="RUN", help="run folders (two or more)")
    m.add_argument("--out", help="folder for compare.csv and the figure (default: ./compare-TIME)")
    for c in sub.choices.values():  # --debug after the command too
        c.add_argument("--debug", **debug, default=argparse.SUPPRESS)
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


def _overrides(args: argparse.Namespace) -> dict:
    overrides = runner.parse_overrides(args.overrides)
    if args.device is not None:
        fields = {f.name for f in dataclasses.fields(experiments.get(args.experiment).config)}
        if "device" not in fields:
            raise UserError(
                f"{args.experiment} has no device setting: it runs on the CPU only; drop --device"
            )
        overrides["device"] = args.device
    return overrides


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "list":
        _list(args.experiment)
    elif args.command == "run":
        path = runner.run_experiment(
            args.experiment,
            args.preset,
            _overrides(args),
            args.seeds,
            args.out,
            not args.quiet,
            args.config,
            jobs=args.jobs,
            ray=args.ray,
        )
        print(f"report: {Path(path) / 'report.md'}")
    elif args.command == "sweep":
        grid = runner.parse_grid(args.grid)
        path = runner.sweep(
            args.experiment,
            grid,
            args.preset,
            _overrides(args),
            args.out,
            not args.quiet,
            jobs=args.jobs,
            ray=args.ray,
        )
        print(f"report: {Path(path) / 'report.md'}")
    elif args.command == "resume":
        if runner.finished(runner.check_folder(args.run_dir)):
            hint = "" if runner.is_sweep(args.run_dir) else f" (`neuralpaths plot {args.run_dir}` redraws it)"
            print(f"{args.run_dir} is finished; nothing to resume{hint}")
            return
        path = runner.resume(args.run_dir, not args.quiet, jobs=args.jobs, ray=args.ray)
        print(f"report: {Path(path) / 'report.md'}")
    elif args.command == "compare":
        from .compare import compare_runs

        text, out = compare_runs(args.run_dirs, args.out)
        print(text)
        print(f"figure: {out / 'compare.png'}")
    elif args.command == "show":
        print(runner.show(args.run_dir))
    elif args.command == "plot":
        for f in runner.replot(args.run_dir):
            print(f)


def _terminate(signum: int, frame: object) -> None:
    error = Terminated()
    error.signal = "SIGTERM"  # type: ignore[attr-defined]
    raise error


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = getattr(args, "out", None) or getattr(args, "run_dir", None)
    before = signal.signal(signal.SIGTERM, _terminate)
    try:
        _dispatch(args)
    except UserError as e:
        return _error(args, str(e))
    except OSError as e:
        if e.errno not in USER_OS_ERRORS:
            raise
        return _error(args, f"{e.strerror}: {e.filename}" if e.filename else str(e))
    except KeyboardInterrupt as e:
        if args.debug:
            traceback.print_exc()
        where = f" with `neuralpaths resume {out}`" if out and args.command in ("run", "resume") else ""
        print(f"\nneuralpaths: interrupted; continue{where}", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, before)
    return 0


def _error(args: argparse.Namespace, message: str) -> int:
    if args.debug:
        traceback.print_exc()
    print(f"neuralpaths: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
