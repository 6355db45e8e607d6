"""One calling convention for every kernel, and the table in ``neuralpaths.kernels``' docstring
matches the code."""

from __future__ import annotations

import inspect

import pytest

from neuralpaths import kernels

COMMON = {"block_size", "progress"}
CHECKS = {"check_finite"}  # every kernel refuses NaN/inf inputs unless told not to (default True)
DEPRECATED = {"params", "depth", "widths", "bias"}  # older spellings kept for one release


def _table() -> dict[str, tuple[str, set[str]]]:
    rows = {}
    lines = kernels.__doc__.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("kernel "))
    for line in lines[start + 2 :]:
        if line.startswith("====="):
            break
        name, first, *options = line.split(maxsplit=2)
        rows[name] = (first, {o.strip() for o in options[0].split(",")} if options else set())
    return rows


TABLE = _table()


def test_the_table_lists_every_kernel():
    assert set(TABLE) == {
        "npk",
        "npk_parts",
        "shared_weight_npk",
        "ntk",
        "relu_ntk",
        "relu_nngp",
        "npk_limit",
        "univariate_ntk",
    }


@pytest.mark.parametrize("name", list(TABLE))
def test_signature_follows_the_convention_and_the_table(name):
    sig = inspect.signature(getattr(kernels, name))
    params = list(sig.parameters.values())
    first, options = TABLE[name]
    assert params[0].name == first and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert [p.name for p in params[1:3]] == ["x1", "x2"] and params[2].default is None
    keyword_only = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert {p.name for p in params[3:]} == keyword_only  # everything after x2 is keyword-only
    assert COMMON <= keyword_only
    assert all(sig.parameters[k].default is None for k in COMMON)
    assert CHECKS <= keyword_only and all(sig.parameters[k].default is True for k in CHECKS)
    assert keyword_only - COMMON - CHECKS - DEPRECATED == options
