"""Progress bars (tqdm, with rate and ETA) behind one switch.

``set_progress(False)`` (or the environment variable ``NEURALPATHS_PROGRESS=0``) silences every bar
the library draws; a call's own ``enabled=`` flag can only turn its bar off, not force it on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm

_enabled = os.environ.get("NEURALPATHS_PROGRESS", "1").lower() not in ("0", "false", "no", "off")


def set_progress(enabled: bool) -> None:
    global _enabled
    _enabled = bool(enabled)


def progress_enabled(enabled: bool | None = None) -> bool:
    return _enabled and (enabled is None or bool(enabled))


@contextmanager
def progress_disabled():
    """Silence progress bars inside a ``with`` block."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    enabled: bool | None = None,
    **kwargs: Any,
) -> tqdm:
    """A tqdm bar (rate and ETA shown by default) unless progress is switched off."""
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        disable=not progress_enabled(enabled),
        dynamic_ncols=True,
        leave=kwargs.pop("leave", False),
        **kwargs,
    )
