"""Bad input at the command line: one line ``neuralpaths: error: ...``, exit status 2, nothing created,
no experiment code run. One named test per row of the table (rows on run folders, files and signals:
``test_faults_runs.py``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from neuralpaths import cli, experiments

ALIAS_BOMB = (  # 324 bytes; expanding the aliases would build ~10^9 list items
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "label: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
)


def _file(name: str, content: bytes | str):
    """A setup writing ``content`` to ``tmp/name``; returns its path as the ``{file}`` argument."""

    def setup(tmp: Path) -> Path:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    return setup


def _folder(name: str):
    def setup(tmp: Path) -> Path:
        (tmp / name).mkdir()
        return tmp / name

    return setup


# id: (setup or None, arguments ({file} = what setup returned, {out} = a fresh folder), error text)
ROWS = {
    "seeds-negative": (
        None,
        ["run", "toy", "--seeds", "-3", "--out", "{out}"],
        "--seeds expects non-negative",
    ),
    "seeds-only-a-comma": (None, ["run", "toy", "--seeds", ",", "--out", "{out}"], "--seeds expects"),
    "seeds-text": (None, ["run", "toy", "--seeds", "0,a", "--out", "{out}"], "--seeds expects"),
    "seeds-repeated": (None, ["run", "toy", "--seeds", "1,1", "--out", "{out}"], "--seeds has repeats"),
    "unknown-experiment": (None, ["run", "nope", "--out", "{out}"], "unknown experiment 'nope'"),
    "unknown-preset": (None, ["run", "toy", "--preset", "huge", "--out", "{out}"], "unknown preset 'huge'"),
    "device-without-setting": (
        None,
        ["run", "toy", "--device", "cpu", "--out", "{out}"],
        "no device setting",
    ),
    "unknown-key": (None, ["run", "toy", "--set", "bogus=1", "--out", "{out}"], "unknown config key 'bogus'"),
    "override-without-value": (None, ["run", "toy", "--set", "n", "--out", "{out}"], "write key=value"),
    "override-nan": (None, ["run", "toy", "--set", "scale=nan", "--out", "{out}"], "scale expects a finite"),
    "override-inf": (None, ["run", "toy", "--set", "scale=inf", "--out", "{out}"], "scale expects a finite"),
    "override-huge-integer": (
        None,
        ["run", "toy", "--set", "n=" + "9" * 6000, "--out", "{out}"],
        "n expects",
    ),
    "override-long-value-cut": (
        None,
        ["run", "toy", "--set", "n=" + "x" * 100_000, "--out", "{out}"],
        "chars)",
    ),
    "unknown-command-option": (None, ["run", "toy", "--bogus"], "unrecognized arguments"),
    "device-unknown": (None, ["run", "dlgn-odt", "--device", "tpu", "--out", "{out}"], "device must be cpu"),
    "device-missing-gpu": (
        None,
        ["run", "dlgn-odt", "--device", "cuda:7", "--out", "{out}"],
        "not available",
    ),
    "config-missing": (None, ["run", "toy", "--config", "no.yaml", "--out", "{out}"], "does not exist"),
    "config-is-a-folder": (
        _folder("c.yaml"),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "not a file",
    ),
    "config-wrong-suffix": (
        _file("c.json", "{}"),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "must end",
    ),
    "config-not-utf8": (
        _file("c.yaml", b"n: \xff\xfe\n"),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "not UTF-8",
    ),
    "config-yaml-syntax": (
        _file("c.yaml", "n: [1, 2\n"),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "cannot parse",
    ),
    "config-toml-syntax": (
        _file("c.toml", "n = = 3\n"),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "cannot parse",
    ),
    "config-yaml-python-tag": (
        _file("c.yaml", "!!python/object/apply:os.system ['touch pwned']\n"),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "cannot parse",
    ),
    "config-yaml-alias-bomb": (
        _file("c.yaml", ALIAS_BOMB),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "aliases",
    ),
    "config-too-large": (
        _file("c.toml", "label = '" + "x" * 70_000 + "'\n"),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "larger than 64 KiB",
    ),
    "config-deeply-nested": (
        _file("c.yaml", "n: " + "[" * 20_000 + "]" * 20_000),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "nested too deeply",
    ),
    "config-not-a-table": (
        _file("c.yaml", "- 1\n- 2\n"),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "table",
    ),
    "config-wrong-type": (
        _file("c.yaml", "n: {a: 1}\n"),
        ["run", "toy", "--config", "{file}", "--out", "{out}"],
        "n expects an integer",
    ),
    "npk-points-zero-before-training": (
        None,
        ["run", "npf-regimes", "--preset", "smoke", "--set", "npk_points=0", "--out", "{out}"],
        "npk_points must be >= 2",
    ),
    "regimes-empty-before-training": (
        None,
        ["run", "npf-regimes", "--preset", "smoke", "--set", "regimes=[]", "--out", "{out}"],
        "regimes must be among",
    ),
    "sweep-bad-grid": (None, ["sweep", "toy", "--grid", "n", "--out", "{out}"], "bad grid"),
    "sweep-bad-value": (None, ["sweep", "toy", "--grid", "n=3,x", "--out", "{out}"], "n expects an integer"),
    "show-not-a-run-folder": (_folder("d"), ["show", "{file}"], "not a run folder"),
    "resume-not-a-run-folder": (_folder("d"), ["resume", "{file}"], "not a run folder"),
    "plot-missing-folder": (None, ["plot", "{out}"], "not a run folder"),
}


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    """The toy experiment, whose code must not run for bad input."""
    import dataclasses

    from tests.experiments import toy_experiment

    def never(cfg, out):
        raise AssertionError("the experiment ran")

    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "tests.experiments.toy_experiment")
    monkeypatch.setattr(
        toy_experiment, "EXPERIMENT", dataclasses.replace(toy_experiment.EXPERIMENT, run=never)
    )


def one_line_error(args: list[str], capsys) -> str:
    """Run the CLI; it must exit 2 with one line ``neuralpaths: error: ...`` and no traceback."""
    try:
        code = cli.main(args)
    except SystemExit as e:  # argparse
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err[:2000]
    assert err.startswith("neuralpaths: error: ") and len(err) < 600, err[:2000]
    return err


@pytest.mark.parametrize("row", list(ROWS), ids=list(ROWS))
def test_cli_rejects(row, tmp_path, capsys, monkeypatch):
    setup, args, message = ROWS[row]
    monkeypatch.chdir(tmp_path)
    made = setup(tmp_path) if setup else None
    out = tmp_path / "out"
    args = [a.replace("{file}", str(made)).replace("{out}", str(out)) for a in args]
    start = time.perf_counter()
    err = one_line_error(args, capsys)
    assert message in err
    assert time.perf_counter() - start < 10  # refused at once (the alias bomb took 10 s and 1.3 GB)
    assert not out.exists()  # nothing created, nothing run
    assert not (tmp_path / "pwned").exists()


def test_debug_shows_the_traceback(tmp_path, capsys):
    code = cli.main(["--debug", "run", "toy", "--set", "n=x", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" in err and "neuralpaths: error: n expects an integer" in err


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    """Not every exception is the user's: a bug in experiment code is raised, not hidden."""
    monkeypatch.undo()
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "tests.experiments.toy_experiment")
    with pytest.raises(RuntimeError, match="asked to fail"):
        cli.main(["run", "toy", "--set", "fail=true", "--quiet", "--out", str(tmp_path / "o")])
