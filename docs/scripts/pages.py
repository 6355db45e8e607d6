"""The generated pages of the documentation site, as text: made from the README, the command-line
parser, the experiments' declarations and docstrings, their smoke runs and the package's docstrings,
so no page repeats by hand what the code says.

``gen_pages.py`` (run by mkdocs-gen-files during ``mkdocs build``) writes them into the site;
``tests/test_docs.py`` imports :func:`generated_pages` to check ``mkdocs.yml``'s navigation.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SMOKE_DIR = ROOT / "build" / "docs-smoke"  # smoke runs, reused by later builds (`make docs` clears it)

# API reference: page name -> (title, module rendered on it). Order = navigation order.
REFERENCE: dict[str, tuple[str, str]] = {
    "models": ("Models", "neuralpaths.models"),
    "paths": ("Paths", "neuralpaths.paths"),
    "graph": ("Any module (graph)", "neuralpaths.graph"),
    "kernels": ("Kernels", "neuralpaths.kernels"),
    "gate": ("Gates", "neuralpaths.gate"),
    "geometry": ("Geometry", "neuralpaths.geometry"),
    "data": ("Data", "neuralpaths.data"),
    "plots": ("Plots", "neuralpaths.plots"),
    "univariate": ("Univariate", "neuralpaths.univariate"),
    "optim": ("Optimisers (Path-SGD)", "neuralpaths.optim"),
    "train": ("Training", "neuralpaths.train"),
    "history": ("Training history", "neuralpaths.history"),
    "checkpoint": ("Checkpoints", "neuralpaths.checkpoint"),
    "losses": ("Losses", "neuralpaths.losses"),
    "io": ("Files (io)", "neuralpaths.io"),
    "checks": ("Input checks", "neuralpaths.checks"),
    "errors": ("Errors", "neuralpaths.errors"),
    "progress": ("Progress bars", "neuralpaths.progress"),
    "experiments": ("Experiment protocol", "neuralpaths.experiments"),
    "common": ("Experiment helpers", "neuralpaths.experiments.common"),
    "runner": ("Runner", "neuralpaths.runner"),
    "config": ("Configs", "neuralpaths.config"),
    "runfolder": ("Run folders", "neuralpaths.runfolder"),
    "environment": ("Run environment", "neuralpaths.environment"),
    "runs": ("Reading runs back", "neuralpaths.runs"),
    "sweeps": ("Sweeps", "neuralpaths.sweeps"),
    "parallel": ("Parallel trials", "neuralpaths.parallel"),
    "raytasks": ("Trials on Ray", "neuralpaths.raytasks"),
    "compare": ("Comparing runs", "neuralpaths.compare"),
    "report": ("Reports", "neuralpaths.report"),
}
README_SECTIONS = ("Set up and run", "A first look at the library", "Data")
README_CLI = "Experiments and the command line"


def experiment_names() -> list[str]:
    from neuralpaths import experiments

    return sorted(experiments.EXPERIMENTS)


def generated_pages() -> list[str]:
    """Every page the generator writes (paths inside the site's sources)."""
    return [
        "index.md",
        "cli.md",
        "experiments/index.md",
        *(f"experiments/{n}.md" for n in experiment_names()),
        "reference/neuralpaths.md",
        *(f"reference/{p}.md" for p in REFERENCE),
    ]


# --- getting started, command line ----------------------------------------------------------------


def readme_sections(text: str) -> dict[str, str]:
    """The README's ``## `` sections by title (``""``: the part before the first)."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    sections = {"": parts[0]}
    sections.update({parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)})
    return sections


def getting_started(readme: str) -> str:
    """The README's introduction, its two commands, its first examples and its data notes."""
    sections = readme_sections(readme)
    missing = [s for s in README_SECTIONS if s not in sections]
    if missing:
        raise ValueError(f"README.md has no section(s) {missing}; update docs/scripts/pages.py")
    intro = re.sub(r"^# .+\n", "", sections[""]).strip()
    out = ["# Getting started", "", intro, ""]
    for title in README_SECTIONS:
        out += [f"## {title}", "", sections[title].strip(), ""]
    out += ["The experiments and the command line: [Command line](cli.md), one page per experiment.", ""]
    return "\n".join(out)


def cli_page(readme: str) -> str:
    """The README's command-line section, then ``neuralpaths COMMAND --help`` for every command."""
    import argparse

    from neuralpaths.cli import build_parser

    section = readme_sections(readme).get(README_CLI)
    if section is None:
        raise ValueError(f"README.md has no section {README_CLI!r}; update docs/scripts/pages.py")
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = ["# Command line", "", section.strip(), ""]
    out += ["## Every command's options", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, p in sub.choices.items():
        out += [f"### `neuralpaths {name}`", "", "```text", p.format_help().rstrip(), "```", ""]
    return "\n".join(out)


# --- experiments ----------------------------------------------------------------------------------


def smoke_command(name: str, out: Path | str = "DIR") -> list[str]:
    return ["neuralpaths", "run", name, "--preset", "smoke", "--out", str(out), "--quiet"]


def run_smoke(name: str, root: Path = SMOKE_DIR) -> Path:
    """The smoke run of ``name`` under ``root`` (run now unless a finished one is there)."""
    out = root / name
    if (out / "report.md").is_file() and (out / "seconds.txt").is_file():
        return out
    if out.exists():
        import shutil

        shutil.rmtree(out)
    root.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "neuralpaths.cli", *smoke_command(name, out)[1:]]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"smoke run of {name} failed:\n{done.stderr[-3000:]}")
    (out / "seconds.txt").write_text(f"{time.perf_counter() - start:.1f}\n")
    return out


