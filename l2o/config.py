"""Frozen dataclasses are the configuration schema: defaults written once, in the dataclass.

:func:`build` turns a plain mapping (a Hydra config as a container, a JSON file, a dict in a
notebook) into a nested frozen dataclass, and refuses what the schema does not know::

    config = build(MainJobConfig, {"seed": 1, "optimizer": {"steps": 500}})

Lists become tuples where the field is a tuple, ints become floats where the field is a float,
nested mappings become nested dataclasses; an unknown key, a missing required field or a value
of the wrong type raises :class:`ConfigError` naming the field's dotted path, the value and what
was expected. :func:`defaults` is the inverse for the schema's defaults (what Hydra's
``ConfigStore`` holds, so the YAML files need not repeat them). :func:`lookup` picks an entry of
a registry (a dict from a config's string to its implementation), or names every known one.
Nothing here imports Hydra.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")
V = TypeVar("V")


class ConfigError(ValueError):
    """A configuration value the schema does not accept (names the field and the value)."""


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, path: str) -> Any:
    """``value`` as type ``tp`` (the field's annotation), or :class:`ConfigError`."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(
            f"{path}: expected {' or '.join(_name(o) for o in options)}; got {value!r}"
        )
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{path}: expected a mapping of {tp.__name__}'s fields; got {value!r}"
            )
        return build(tp, value, path)
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: expected a list; got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise ConfigError(f"{path}: expected a list of {len(args)} values; got {value!r}")
        if not args:
            return tuple(value)
        return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping; got {value!r}")
        return dict(value)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{path}: expected one of {list(choices)}; got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false; got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer; got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number; got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string; got {value!r}")
        return value
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{path}: expected null; got {value!r}")
        return None
    return value


def build(cls: type[T], data: Mapping[str, Any] | None = None, path: str = "") -> T:
    """The dataclass ``cls`` from ``data``; fields absent from ``data`` keep their defaults."""
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or cls.__name__}: expected a mapping; got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(
            f"unknown key(s) {', '.join(where + k for k in unknown)} for {cls.__name__}; "
            f"known: {', '.join(sorted(fields))}"
        )
    hints, kwargs = _hints(cls), {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, f"{path}.{name}" if path else name)
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{cls.__name__} needs {', '.join(missing)} (no default)")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{path or cls.__name__}: {e}") from e


def to_dict(value: Any) -> Any:
    """A config (nested dataclasses, tuples) as plain JSON-able values (lists for tuples)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_dict(v) for v in value]
    if isinstance(value, Mapping):
        return {k: to_dict(v) for k, v in value.items()}
    return value


def defaults(cls: type) -> dict[str, Any]:
    """The schema's defaults as a plain nested dict (required fields are left out)."""
    out = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = to_dict(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = to_dict(f.default_factory())
    return out


def lookup(registry: Mapping[str, V], name: str, what: str) -> V:
    """``registry[name]``, or :class:`ConfigError` naming ``what`` was asked and every known name
    (the one error of every name -> implementation registry)."""
    if name not in registry:
        raise ConfigError(f"unknown {what} {name!r}; known: {', '.join(registry)}")
    return registry[name]


def check_names(registry: Mapping[str, Any], names, what: str) -> None:
    """:class:`ConfigError` unless every one of ``names`` is in ``registry`` (lists the known)."""
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ConfigError(f"unknown {what} {unknown}; known: {', '.join(registry)}")
