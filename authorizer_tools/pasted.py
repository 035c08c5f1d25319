"""What is wrong with a token as a person pasted it: `doctor` and `invoke` say so in words.

A token copied from a browser's network tab or a log often comes with its
``Bearer`` scheme, in quotes, or not at all; the authorizer then answers
``malformed`` or ``missing_token``, which says what, not why.
"""

from __future__ import annotations

from typing import Any

from authorizer.gateway.events import header_values

#: Why a request without a usable token was refused, where the decision says no more.
REASONS = {
    "missing_token": "the request carries no token (no Authorization header, or it is empty)",
    "malformed": "the token is not a JWT: three base64url parts joined by dots",
}


def pasted_problem(token: str) -> str | None:
    """What is wrong with ``token`` as written, in words; None when nothing obvious is."""
    stripped = token.strip()
    if not stripped:
        return "the token is empty: paste the access token itself"
    scheme, _, rest = stripped.partition(" ")
    if scheme.lower() in ("bearer", "dpop") and rest.strip():
        return f"the token starts with its scheme {scheme!r}: give the token alone, without it"
    if len(stripped) > 1 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        return "the token is in quotes: give it without them"
    if any(char.isspace() for char in stripped):
        return "the token holds white space: it was cut or joined while copying"
    return _shape_problem(stripped)


def _shape_problem(token: str) -> str | None:
    """An opaque token, or a JWT with a part too many or too few."""
    if "." not in token and len(token) >= 16 and set(token) <= _OPAQUE:
        return (
            "the token is not a JWT but an opaque access token: have its issuer introspect it"
            " (JWT_INTROSPECTION_CLIENT_ID, RFC 7662), or have the provider issue JWT access"
            " tokens (Authgear: turn on 'Issue JWT as access token'; Auth0: ask for an API"
            " audience)"
        )
    if token.count(".") != 2:
        return f"the token has {token.count('.') + 1} dot-separated parts, not 3 (a JWT)"
    return None


#: What opaque tokens are written with: base64url, hex, and the separators some use.
_OPAQUE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~+/=")


def event_token(event: Any) -> str | None:
    """The credential an event carries after its scheme (TOKEN or Authorization header)."""
    if not isinstance(event, dict):
        return None
    value = event.get("authorizationToken")
    if not isinstance(value, str):
        values = header_values(event, "Authorization")
        if not values:
            return ""
        value = values[0]
    scheme, _, rest = value.strip().partition(" ")
    return rest if scheme.lower() in ("bearer", "dpop") else value


def explain(reason: str, message: str, token: str | None) -> str:
    """Never empty: the pasted token's problem, else the decision's message, else the reason's."""
    problem = pasted_problem(token) if token is not None and reason in REASONS else None
    return problem or message or REASONS.get(reason, reason.replace("_", " "))
