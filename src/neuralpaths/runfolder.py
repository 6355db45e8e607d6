"""Run folders kept safe: created only where nothing is, one writer at a time, and nothing read back
from them trusted before it is checked.

- :func:`claim` decides whether ``out`` may be used: a new or empty folder, or (to resume) a run
  folder of the same experiment and config; anything else is refused with a one-line error, so no
  file of another run or of the user is overwritten.
- :class:`RunLock` holds ``out/.neuralpaths.lock`` (an ``flock`` with the holder's pid written in it)
  while a run writes there; a second writer is refused naming that pid. The kernel drops the lock of
  a dead process, so a stale lock file is simply taken over.
- :func:`pack_files` / :func:`unpack_files` carry a run folder's files to and from a worker machine
  that cannot reach it; names that would land outside the folder are refused.
- :func:`read_record` reads ``config.json`` and checks it against the experiment's ``Config`` schema
  (experiment, preset, overrides, seeds) before anything uses it; :func:`check_inside` refuses
  symbolic links inside a run folder, so every write stays inside it.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from . import experiments
from .config import make_config, presets
from .errors import RunFolderError, UserError
from .io import atomic_write, remove_orphan_temps

LOCK_NAME = ".neuralpaths.lock"
MAX_RECORD_BYTES = 1 << 20  # config.json / status.json read back at most this big
MAX_RESULTS_BYTES = 256 << 20  # results.json (pictures are packed into it: a few MiB is normal)
MAX_SEEDS = 1000
MAX_PACKED_BYTES = 4 << 30  # a run folder carried to or from a worker machine


class RunLock:
    """``with RunLock(out):`` — exclusive use of the run folder ``out`` by this process."""

    def __init__(self, out: Path) -> None:
        self.out, self.path, self.fd = Path(out), Path(out) / LOCK_NAME, -1

    def __enter__(self) -> RunLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise RunFolderError(
                    f"{self.out} is in use by another run (pid {holder}); wait for it to finish or stop it"
                ) from None
            try:  # the holder may have removed the file between our open and our lock: retry
                same = os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        remove_orphan_temps(self.out)  # temp files of a killed write: nobody else is writing here
        return self

    def __exit__(self, *exc: object) -> None:
        Path(self.path).unlink(missing_ok=True)
        os.close(self.fd)


def make_folder(out: Path) -> None:
    """Create ``out`` and its parents, or say in one line why it cannot be."""
    if out.exists() and not out.is_dir():
        raise UserError(f"cannot write to {out}: it is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot write to {out}: {e.strerror or e}") from None


def check_inside(out: Path) -> None:
    """Refuse a run folder holding symbolic links (a write through one could land outside it)."""
    for p in [out, *out.rglob("*")] if out.is_dir() else []:
        if p != out and p.is_symlink():
            raise RunFolderError(f"{out} holds a symbolic link ({p.relative_to(out)}); a run folder may not")


def claim(out: Path, config_record: dict, resume: bool) -> None:
    """Check that ``out`` may hold this run (see the module docstring) and create it."""
    if out.exists() and not out.is_dir():
        raise UserError(f"cannot write to {out}: it is a file, not a folder")
    if out.is_dir():
        check_inside(out)
        names = sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME and not p.name.endswith(".tmp"))
        if (out / "config.json").exists():
            old = read_record(out)
            new = json.loads(json.dumps(config_record, default=str))
            was = old.get("config") or {}
            # settings added to an experiment since the run started take their defaults: the same run
            same = set(was) <= set(new["config"]) and all(new["config"][k] == v for k, v in was.items())
            if not same or old["experiment"] != new["experiment"]:
                raise RunFolderError(
                    f"{out} already holds a different run; "
                    f"use `neuralpaths resume {out}` or choose another --out"
                )
            if not resume:
                raise RunFolderError(
                    f"{out} already holds this run; continue it with `neuralpaths resume {out}` "
                    "or choose another --out"
                )
        elif names:
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            raise RunFolderError(
                f"{out} exists and is not a run folder (it holds {shown}); choose a new or empty --out"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise UserError(f"cannot write to {out}: {e.strerror or e}") from None


def pack_files(folder: Path) -> dict[str, bytes]:
    """The plain files of a run folder by relative POSIX path (no lock or temporary files)."""
    check_inside(folder)
    files, total = {}, 0
    for p in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if p.is_file() and p.name != LOCK_NAME and not p.name.endswith(".tmp"):
            files[p.relative_to(folder).as_posix()] = data = p.read_bytes()
            total += len(data)
            if total > MAX_PACKED_BYTES:
                raise RunFolderError(
                    f"{folder} holds more than {MAX_PACKED_BYTES >> 30} GiB; too much to carry"
                )
    return files


def unpack_files(files: dict[str, bytes], folder: Path) -> None:
    """Write ``files`` (from :func:`pack_files`) into ``folder``, each atomically; a name that is not a
    plain relative path inside it is refused."""
    folder.mkdir(parents=True, exist_ok=True)
    check_inside(folder)
    for name, data in files.items():
        parts = PurePosixPath(name).parts
        if not parts or name.startswith("/") or "\\" in name or any(q in ("", ".", "..") for q in parts):
            raise RunFolderError(
                f"refused a file named {name[:60]!r} from a worker: not inside the run folder"
            )
        if not isinstance(data, bytes):
            raise RunFolderError(f"refused {name[:60]!r} from a worker: not file contents")
        atomic_write(folder.joinpath(*parts), lambda f, data=data: f.write(data))
    check_inside(folder)


def read_small_json(path: Path, what: str, limit: int = MAX_RECORD_BYTES) -> Any:
    """A JSON file of a run folder, with a size limit and one-line errors for damage."""
    try:
        if path.is_symlink() or not path.is_file():
            raise RunFolderError(f"{path} is not a plain file")
        if path.stat().st_size > limit:
            raise RunFolderError(f"{path} is larger than {limit >> 20} MiB; not a {what}")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RunFolderError(f"cannot read {path} ({type(e).__name__}): the {what} is damaged") from None


def check_seeds(seeds: Any, where: str = "--seeds") -> list[int] | None:
    """``None`` or a non-empty list of distinct non-negative integers (folder names ``seed-<s>``)."""
    if seeds is None:
        return None
    ok = isinstance(seeds, (list, tuple)) and all(
        isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**63 for s in seeds
    )
    if not ok or not seeds or len(seeds) > MAX_SEEDS:
        raise RunFolderError(
            f"{where} must be a list of 1 to {MAX_SEEDS} non-negative integers; got {str(seeds)[:60]}"
        )
    if len(set(seeds)) != len(seeds):
        raise RunFolderError(f"{where} has repeats: {str(list(seeds))[:60]}")
    return list(seeds)


def read_record(run_dir: Path) -> dict:
    """``config.json`` of a run folder, checked: a known experiment, one of its presets, overrides
    its ``Config`` accepts, valid seeds and a config table. Raises :class:`RunFolderError`."""
    path = run_dir / "config.json"
    if not path.exists():
        raise RunFolderError(f"{run_dir} is not a run folder (no config.json)")
    record = read_small_json(path, "run's config.json")
    bad = f"{path} is damaged or not a neuralpaths run record"
    if not isinstance(record, dict):
        raise RunFolderError(bad)
    name, preset = record.get("experiment"), record.get("preset")
    overrides, config = record.get("overrides"), record.get("config")
    if not (isinstance(name, str) and isinstance(preset, str) and isinstance(overrides, dict)):
        raise RunFolderError(f"{bad} (experiment, preset or overrides)")
    if not isinstance(config, dict):
        raise RunFolderError(f"{bad} (config)")
    try:
        experiment = experiments.get(name)
        if preset not in presets(experiment):
            raise RunFolderError(f"{bad} (unknown preset {preset[:40]!r})")
        now = json.loads(json.dumps(dataclasses.asdict(make_config(experiment, preset, overrides))))
    except UserError as e:
        raise RunFolderError(f"{bad}: {e}") from None
    # settings added to an experiment since the run started take their defaults: still the same run
    if not set(config) <= set(now) or any(now[k] != v for k, v in config.items() if k != "seed"):
        raise RunFolderError(
            f"{run_dir} already holds a different run (its config does not follow from its preset and "
            "overrides); choose another --out"
        )
    record["seeds"] = check_seeds(record.get("seeds"), f"seeds in {path}")
    return record
