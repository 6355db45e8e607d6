"""Errors a user can fix. The CLI prints their message on one line and exits with status 2."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix (bad config, missing data, unwritable folder)."""


class ConfigError(UserError, ValueError):
    """An unknown experiment, preset or config key, or a value of the wrong type."""


class DataNotFoundError(UserError, FileNotFoundError):
    """A data set is not installed; the message says which package or folder to install or point to."""
