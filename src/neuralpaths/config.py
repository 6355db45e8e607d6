"""Experiment configs: the ``Config`` defaults, then a TOML preset, then an optional config file
(TOML, or YAML read with a safe loader that refuses aliases), then ``--set key=value`` overrides, each
type-checked against the ``Config`` field's annotation. Unknown keys are rejected with the list of valid
ones. Config files are at most :data:`MAX_CONFIG_BYTES`; values are cut short in error messages.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from .errors import ConfigError, shorten

MAX_CONFIG_BYTES = 64 * 1024  # a config file is a short table of settings


def presets(experiment: Any) -> dict[str, dict[str, Any]]:
    """The presets of an experiment declaration (``neuralpaths.experiments.common.Experiment``):
    ``{"default": {...}, "smoke": {...}, "paper": {...}, ...}`` from its ``presets_path``."""
    path = Path(experiment.presets_path)
    found = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    found.setdefault("default", {})
    return found


def config_types(config_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls)}


def _parse_scalar(raw: str) -> Any:
    """A command-line value as TOML (``3``, ``1e-3``, ``true``, ``[1, 2]``, ``"a"``), else a bare string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):  # also over-long integers, deep nesting
        return raw


def coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against the field's type, converting where unambiguous (int -> float,
    ``"1,2"`` or ``[1, 2]`` -> tuple)."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        args = typing.get_args(annotation)
        item = args[0] if args else Any
        if isinstance(value, str):
            value = [_parse_scalar(v.strip()) for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]  # one value for a list field: a 1-tuple
        return tuple(coerce(key, v, item) for v in value)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(key, value, a)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {shorten(value)}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{key} expects true or false; got {shorten(value)}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key} expects an integer; got {shorten(value)}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if math.isfinite(number):
                return number
            raise ConfigError(f"{key} expects a finite number; got {shorten(value)}")
        raise ConfigError(f"{key} expects a number; got {shorten(value)}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key} expects a string; got {shorten(value)}")
    return value


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["epochs=3", "lr=1e-3"]`` -> ``{"epochs": 3, "lr": 0.001}`` (types checked later)."""
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad override {shorten(item)}: write key=value, e.g. --set epochs=3")
        out[key.strip()] = _parse_scalar(raw.strip())
    return out


def _yaml_load(text: str) -> Any:
    """``yaml.safe_load`` that refuses aliases (``*name``): they can expand a few bytes into gigabytes."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise ConfigError(
                    f"YAML aliases (*name) are not supported in config files (line {mark.line + 1})"
                )
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=NoAliasLoader)


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """A flat table of overrides from TOML or YAML (safe loader, no aliases, at most
    :data:`MAX_CONFIG_BYTES`); every problem is a one-line :class:`ConfigError`."""
    import yaml

    path = Path(path)
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise ConfigError(f"config file {path} must end in .toml, .yaml or .yml")
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"config file {path} is not a file")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {e.start})") from None
    try:
        data = (_yaml_load(text) if path.suffix != ".toml" else tomllib.loads(text)) or {}
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        first = " ".join(str(e).split())
        raise ConfigError(f"cannot parse config file {path}: {first[:200]}") from None
    except RecursionError:
        raise ConfigError(f"config file {path} is nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table of key = value pairs")
    return data


def make_config(experiment: Any, preset: str = "default", overrides: Mapping[str, Any] | None = None):
    """The experiment's ``Config`` for ``preset`` with ``overrides`` applied, every value type-checked
    (``experiment``: its declaration, ``neuralpaths.experiments.common.Experiment``)."""
    table = presets(experiment)
    if preset not in table:
        raise ConfigError(
            f"unknown preset {shorten(preset)} for {experiment.name}; available: {', '.join(table)}"
        )
    types = config_types(experiment.config)
    values: dict[str, Any] = {}
    for source, items in ((f"preset {preset!r}", table[preset]), ("override", dict(overrides or {}))):
        for key, value in items.items():
            if key not in types:
                raise ConfigError(
                    f"unknown config key {shorten(key)} ({source}) for {experiment.name}; "
                    f"valid keys: {', '.join(types)}"
                )
            values[key] = coerce(key, value, types[key])
    return experiment.config(**values)


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets: ``"1e-3,1e-4"`` -> 2 items, ``"[1,2],[3]"`` -> 2 items."""
    items, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    return [i.strip() for i in [*items, cur] if i.strip()]


def parse_grid(items: Iterable[str]) -> dict[str, list[Any]]:
    """``["lr=1e-3,1e-4", "widths=[64],[128]"]`` -> ``{"lr": [0.001, 0.0001], "widths": [[64], [128]]}``."""
    grid = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise ConfigError(f"bad grid {shorten(item)}: write key=v1,v2,... e.g. --grid lr=1e-3,1e-4")
        grid[key.strip()] = [_parse_scalar(v) for v in _split_top(raw)]
    return grid
