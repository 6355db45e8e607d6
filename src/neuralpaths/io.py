"""Files that are never half-written: atomic writes (temp file + rename), safe checkpoint loading.

Every result, checkpoint and figure the project writes goes through these functions: a crash
mid-write leaves the previous file intact (or no file), never a truncated one. Checkpoints and cached
stages are *recorded*: the SHA-256 of what was written is kept beside it (``<file>.sha256``) and
checked when the file is read back, so a damaged or changed file is an error, never a silently
different result. (The digest detects damage and accidental edits; it is not a signature.)
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import torch

from .errors import IntegrityError, RunFolderError

DIGEST_SUFFIX = ".sha256"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it over ``path``.

    If ``write`` raises, the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def _jsonable(obj: Any) -> Any:
    """Tensors and numpy values become lists/floats; non-finite floats become None (valid JSON)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.detach().cpu().tolist())
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy arrays and scalars
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_json(obj: Any) -> str:
    return json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, to_json(obj))


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def metrics_logger(out: str | os.PathLike, **tags: Any) -> Callable[[dict], None]:
    """A callback appending ``{**tags, **record}`` to ``out/metrics.jsonl`` (a run's per-epoch log)."""
    path = Path(out) / "metrics.jsonl"
    return lambda record: append_jsonl(path, {**tags, **record})


@contextmanager
def _locked(path: Path) -> Iterator[int]:
    """An ``flock`` on ``path`` (created if missing) while a process appends to or rewrites it, so
    that the worker processes of one run (:func:`~neuralpaths.parallel.map_trials`) never lose each
    other's lines; a file replaced while we waited is opened again. Yields the open descriptor."""
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield fd
    finally:
        os.close(fd)


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line (a single write of a whole line, under the file's lock; readers skip a
    torn last line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(_jsonable(record)) + "\n"
    data = line.encode("utf-8")
    with _locked(path) as fd:
        while data:
            data = data[os.write(fd, data) :]


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """All complete records of a JSON-lines file (an incomplete last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def truncate_jsonl(path: str | os.PathLike, keep: Callable[[dict], bool]) -> int:
    """Rewrite ``path`` (atomically) with only the complete records ``keep`` accepts; the number dropped."""
    path = Path(path)
    if not path.exists():
        return 0
    with _locked(path):  # no other process appends meanwhile (its line would go to the replaced file)
        records = read_jsonl(path)
        kept = [r for r in records if isinstance(r, dict) and keep(r)]
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(kept) != len(lines):
            atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    return len(lines) - len(kept)


def remove_orphan_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files (``.NAME.XXXX.tmp``) a killed :func:`atomic_write` left in ``folder``
    and below. Only for a folder this process holds (e.g. a locked run folder)."""
    gone = []
    for p in Path(folder).rglob(".*.tmp"):
        if p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone


# --- recorded files: SHA-256 beside the payload --------------------------------------------------------
def digest_path(path: str | os.PathLike) -> Path:
    """Where the SHA-256 of ``path`` is recorded (``<file>.sha256``)."""
    path = Path(path)
    return path.with_name(path.name + DIGEST_SUFFIX)


def _recorded(path: Path) -> list[str]:
    """The hex digests listed in a digest file (none if it is missing or not a digest file)."""
    try:
        with open(digest_path(path), "rb") as f:
            text = f.read(1024).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return []
    lines = [line.strip() for line in text.splitlines()]
    return [d for d in lines if len(d) == 64 and all(c in "0123456789abcdef" for c in d)]


def atomic_write_recorded(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` atomically and record its SHA-256 in ``<file>.sha256``.

    Crash-safe: the digest file first lists the new digest beside the current one, then the payload is
    replaced, then the digest file keeps the new digest only; a kill at any point leaves a payload
    that matches a recorded digest.
    """
    path = Path(path)
    new = hashlib.sha256(data).hexdigest()
    pending = [new, *_recorded(path)[:1]] if path.exists() else [new]
    atomic_write_text(digest_path(path), "\n".join(pending) + "\n")
    atomic_write(path, lambda f: f.write(data))
    atomic_write_text(digest_path(path), new + "\n")
    return path


def read_recorded(path: str | os.PathLike, what: str = "file") -> bytes:
    """The bytes of ``path`` after checking them against their recorded SHA-256.

    Raises:
        IntegrityError: no digest is recorded or the file does not match it (the message names the
            file and says to delete it so that stage is redone).
    """
    path = Path(path)
    data = path.read_bytes()
    recorded = _recorded(path)
    redo = f"delete {path} (and {digest_path(path).name}) to redo that stage"
    if not recorded:
        raise IntegrityError(f"{what} {path} has no recorded SHA-256 ({digest_path(path).name}); {redo}")
    if hashlib.sha256(data).hexdigest() not in recorded:
        raise IntegrityError(
            f"{what} {path} does not match the SHA-256 recorded when it was written (damaged or changed); "
            f"{redo}"
        )
    return data


def atomic_write_json_recorded(path: str | os.PathLike, obj: Any) -> Path:
    """:func:`atomic_write_json` with the SHA-256 recorded (see :func:`atomic_write_recorded`)."""
    return atomic_write_recorded(path, to_json(obj).encode("utf-8"))


def read_json_recorded(path: str | os.PathLike, what: str = "cached stage") -> Any:
    """JSON written by :func:`atomic_write_json_recorded`, checked against its digest."""
    data = read_recorded(path, what)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunFolderError(f"{what} {path} is not valid JSON ({e}); delete it to redo that stage") from None


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` through a temporary file and a rename, with the SHA-256 recorded."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_recorded(path, buf.getvalue())


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu", *, verify: bool = True
) -> Any:
    """``torch.load(weights_only=True)``: tensors, containers and plain values only, no code.

    With ``verify`` (the default) the file must match the SHA-256 :func:`atomic_torch_save` recorded
    (:class:`~neuralpaths.errors.IntegrityError` otherwise); ``verify=False`` loads a file from elsewhere.
    """
    data = read_recorded(path, "checkpoint") if verify else Path(path).read_bytes()
    return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)


def write_rows_csv(path: str | os.PathLike, rows: Iterable[dict]) -> Path:
    """Rows of dicts as CSV (columns in first-seen order), written atomically."""
    import csv

    rows = list(rows)
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _jsonable(v) for k, v in r.items()})
    return atomic_write_text(path, buf.getvalue())


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a matplotlib ``Figure`` as PNG atomically. Build figures with ``matplotlib.figure.Figure``
    (no pyplot, no global state, no display needed)."""
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight"))