def run_smokes(names: list[str], root: Path = SMOKE_DIR) -> dict[str, Path]:
    """Smoke runs of all ``names``, as many at a time as there are CPU cores (at most 4)."""
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(names, pool.map(lambda n: run_smoke(n, root), names)))


def smoke_report(name: str, run: Path) -> tuple[str, list[str]]:
    """The smoke run's ``report.md`` for the page (headings one level down, figure links into
    ``<name>/``) and the figure files it shows (relative to the run folder)."""
    text = (run / "report.md").read_text(encoding="utf-8")
    text = re.sub(r"\A# .*\n", "", text)
    text = re.sub(r"^(#+) ", r"\1# ", text, flags=re.M)
    figures = re.findall(r"\]\((figures/[^)]+)\)", text)
    text = re.sub(r"\]\((figures/[^)]+)\)", rf"]({name}/\1)", text)
    return text, figures


def experiments_index() -> str:
    """The experiments, one line each, as ``neuralpaths list`` prints them."""
    from neuralpaths import experiments

    rows = [
        f"| [`{n}`]({n}.md) | {experiments.get(n).description} | {experiments.get(n).runtime} |"
        for n in experiment_names()
    ]
    intro = (
        "Each experiment is a package under `src/neuralpaths/experiments/` (see the "
        "[experiment protocol](../reference/experiments.md)); its page shows its protocol, command, "
        "expected numbers, settings and presets, and the tables and figures of a smoke run made "
        "while this site was built."
    )
    head = ["# Experiments", "", intro, "", "| experiment | what it does | runtime |", "|---|---|---|"]
    return "\n".join([*head, *rows, ""])


def experiment_page(name: str, run: Path) -> str:
    """One experiment's page: declaration, docstring (protocol, command, expected numbers), settings
    and presets (``neuralpaths list NAME``), then the report of its smoke run with its figures."""
    from neuralpaths import experiments
    from neuralpaths.cli import describe_experiment

    exp = experiments.get(name)
    module = experiments.module_name(name)
    seconds = (run / "seconds.txt").read_text().strip()
    report, _ = smoke_report(name, run)
    return "\n".join(
        [
            f"# {name}",
            "",
            f"{exp.description}.",
            "",
            f"**Command:** `neuralpaths run {name}` — **runtime:** {exp.runtime}.",
            "",
            f"::: {module}",
            "    options:",
            "      show_root_heading: false",
            "      show_root_toc_entry: false",
            "      members: false",
            "",
            "## Settings and presets",
            "",
            f"`neuralpaths list {name}` prints:",
            "",
            "```text",
            describe_experiment(exp),
            "```",
            "",
            "## Smoke run",
            "",
            f"The figures and tables below come from `{' '.join(smoke_command(name))}`, run while this "
            f"site was built ({seconds} s). The smoke preset checks the plumbing in seconds; its numbers "
            "are not the experiment's results (those are stated above).",
            "",
            report.strip(),
            "",
        ]
    )


