"""Typed readers of configuration values, shared by the settings modules.

Two sources hold settings: the environment (:class:`Env`, each error names the
variable) and the rules file's tables (:func:`text`, :func:`texts`,
:func:`flag`, each error names the key through a ``label`` function, which
returns the environment variable or the place in the file). Every reader
raises :class:`~authorizer.errors.ConfigError` with one message; none is used
on the request path.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ConfigError
from ..keys.fetch import url_problem
from ..keys.jwk import SUPPORTED_ALGORITHMS

#: Names a key for error messages: the environment variable, or the place in the rules file.
Label = Callable[[str], str]


class Env:
    """Typed readers over the environment; every error names its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def optional(self, name: str) -> str | None:
        """The value with surrounding whitespace removed; ``None`` when unset or blank."""
        value = self._environ.get(name, "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise ConfigError(f"{name} is required but not set")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw, 10)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, got {raw}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")


def function_root() -> str:
    """Where relative paths in settings start: the folder holding the ``authorizer`` package."""
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # authorizer/config/..
    return os.path.dirname(package)


def read_capped(path: str, limit: int, where: str) -> bytes:
    """The file's bytes; a ConfigError naming ``where`` if it is unreadable or too big."""
    try:
        with open(path, "rb") as file:
            raw = file.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise ConfigError(f"{where}: the file is larger than {limit} bytes")
    return raw


def split(raw: str) -> list[str]:
    """A comma-separated list, each part stripped, empty parts dropped.

    White space separates too: the values these lists hold (issuers and audiences,
    which are URIs, algorithm and claim names) never contain it, and a list typed
    with the other separator (``RS256 ES256``) must not become one odd value.
    """
    return [part for part in re.split(r"[,\s]+", raw) if part]


def scope_list(name: str, raw: str) -> list[str]:
    """A space-separated list of OAuth scopes; a comma fails, naming ``name``.

    A scope may contain a comma (RFC 6749 section 3.3), so a comma cannot be taken
    as a separator; and ``a,b`` taken as one scope would deny every token quietly.
    """
    scopes = raw.split()
    with_comma = next((scope for scope in scopes if "," in scope), None)
    if with_comma is not None:
        fixed = " ".join(part for part in re.split(r"[,\s]+", raw) if part)
        raise ConfigError(
            f"{name} is space-separated, and {with_comma!r} holds a comma: write {fixed!r}"
        )
    return scopes


def algorithm_names(names: tuple[str, ...], where: str) -> tuple[str, ...]:
    """``names`` when this authorizer verifies each (asymmetric only); else a ConfigError."""
    for name in names:
        if name not in SUPPORTED_ALGORITHMS:
            raise ConfigError(
                f"{where} contains {name!r};"
                f" allowed (asymmetric only): {', '.join(SUPPORTED_ALGORITHMS)}"
            )
    return names


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the closest of ``known`` to ``name``, or ``""``."""
    from difflib import get_close_matches  # noqa: PLC0415 - error paths only

    hint = get_close_matches(name, list(known), n=1)
    return f" (did you mean {hint[0]}?)" if hint else ""


def text(values: Mapping[str, Any], key: str, label: Label) -> str | None:
    """A string value, stripped; ``None`` when absent or blank."""
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{label(key)} must be a string")
    return value.strip() or None


def texts(values: Mapping[str, Any], key: str, label: Label) -> tuple[str, ...] | None:
    """One string or a list of strings, stripped and without repeats; ``None`` when absent."""
    value = values.get(key)
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{label(key)} must be a list of strings")
    cleaned = tuple(dict.fromkeys(item.strip() for item in items if item.strip()))
    if not cleaned:
        raise ConfigError(f"{label(key)} must list at least one value")
    return cleaned


def whole(values: Mapping[str, Any], key: str, label: Label, low: int, high: int) -> int | None:
    """A whole number from ``low`` to ``high``: a TOML/JSON integer, or digits (environment)."""
    value = values.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip(), 10)
    if type(value) is not int:
        raise ConfigError(f"{label(key)} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{label(key)} must be between {low} and {high}, got {value}")
    return value


def flag(values: Mapping[str, Any], key: str, label: Label, default: bool) -> bool:
    """A boolean value (``true``/``false`` in the file; the environment is read before)."""
    value = values.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{label(key)} must be true or false")
    return value


def _named_in(where: str, key: str) -> str:
    return f"{where}: {key}"


def place(where: str) -> Label:
    """The label for the keys of one table of the rules file: ``"<where>: <key>"``."""
    return functools.partial(_named_in, where)


def check_url(name: str, url: str) -> None:
    """Raise :class:`ConfigError` naming ``name`` unless ``url`` passes :func:`url_problem`."""
    problem = url_problem(url)
    if problem is not None:
        raise ConfigError(f"{name} {problem}")
