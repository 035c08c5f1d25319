"""The rules file (``AUTHORIZER_RULES``): route rules, and optionally issuers, as TOML or JSON.

Read once at cold start. Every mistake raises
:class:`~authorizer.errors.ConfigError` naming the file and the entry, so a
typo fails the deployment instead of quietly allowing a route. The format
(TOML shown; JSON has the same structure)::

    default = "deny"                 # routes no rule matches: "deny" or "allow"

    [[route]]
    match = ["GET /orders", "GET /orders/{id}"]
    scopes_all = ["orders:read"]     # every one of these scopes
    scopes_any = []                  # at least one of these scopes
    roles_any = ["admin", "staff"]   # at least one role (roles_all: every one)
    max_auth_age = 300               # seconds since auth_time (step-up)
    issuers = ["https://..."]        # only tokens from these issuers
    claims = [
      { claim = "tenant", equals = "acme" },
      { claim = ["realm_access", "roles"], in = ["ops"] },
    ]

Issuer tables (``[[issuer]]``) are read by :mod:`authorizer.config.issuers`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .sources import Document, is_remote, read_source
from .values import did_you_mean

# The access rules and route patterns are imported where rules are parsed: a
# deployment without a rules file does not pay for them at cold start.
if TYPE_CHECKING:
    from ..access.rules import AccessRule, ClaimPath, RouteRule, RuleSet

VARIABLE = "AUTHORIZER_RULES"
MAX_FILE_BYTES = 256 * 1024
MAX_ROUTES = 200
#: The policy statements may take at most this much of API Gateway's 8 KiB response
#: limit (WebSocket); the rest is left for principalId and the claims context.
MAX_POLICY_BYTES = 6 * 1024
#: One year: a longer step-up window is a typo.
MAX_AUTH_AGE = 366 * 86400

REQUIREMENT_KEYS = frozenset(
    {
        "scopes_all",
        "scopes_any",
        "roles_all",
        "roles_any",
        "claims",
        "max_auth_age",
        "issuers",
        "tenants",
    }
)
ROUTE_KEYS = REQUIREMENT_KEYS | {"match", "name"}
TOP_KEYS = frozenset({"version", "default", "route", "issuer", "context"})


def read_rules_file(path_text: str) -> tuple[str, dict[str, Any], Document]:
    """Read and parse the rules document: its display name, its top-level table, what was read.

    ``path_text`` is a path (relative to the function root, or absolute: a layer) or a
    parameter or object (:mod:`.sources`). A file's name says its format; a parameter's
    or object's does too when it ends in ``.toml`` or ``.json``, and otherwise its text
    does (JSON starts with ``{``).
    """
    where = f"{VARIABLE} ({path_text})"
    raw = read_source(path_text, MAX_FILE_BYTES, where)
    suffix = os.path.splitext(path_text)[1].lower()
    if suffix not in (".toml", ".json"):
        if not is_remote(path_text):
            raise ConfigError(f"{where}: the file name must end in .toml or .json")
        suffix = ".json" if raw.lstrip().startswith(b"{") else ".toml"
    try:
        text = raw.decode("utf-8")
        if suffix == ".toml":
            import tomllib  # noqa: PLC0415 - only deployments with a rules file pay for it

            document: object = tomllib.loads(text)
        else:
            from ..strictjson import loads_strict  # noqa: PLC0415

            document = loads_strict(text)
    except (UnicodeDecodeError, ValueError) as exc:
        # tomllib.TOMLDecodeError and json.JSONDecodeError are ValueErrors with a position.
        raise ConfigError(f"{where}: not valid {suffix[1:].upper()}: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: the file must hold a table (an object) at the top")
    only_keys(document, TOP_KEYS, where)
    version = document.get("version", 1)
    if version != 1 or isinstance(version, bool):
        raise ConfigError(f"{where}: version must be 1, got {version!r}")
    return where, document, Document.of(path_text, raw)


def parse_rule_set(document: Mapping[str, Any], where: str) -> RuleSet | None:
    """The route rules of a rules file, or None when it has none; validated in full."""
    routes = document.get("route")
    default = document.get("default", "deny")
    if default not in ("deny", "allow"):
        raise ConfigError(f'{where}: default must be "deny" or "allow", got {default!r}')
    if routes is None:
        _check_without_routes(document, where)
        return None  # every route is allowed to a valid token, as without a rules file
    from ..access.rules import RuleSet  # noqa: PLC0415 - see the imports

    if isinstance(routes, list) and len(routes) > MAX_ROUTES:
        raise ConfigError(f"{where}: {len(routes)} routes; at most {MAX_ROUTES} are allowed")
    parsed = tuple(_route(entry, here) for here, entry in numbered_tables(routes, where, "route"))
    rule_set = RuleSet(parsed, default_allow=default == "allow")
    size = rule_set.worst_case_policy_bytes()
    if size > MAX_POLICY_BYTES:
        raise ConfigError(
            f"{where}: the policy for these routes could reach {size} bytes, over the"
            f" {MAX_POLICY_BYTES}-byte budget that keeps responses under API Gateway's 8 KiB"
            " limit; merge routes with wildcards (GET /orders/*) or use fewer patterns"
        )
    return rule_set


def _check_without_routes(document: Mapping[str, Any], where: str) -> None:
    """A rules file without ``[[route]]`` must not read as if it denied anything.

    ``default = "deny"`` with no routes (every route commented out, say) would
    deny every request if taken literally, and allow every valid token if taken
    as "no route rules": neither can be what was meant, so it fails the cold
    start. So does a file with nothing in it. A file that only lists issuers or
    the context selection has no route rules, like a deployment without a file.
    """
    if document.get("default") == "deny":
        raise ConfigError(
            f'{where}: default = "deny" but there is no [[route]] rule, so every request'
            " would be denied; add [[route]] rules, or remove default (or write"
            ' default = "allow") to allow every route to valid tokens'
        )
    if not {"issuer", "context", "default"}.intersection(document):
        raise ConfigError(
            f"{where}: the file has no [[route]], [[issuer]] or [context] table;"
            f" unset {VARIABLE} if no rules are wanted"
        )


def numbered_tables(value: object, where: str, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each table of the non-empty list ``value``, with its place (``where: name 3``)."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: {name} must be a non-empty list of tables")
    for index, entry in enumerate(value, 1):
        here = f"{where}: {name} {index}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{here}: must be a table")
        yield here, entry


def _route(entry: dict[str, Any], where: str) -> RouteRule:
    from ..access.routes import parse_route  # noqa: PLC0415
    from ..access.rules import RouteRule  # noqa: PLC0415 - see the imports

    name = entry.get("name")
    if name is not None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: name must be a non-empty string")
        where = f"{where} ({name})"  # every message about this rule names it
    only_keys(entry, ROUTE_KEYS, where)
    match = entry.get("match")
    texts = [match] if isinstance(match, str) else match
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ConfigError(f'{where}: match must be a route such as "GET /orders" or a list')
    patterns = tuple(dict.fromkeys(parse_route(text, where) for text in texts))
    return RouteRule(label=where, patterns=patterns, requirements=parse_requirements(entry, where))


def parse_requirements(table: Mapping[str, Any], where: str) -> tuple[AccessRule, ...]:
    """The access rules named by :data:`REQUIREMENT_KEYS` in ``table`` (others are ignored)."""
    from ..access.rules import (  # noqa: PLC0415 - see the imports
        IssuerIn,
        MaxAuthAge,
        RolesAll,
        RolesAny,
        ScopesAll,
        ScopesAny,
        TenantIn,
    )

    rules: list[AccessRule] = []
    if "issuers" in table:
        rules.append(IssuerIn(frozenset(_strings(table, "issuers", where))))
    if "tenants" in table:
        rules.append(TenantIn(frozenset(_strings(table, "tenants", where))))
    for key, kind in (
        ("scopes_all", ScopesAll),
        ("scopes_any", ScopesAny),
        ("roles_all", RolesAll),
        ("roles_any", RolesAny),
    ):
        if key in table:
            rules.append(kind(frozenset(_strings(table, key, where))))
    if "claims" in table:
        rules.extend(_claim_rules(table["claims"], where))
    if "max_auth_age" in table:
        age = table["max_auth_age"]
        if isinstance(age, bool) or not isinstance(age, int) or not 0 < age <= MAX_AUTH_AGE:
            raise ConfigError(f"{where}: max_auth_age must be seconds from 1 to {MAX_AUTH_AGE}")
        rules.append(MaxAuthAge(age))
    return tuple(rules)


def _strings(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table[key]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise ConfigError(f"{where}: {key} must be a non-empty list of non-empty strings")
    return value


def _claim_rules(value: object, where: str) -> list[AccessRule]:
    from ..access.rules import ClaimEquals, ClaimIn  # noqa: PLC0415 - see the imports

    rules: list[AccessRule] = []
    for here, entry in numbered_tables(value, where, "claims"):
        only_keys(entry, frozenset({"claim", "equals", "in"}), here)
        path = claim_path(entry.get("claim"), f"{here}: claim")
        if ("equals" in entry) == ("in" in entry):
            raise ConfigError(f"{here}: give exactly one of equals or in")
        if "equals" in entry:
            rules.append(ClaimEquals(path, _json_value(entry["equals"], f"{here}: equals")))
            continue
        accepted = entry["in"]
        if not isinstance(accepted, list) or not accepted:
            raise ConfigError(f"{here}: in must be a non-empty list of values")
        rules.append(ClaimIn(path, tuple(_json_value(item, f"{here}: in") for item in accepted)))
    return rules


def claim_path(value: object, where: str) -> ClaimPath:
    """A claim name (taken literally: URLs and ``cognito:groups`` stay whole) or a list of keys."""
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(p, str) and p for p in value):
        return tuple(value)
    raise ConfigError(f"{where} must be a claim name or a list of nested keys")


def _json_value(value: object, where: str) -> Any:
    # TOML has dates and times that JSON claims never hold: refuse them early.
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {value!r} is not a JSON value") from None
    return value


def only_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            suggestion = did_you_mean(str(key), sorted(allowed))
            raise ConfigError(f"{where}: unknown key {key!r}{suggestion}")
