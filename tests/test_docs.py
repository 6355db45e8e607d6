"""The documentation site's sources agree with the code, checked without building it (`make docs`
builds it in strict mode): every experiment has a page in the navigation, every navigation entry is
a page that exists, and the docstrings' tables and roles become Markdown."""

import importlib
import sys
from pathlib import Path

import yaml

import neuralpaths.kernels
from neuralpaths import experiments

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "scripts"))
pages = importlib.import_module("pages")
hooks = importlib.import_module("hooks")
griffe_rst = importlib.import_module("griffe_rst")


def nav_files(nav) -> list[str]:
    out = []
    for entry in nav:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                out += nav_files(value) if isinstance(value, list) else [value]
    return out


def site_nav() -> list[str]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return nav_files(hooks.experiments_nav(config["nav"]))


def test_every_experiment_has_a_page_in_the_nav():
    nav, generated = site_nav(), pages.generated_pages()
    for name in experiments.EXPERIMENTS:
        assert f"experiments/{name}.md" in nav, name
        assert f"experiments/{name}.md" in generated, name


def test_every_library_module_has_a_reference_page():
    """Each module and package right below ``neuralpaths`` is documented on a page of its own (the
    command line, ``cli``, has the CLI page)."""
    package = ROOT / "src" / "neuralpaths"
    names = {p.stem for p in package.glob("*.py")} | {p.parent.name for p in package.glob("*/__init__.py")}
    documented = {module.split(".")[1] for _, module in pages.REFERENCE.values() if module.count(".") == 1}
    assert names - {"__init__", "cli"} <= documented, sorted(names - {"__init__", "cli"} - documented)


def test_nav_entries_exist_and_every_page_is_in_the_nav():
    nav, generated = site_nav(), set(pages.generated_pages())
    missing = [f for f in nav if f not in generated and not (ROOT / "docs" / f).is_file()]
    assert not missing, f"mkdocs.yml names pages nothing makes: {missing}"
    assert len(nav) == len(set(nav)), "a page is twice in the nav"
    assert not generated - set(nav), f"generated pages missing from mkdocs.yml's nav: {generated - set(nav)}"
    for _, module in pages.REFERENCE.values():
        importlib.import_module(module)  # every API page documents a module that exists


def test_getting_started_has_the_readme_commands_and_first_example():
    text = pages.getting_started(pages.README.read_text(encoding="utf-8"))
    assert "make run" in text and "make test" in text
    assert "```python" in text and "npf(dgn, x)" in text


def test_kernel_table_is_rendered_from_the_module_docstring():
    text = griffe_rst.to_markdown(neuralpaths.kernels.__doc__)
    assert "=====" not in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| kernel | first argument | its own options |"
    by_name = {r.split("|")[1].strip(): r for r in rows[1:]}
    assert set(by_name) >= {"npk", "ntk", "relu_ntk", "npk_limit"}
    assert "normalize, method, ignore_bias" in by_name["npk"]


def test_rst_roles_become_cross_references_or_code():
    text = griffe_rst.to_markdown(
        "See :func:`npk`, :class:`~neuralpaths.models.DGN`, :mod:`.common`, "
        ":class:`numpy.ndarray` and :func:`._private`."
    )
    assert "[`npk`][npk]" in text
    assert "[`DGN`][neuralpaths.models.DGN]" in text
    assert "[`.common`][.common]" in text
    assert "`numpy.ndarray`" in text and "[`numpy.ndarray`]" not in text
    assert "[`._private`]" not in text


def test_rst_table_continuation_lines_join_the_row_above():
    doc = "\n".join(
        [
            "====  ==========",
            "kind  meaning",
            "====  ==========",
            "a     first part",
            "      and more",
            "b     second",
            "====  ==========",
        ]
    )
    rows = griffe_rst.rst_tables(doc).splitlines()
    assert rows == ["| kind | meaning |", "| --- | --- |", "| a | first part and more |", "| b | second |"]
