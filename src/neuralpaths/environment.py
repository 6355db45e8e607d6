"""What a run records about where it ran (``env.json``): versions, git commit, the device used; and
:func:`num_threads`, running with a given number of torch threads."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch


def git_commit() -> dict[str, Any]:
    """Commit of the source tree the package runs from (``unknown`` outside a git checkout)."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=here, capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    return {"commit": commit or "unknown", "dirty": dirty}


def device_name(device: torch.device) -> str:
    """``"cpu"``, or ``"cuda:0 (NVIDIA H200)"`` for a CUDA device: the device a run actually used."""
    if device.type != "cuda":
        return device.type
    if not torch.cuda.is_available():  # asked of a cluster's workers, not of this machine
        return f"{device} (requested; not on this machine)"
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def environment(seed: int, device: torch.device | None = None) -> dict[str, Any]:
    """The ``env.json`` record of a run on ``device`` (default: the CPU)."""
    import matplotlib
    import scipy

    from . import __version__

    return {
        "seed": seed,
        "neuralpaths": __version__,
        "git": git_commit(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device_name(device if device is not None else torch.device("cpu")),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


@contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads (0: leave the setting alone), restoring it afterwards. The
    setting is process-wide: other threads of the process see it too."""
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
