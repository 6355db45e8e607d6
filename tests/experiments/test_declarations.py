"""Every registered experiment keeps the protocol of ``neuralpaths.experiments``: a package with the
same files, a typed declaration, presets that name Config fields, a docstring with the command, the
time (the declaration's ``runtime``, stated nowhere else) and the expected numbers; and experiments
use the library's public names only, import no other experiment and never the runner."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from neuralpaths import experiments, runner
from neuralpaths.experiments.common import Experiment

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "neuralpaths" / "experiments"
NAMES = sorted(experiments.EXPERIMENTS)
FILES = {"__init__.py", "run.py", "report.py", "presets.toml"}
SCALARS = (int, float, bool, str)
# Presets files name no times (the declaration's runtime states them): no "5 min", "~2 h", "30 s".
TIME = re.compile(r"\d\s*(s|sec|seconds?|min|minutes?|h|hours?)\b", re.I)


def _package(name: str) -> Path:
    return PACKAGE / experiments.EXPERIMENTS[name]


def _default_time(runtime: str) -> str:
    """The runtime's first clause: what the default preset costs (``"~5 min on 2 CPU cores"``)."""
    return re.split(r" \(|;", runtime, maxsplit=1)[0].strip()


@pytest.mark.parametrize("name", NAMES)
def test_declaration_fields_are_present_and_typed(name):
    exp = experiments.get(name)
    assert isinstance(exp, Experiment) and exp.name == name
    assert exp.description and "\n" not in exp.description
    assert re.fullmatch(r"~[\d.]+ (s|min|h) on \d+ CPU (cores|threads?)", _default_time(exp.runtime))
    assert dataclasses.is_dataclass(exp.config) and exp.config.__dataclass_params__.frozen
    hints = typing.get_type_hints(exp.config)
    assert hints.get("seed") is int and hints.get("threads", int) is int
    for f in dataclasses.fields(exp.config):
        assert f.default is not dataclasses.MISSING, f"{name}: Config.{f.name} has no default"
        hint = hints[f.name]
        if typing.get_origin(hint) is tuple:
            assert typing.get_args(hint)[0] in SCALARS and typing.get_args(hint)[1:] in ((...,), ()), f.name
        else:
            assert hint in SCALARS, f"{name}: Config.{f.name} is {hint}"
    for fn, arity in ((exp.run, 2), (exp.tables, 1), (exp.plot, 2), (exp.summary, 1)):
        if fn is not None:
            assert callable(fn) and len(inspect.signature(fn).parameters) == arity, fn
    assert exp.run.__module__.endswith(".run") and exp.tables.__module__.endswith(".report")
    assert exp.plot.__module__.endswith(".report")
    assert exp.presets_path == _package(name) / "presets.toml"


@pytest.mark.parametrize("name", NAMES)
def test_package_holds_the_same_files(name):
    found = {p.name for p in _package(name).iterdir() if p.suffix in (".py", ".toml")}
    assert found >= FILES, f"{name}: missing {FILES - found}"
    for p in _package(name).glob("*.py"):  # further modules only where a file would pass ~300 lines
        assert len(p.read_text(encoding="utf-8").splitlines()) <= 400, f"{p.name} is too long: split it"


@pytest.mark.parametrize("name", NAMES)
def test_presets_parse_and_name_config_fields(name):
    exp = experiments.get(name)
    text = exp.presets_path.read_text(encoding="utf-8")
    tables = tomllib.loads(text)
    assert {"default", "smoke", "paper"} <= set(tables)
    fields = {f.name for f in dataclasses.fields(exp.config)}
    for preset, values in tables.items():
        assert set(values) <= fields, f"{name} [{preset}]: not Config fields: {set(values) - fields}"
        assert isinstance(runner.make_config(exp, preset), exp.config)  # every value type-checks
    assert not TIME.search(text), f"{name}: presets.toml states a time ({TIME.search(text)[0]!r})"


@pytest.mark.parametrize("name", NAMES)
def test_docstring_states_command_time_and_expected_numbers(name):
    exp = experiments.get(name)
    doc = " ".join((importlib.import_module(experiments.module_name(name)).__doc__ or "").split())
    assert f"neuralpaths run {name}" in doc
    assert _default_time(exp.runtime) in doc, f"{name}: the docstring does not state {exp.runtime!r}"
    assert re.search(r"(Expected|Measured)\b[^.]*\d", doc), f"{name}: no expected numbers"


def test_readme_states_the_main_job_time_as_declared():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    main_job = next(line for line in readme.splitlines() if line.startswith("make run"))
    assert _default_time(experiments.get("npf-regimes").runtime) in main_job


# --- imports ------------------------------------------------------------------------------------
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(absolute module, imported names, line)`` of every import in ``path``."""
    package = path.relative_to(ROOT / "src").with_suffix("").parts[:-1]  # a module's package, or the package
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((module, [a.name for a in node.names], node.lineno))
    return found


def _private(module: str, names: list[str]) -> list[str]:
    return [p for p in [*module.split("."), *names] if p.startswith("_") and not p.startswith("__")]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_experiments_use_public_library_names_and_never_the_runner(path):
    own = experiments.__name__
    here = path.relative_to(PACKAGE).parts
    experiment = f"{own}.{here[0]}" if len(here) > 1 else None
    for module, names, line in _imports(path):
        where = f"{path.name}:{line}"
        if not module.startswith("neuralpaths"):
            continue
        assert not _private(module, names), f"{where}: private name {_private(module, names)} of {module}"
        assert module not in ("neuralpaths.runner", "neuralpaths.cli"), f"{where}: imports {module}"
        assert "runner" not in names, f"{where}: imports the runner"
        if module.startswith(own):  # the shared module, or the experiment's own package
            allowed = {own, f"{own}.common"} | ({experiment} if experiment else set())
            assert module in allowed or module.startswith(f"{experiment}."), f"{where}: imports {module}"
        elif module.count(".") > 1:  # below a library package's top level
            assert not names, f"{where}: import {sorted(names)} from the package, not {module}"


def test_experiments_read_no_private_attributes():
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                attr = node.attr
                assert not (attr.startswith("_") and not attr.startswith("__")), f"{path.name}: .{attr}"


def test_loading_every_experiment_leaves_the_runner_unloaded():
    code = (
        "import sys; from neuralpaths import experiments; "
        "[experiments.get(n) for n in experiments.EXPERIMENTS]; print('neuralpaths.runner' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
