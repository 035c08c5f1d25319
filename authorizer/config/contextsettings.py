"""The context selection (:class:`~authorizer.gateway.context.ContextSettings`) from configuration.

``AUTHORIZER_CONTEXT_CLAIMS`` / ``_EXCLUDE`` / ``_RENAME``, or the rules file's
``[context]`` table (not both). Read once at cold start; a rename onto a key
that API Gateway or this authorizer reserves, or two claims renamed to one
key, raises :class:`~authorizer.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError
from ..gateway.context import RESERVED_KEYS, ContextSettings
from .rulesfile import VARIABLE as RULES_VARIABLE
from .rulesfile import only_keys
from .values import Env, place, split, texts

VARIABLES = ("AUTHORIZER_CONTEXT_CLAIMS", "AUTHORIZER_CONTEXT_EXCLUDE", "AUTHORIZER_CONTEXT_RENAME")


def read_context_settings(env: Env, table: object, where: str) -> ContextSettings:
    """The selection from the environment, or from the rules file's ``table`` when it has one."""
    if table is not None:
        for name in VARIABLES:
            if env.optional(name) is not None:
                raise ConfigError(f"{name} is set, but {RULES_VARIABLE} has a [context] table")
        return _file_context(table, f"{where}: context")
    include_raw = env.optional(VARIABLES[0])
    include = None if include_raw in (None, "*") else tuple(split(include_raw or ""))
    exclude = tuple(split(env.optional(VARIABLES[1]) or ""))
    rename: dict[str, str] = {}
    for pair in split(env.optional(VARIABLES[2]) or ""):
        claim, sep, key = (part.strip() for part in pair.partition("="))
        if not sep or not claim or not key:
            raise ConfigError(
                f"{VARIABLES[2]} must be claim=key pairs separated by commas, got {pair!r}"
            )
        rename[claim] = key
    return _checked(include, exclude, rename, VARIABLES[2])


def _file_context(table: object, here: str) -> ContextSettings:
    if not isinstance(table, dict):
        raise ConfigError(f"{here} must be a table")
    only_keys(table, frozenset({"include", "exclude", "rename"}), here)
    label = place(here)
    include = texts(table, "include", label)
    exclude = texts(table, "exclude", label) or ()
    rename = table.get("rename", {})
    if not isinstance(rename, dict) or not all(
        isinstance(key, str) and isinstance(value, str) and value for key, value in rename.items()
    ):
        raise ConfigError(f"{here}: rename must map claim names to context keys (strings)")
    return _checked(include, exclude, rename, f"{here}: rename")


def _checked(
    include: tuple[str, ...] | None,
    exclude: tuple[str, ...],
    rename: Mapping[str, str],
    where: str,
) -> ContextSettings:
    targets = list(rename.values())
    clash = [key for key in targets if key in RESERVED_KEYS]
    if clash:
        raise ConfigError(f"{where}: {clash[0]!r} is a key API Gateway or this authorizer reserves")
    if len(set(targets)) != len(targets):
        raise ConfigError(f"{where}: two claims renamed to the same key")
    return ContextSettings(
        include=frozenset(include) if include is not None else None,
        exclude=frozenset(exclude),
        rename=dict(rename),
    )
