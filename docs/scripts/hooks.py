"""MkDocs hook: the navigation's "Experiments" section lists every registered experiment, in the
order of ``neuralpaths.experiments.EXPERIMENTS`` (a new experiment gets its page with no edit here).
"""

from __future__ import annotations

from typing import Any

SECTION = "Experiments"


def experiments_nav(nav: list[Any]) -> list[Any]:
    """``nav`` with the ``Experiments`` section's pages after its first entry (the overview)."""
    from neuralpaths import experiments

    pages = [f"experiments/{name}.md" for name in experiments.EXPERIMENTS]
    out = []
    for entry in nav:
        if isinstance(entry, dict) and SECTION in entry:
            entry = {SECTION: [*entry[SECTION][:1], *pages]}
        out.append(entry)
    if not any(isinstance(e, dict) and SECTION in e for e in out):
        raise ValueError(f"mkdocs.yml: the nav has no {SECTION!r} section")
    return out


def on_config(config: Any) -> Any:
    config["nav"] = experiments_nav(config["nav"])
    return config
