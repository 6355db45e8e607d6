"""Errors a user can fix. The CLI prints their message on one line and exits with status 2."""

from __future__ import annotations

import pickle


class UserError(Exception):
    """Something the user can fix (bad config, missing data, unwritable folder)."""


class ConfigError(UserError, ValueError):
    """An unknown experiment, preset or config key, or a value of the wrong type."""


class DataNotFoundError(UserError, FileNotFoundError):
    """A data set is not installed; the message says which package or folder to install or point to."""


class DataError(UserError, ValueError):
    """A data file exists but cannot be read (damaged, truncated or of another format)."""


class UnsafeDataError(DataError, pickle.UnpicklingError):
    """A data file asks for code or objects a safe loader refuses (a malicious or foreign pickle)."""


class RunFolderError(UserError):
    """A run folder cannot be used: not a run folder, another run's folder, locked, or damaged files."""


class IntegrityError(RunFolderError):
    """A checkpoint or cache no longer matches the SHA-256 digest recorded when it was written."""


def shorten(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (long values in one-line messages)."""
    text = repr(value)
    if len(text) > limit:
        text = f"{text[: limit - 15]}... ({len(text)} chars)"
    return text


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM): handled like Ctrl-C, the run can be resumed."""
