"""Verified claims to an API Gateway-safe authorizer ``context``.

REST and WebSocket APIs accept only string, number and boolean context values
(anything else is a 500 ``AuthorizerConfigurationException``) and hand every
value downstream as a string. So:

* string claims pass through; ``null`` claims are left out and named in
  ``droppedClaims`` (downstream can tell a null claim from an absent one);
* every other claim (number, boolean, array, object) is written as JSON text,
  and its name is listed in ``jsonClaims`` (itself a JSON array, present in
  every context, empty or not) so that :mod:`authorizer.claims` can restore the
  original types and recognise the context as this authorizer's;
* names API Gateway reserves (``principalId``, ``integrationLatency``, and
  ``claims`` on HTTP API 1.0) and our own marker names are never used for claims;
* ``AUTHORIZER_CONTEXT_*`` (or the rules file's ``[context]``) choose which
  claims go in and rename them; the renamed key is what downstream reads;
* the whole context stays under :data:`MAX_CONTEXT_BYTES`: when the claims do
  not fit, the largest ones are dropped and named in ``droppedClaims``.

The same encoding is used for every API kind, so one reader serves them all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..claims import (
    CHALLENGE_KEY,
    DROPPED_CLAIMS_KEY,
    JSON_CLAIMS_KEY,
    RESOURCE_METADATA_KEY,
    TENANT_KEY,
)
from .responses import ContextValue

RESERVED_KEYS = frozenset(
    {"principalId", "integrationLatency", "claims", JSON_CLAIMS_KEY, DROPPED_CLAIMS_KEY,
     CHALLENGE_KEY, RESOURCE_METADATA_KEY, TENANT_KEY}
)  # fmt: skip
#: WebSocket APIs refuse authorizer responses over 8 KiB; leave room for the policy.
MAX_CONTEXT_BYTES = 6 * 1024
#: Claims kept even when others must be dropped to fit.
ESSENTIAL_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "client_id", "scope", "scp")


@dataclass(frozen=True, slots=True)
class ContextSettings:
    """Which claims go into the context, and under which names (read by :mod:`.contextsettings`)."""

    include: frozenset[str] | None = None  # None: every claim
    exclude: frozenset[str] = frozenset()
    rename: Mapping[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """False when every claim passes under its own name (nothing to do)."""
        return self.include is not None or bool(self.exclude) or bool(self.rename)


def build_context(
    claims: Mapping[str, Any],
    max_bytes: int = MAX_CONTEXT_BYTES,
    selection: ContextSettings | None = None,
) -> dict[str, ContextValue]:
    """Encode verified ``claims`` as a flat context of at most ``max_bytes`` of JSON."""
    if selection is not None:
        claims = select_claims(claims, selection)
    encoded: dict[str, ContextValue] = {}
    json_names: list[str] = []
    # A cheap upper bound on the JSON size (see _fit): each member is its name,
    # its text and punctuation; each JSON-valued one is named once more.
    budget = 0
    dropped: list[str] = []
    for name, value in claims.items():
        if type(value) is str:
            encoded[name] = value
            budget += len(name) + len(value) + 2
        elif value is not None:
            # Numbers too: we write their JSON text ourselves rather than rely
            # on how API Gateway would stringify them (1800000300 vs 1.8E9).
            text = encoded[name] = str(value) if type(value) is int else _json(value)
            json_names.append(name)
            budget += 2 * len(name) + len(text) + 5
        else:  # API Gateway takes no null: named as dropped, not passed off as absent
            dropped.append(name)
    if not claims.keys().isdisjoint(RESERVED_KEYS):  # rare: ruled out by one set operation
        dropped += [name for name in claims if name in RESERVED_KEYS]
        for name in dropped:
            encoded.pop(name, None)
        json_names = [name for name in json_names if name not in RESERVED_KEYS]
    return _fit(encoded, json_names, dropped, max_bytes, budget)


def select_claims(claims: Mapping[str, Any], selection: ContextSettings) -> dict[str, Any]:
    """The claims ``selection`` lets through, under their context names.

    A renamed claim takes its new key even when the token also has a claim of
    that name: the deployment chose that key for it.
    """
    rename = selection.rename
    taken = set(rename.values())
    chosen: dict[str, Any] = {}
    for name, value in claims.items():
        if selection.include is not None and name not in selection.include:
            continue
        if name in selection.exclude or (name in taken and name not in rename):
            continue
        chosen[rename.get(name, name)] = value
    return chosen


def _fit(
    encoded: dict[str, ContextValue],
    json_names: list[str],
    dropped: list[str],
    max_bytes: int,
    budget: int,
) -> dict[str, ContextValue]:
    # JSON escaping at most sextuples a character (\\uXXXX) and UTF-8 at most
    # quadruples it: 6 * characters (+ punctuation) bounds the encoded size.
    # jsonClaims is always written, "[]" included: it is how authorizer.claims knows
    # a context is this authorizer's, whichever claims the deployment passes on.
    if not dropped and 6 * budget + 16 <= max_bytes:
        # The common case: clearly within budget, no sizing pass needed.
        encoded[JSON_CLAIMS_KEY] = _json(json_names)
        return encoded

    def assemble() -> dict[str, ContextValue]:
        context = dict(encoded)
        context[JSON_CLAIMS_KEY] = _json([name for name in json_names if name in encoded])
        if dropped:
            context[DROPPED_CLAIMS_KEY] = _json(dropped)
        return context

    context = assemble()
    # Drop the largest non-essential claims until the context fits.
    candidates = sorted(
        (name for name in encoded if name not in ESSENTIAL_CLAIMS),
        key=lambda name: len(_json(encoded[name])) + len(name),
        reverse=True,
    )
    for name in candidates:
        if _size(context) <= max_bytes:
            break
        del encoded[name]
        dropped.append(name)
        context = assemble()
    return context


# Compact, UTF-8 text, and no NaN or Infinity (claims come from strict JSON, which
# holds none; should one ever get here, encoding it fails instead of emitting non-JSON).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _json(value: Any) -> str:
    return _ENCODER.encode(value)


def _size(context: Mapping[str, ContextValue]) -> int:
    return len(_json(context).encode("utf-8"))
