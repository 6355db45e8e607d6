"""Griffe extension: read the reStructuredText bits of the docstrings as Markdown.

The docstrings are Google style (``Args:``, ``Returns:``, ``Shape:``) with a few reStructuredText
habits, rewritten here before mkdocstrings renders them, so the source stays as it is:

- roles ``:func:`npk```, ``:class:`~neuralpaths.models.Univariate```, ``:mod:`.common``` become
  cross-references (``[`npk`][npk]``); mkdocstrings resolves them in the object's scope (relative
  names from the leading dot), and an unknown target is a warning, so a strict build fails on it
  (names of other libraries and private names become code: they are not documented here);
- simple tables (``=====  =====`` borders) become Markdown tables;
- a paragraph ending in ``::`` ends in ``:`` (its indented block is a code block in Markdown too).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc):`(~?)([\w.]+)(?:\(\))?`")
BORDER = re.compile(r"^(\s*)(=+)((?:\s+=+)+)\s*$")


@functools.cache
def _external(name: str) -> bool:
    """``name`` is an importable top-level module other than this package (no inventories here)."""
    return name not in ("", "neuralpaths") and importlib.util.find_spec(name) is not None


def _role(m: re.Match) -> str:
    short, target = m.group(1), m.group(2)
    text = target.rsplit(".", 1)[-1] if short else target
    if ("." in target and _external(target.split(".")[0])) or "._" in target or target.startswith("_"):
        return f"`{text}`"  # another library's name, or a private one: not documented here
    return f"[`{text}`][{target}]"


def _columns(border: str) -> list[tuple[int, int]]:
    """Column spans ``(start, end)`` read from a table border line."""
    return [(m.start(), m.end()) for m in re.finditer(r"=+", border)]


def _cells(line: str, cols: list[tuple[int, int]]) -> list[str]:
    starts = [c[0] for c in cols] + [None]
    return [line[starts[i] : starts[i + 1]].strip() for i in range(len(cols))]


def _table(lines: list[str], indent: str, cols: list[tuple[int, int]]) -> list[str]:
    """A simple table's lines (between its first and last border) as a Markdown table."""
    header, rows = None, []
    for line in lines:
        if BORDER.match(line):
            continue
        cells = _cells(line, cols)
        if header is None:
            header = cells
        elif rows and not cells[0]:  # continuation line: the first column is empty
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells)]
        else:
            rows.append(cells)
    out = [header or [""] * len(cols), ["---"] * len(cols), *rows]
    return [indent + "| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in out]


def rst_tables(text: str) -> str:
    """Rewrite every simple table (three borders: top, under the header, bottom) as Markdown."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        m = BORDER.match(lines[i])
        if m:
            ends = [j for j in range(i + 1, len(lines)) if lines[j].strip() == lines[i].strip()]
            if len(ends) >= 2:
                cols = _columns(lines[i])
                out += _table(lines[i : ends[1] + 1], m.group(1), cols)
                i = ends[1] + 1
                continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def to_markdown(text: str) -> str:
    """A docstring's reStructuredText habits in Markdown (roles, simple tables, ``::``)."""
    text = ROLE.sub(_role, text)
    text = rst_tables(text)
    return re.sub(r"(\S)::\n\n", r"\1:\n\n", text)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring with :func:`to_markdown` once the package is loaded."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