# --- API reference --------------------------------------------------------------------------------


def _submodules(module: str) -> list[str]:
    """The public modules of a package, in file order (none for a plain module)."""
    import importlib
    import pkgutil

    mod = importlib.import_module(module)
    if not hasattr(mod, "__path__"):
        return []
    return [f"{module}.{m.name}" for m in pkgutil.iter_modules(mod.__path__) if not m.name.startswith("_")]


def shadowed(module: str) -> dict[str, str]:
    """Public names of ``module`` that are also the names of its submodules (``kernels.npk`` is the
    function ``npk`` imported from the module ``kernels/npk.py``): name -> where it is defined.
    The static reader sees the submodule there, so the page renders the definition itself."""
    import importlib

    mod = importlib.import_module(module)
    subs = {s.rsplit(".", 1)[1] for s in _submodules(module)}
    out = {}
    for name in getattr(mod, "__all__", ()):
        obj = getattr(mod, name)
        if name in subs and hasattr(obj, "__qualname__"):
            out[name] = f"{obj.__module__}.{obj.__qualname__}"
    return out


def _block(identifier: str, **options: object) -> list[str]:
    lines = [f"::: {identifier}"]
    if options:
        lines.append("    options:")
        lines += [f"      {k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in options.items()]
    return [*lines, ""]


@functools.cache
def _static_package():
    """The package as griffe reads it (statically, as mkdocstrings does)."""
    import griffe

    return griffe.load("neuralpaths", search_paths=[str(ROOT / "src")], resolve_aliases=False)


def _internal_members(module: str) -> list[str]:
    """Public names defined in ``module`` (not imported) and not exported by its package: the
    helpers its design notes refer to."""
    import importlib

    package = importlib.import_module(module.rsplit(".", 1)[0])
    mod = _static_package()[module.split(".", 1)[1]]
    exported = set(getattr(package, "__all__", ()))
    return [
        n for n, m in mod.members.items() if not n.startswith("_") and not m.is_alias and n not in exported
    ]


def reference_page(page: str) -> str:
    """An API page: the module (its docstring and public names), the public names that share a
    submodule's name, then its submodules: their docstrings (the design notes) and the helpers
    defined there that the package does not export."""
    from neuralpaths import experiments

    title, module = REFERENCE[page]
    out = [f"# {title}", "", *_block(module)]
    hidden = shadowed(module)
    for name, home in hidden.items():
        # the public name as a cross-reference target (the static reader has the module there)
        out += [f"[](){{#{module}.{name}}}", "", *_block(home, show_root_heading=True)]
    elsewhere = {m for _, m in REFERENCE.values()} | {experiments.module_name(n) for n in experiment_names()}
    subs = [s for s in _submodules(module) if s not in elsewhere]
    if subs:
        out += ["## Modules", ""]
    for sub in subs:
        members = [m for m in _internal_members(sub) if f"{sub}.{m}" not in hidden.values()]
        if sub.rsplit(".", 1)[1] not in hidden:
            listed = f"[{', '.join(members)}]" if members else False
            out += _block(sub, show_root_heading=True, members=listed, heading_level=3)
        else:
            out += [b for m in members for b in _block(f"{sub}.{m}", show_root_heading=True, heading_level=3)]
    return "\n".join(out)


def top_level_page() -> str:
    """``import neuralpaths``: its public names, each linked to where it is documented."""
    import importlib

    import neuralpaths

    homes = [m for _, m in REFERENCE.values() if m.count(".") == 1]
    rows = []
    for name in neuralpaths.__all__:
        if name.startswith("_"):
            continue
        home = next((m for m in homes if name in getattr(importlib.import_module(m), "__all__", ())), None)
        home = home or next(m for m in homes if hasattr(importlib.import_module(m), name))
        rows.append(f"| [`{name}`][{home}.{name}] | `{home}` |")
    return "\n".join(
        [
            "# neuralpaths",
            "",
            "::: neuralpaths",
            "    options:",
            "      show_root_heading: false",
            "      show_root_toc_entry: false",
            "      members: false",
            "",
            "## Public names",
            "",
            "`from neuralpaths import ...` gives these; each is documented in its module.",
            "",
            "| name | module |",
            "|---|---|",
            *rows,
            "",
        ]
    )
