"""Read the verified claims back in a downstream Lambda (standard library only).

The authorizer's context reaches an integration Lambda at:

* REST APIs, HTTP API payload 1.0 and WebSocket: ``event.requestContext.authorizer``
  (every value stringified by API Gateway);
* HTTP API payload 2.0: ``event.requestContext.authorizer.lambda``.

:func:`claims_from_event` finds it in either place and restores the claims'
original JSON types using the ``jsonClaims`` list written by
:mod:`authorizer.gateway.context`. Copy this file into any function, or depend on this
package; it imports nothing outside the standard library.

    from authorizer.claims import claims_from_event

    def handler(event, context):
        claims = claims_from_event(event)
        return {"statusCode": 200, "body": f"hello {claims['sub']}"}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

JSON_CLAIMS_KEY = "jsonClaims"
DROPPED_CLAIMS_KEY = "droppedClaims"
#: A protected resource's (AUTHORIZER_RESOURCE): the 403 challenge a cached policy carries,
#: and, for the integration's own challenges, where the resource's metadata is.
CHALLENGE_KEY = "wwwAuthenticate"
RESOURCE_METADATA_KEY = "resourceMetadata"
#: The tenant in ``iss``, for a token of an issuer template (a multi-tenant application).
TENANT_KEY = "issuerTenant"
_NOT_CLAIMS = frozenset(
    {"principalId", "integrationLatency", JSON_CLAIMS_KEY, DROPPED_CLAIMS_KEY, CHALLENGE_KEY,
     RESOURCE_METADATA_KEY, TENANT_KEY}
)  # fmt: skip


class NoClaims(LookupError):
    """The event carries no context from this authorizer."""


def authorizer_context(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The raw authorizer context of a proxy event, wherever the API kind put it."""
    request_context = event.get("requestContext") if isinstance(event, Mapping) else None
    authorizer = request_context.get("authorizer") if isinstance(request_context, Mapping) else None
    if not isinstance(authorizer, Mapping):
        raise NoClaims("event has no requestContext.authorizer")
    nested = authorizer.get("lambda")
    context = nested if isinstance(nested, Mapping) else authorizer
    if JSON_CLAIMS_KEY not in context and "sub" not in context:
        raise NoClaims("requestContext.authorizer holds no claims from this authorizer")
    return context


def claims_from_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The verified claims, with their original types (numbers, booleans, arrays, objects)."""
    context = authorizer_context(event)
    json_names = set(_load_list(context.get(JSON_CLAIMS_KEY)))
    claims: dict[str, Any] = {}
    for name, value in context.items():
        if name in _NOT_CLAIMS:
            continue
        decode = name in json_names and isinstance(value, str)
        claims[name] = json.loads(value) if decode else value
    return claims


def challenge(
    event: Mapping[str, Any],
    *,
    scopes: Iterable[str] = (),
    error: str = "insufficient_scope",
) -> dict[str, str]:
    """The ``WWW-Authenticate`` header of a 403 the integration answers itself (RFC 6750).

    For what the authorizer cannot decide: a route that serves several operations
    (an MCP server's ``POST /mcp`` calls every tool), each needing its own
    ``scopes``. The challenge names the resource's metadata where the authorizer
    passed it (``AUTHORIZER_RESOURCE`` set), as the authorizer's own challenges do.
    On an HTTP API, which has no gateway responses, this is the only challenge there is.

        return {"statusCode": 403, "headers": challenge(event, scopes=["tools:admin"]),
                "body": '{"error": "insufficient_scope"}'}
    """
    params = [("error", error)]
    wanted = " ".join(dict.fromkeys(scopes))
    if wanted:
        params.append(("scope", wanted))
    try:
        metadata = authorizer_context(event).get(RESOURCE_METADATA_KEY)
    except NoClaims:
        metadata = None
    if isinstance(metadata, str) and metadata:
        params.append(("resource_metadata", metadata))
    quoted = ", ".join(f"{name}={quoted_string(value)}" for name, value in params)
    return {"WWW-Authenticate": f"Bearer {quoted}"}


def quoted_string(value: str) -> str:
    """``value`` as an RFC 9110 quoted-string: backslash and quote escaped, controls refused."""
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("a challenge parameter cannot hold control characters")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def issuer_tenant(event: Mapping[str, Any]) -> str | None:
    """The caller's tenant, where the authorizer trusts an issuer template; else None.

    The tenant is the one in the token's ``iss``, which the provider's tenant claim
    (Entra: ``tid``) was checked to name too.
    """
    tenant = authorizer_context(event).get(TENANT_KEY)
    return tenant if isinstance(tenant, str) and tenant else None


def dropped_claims(event: Mapping[str, Any]) -> list[str]:
    """Names of claims the authorizer left out to fit API Gateway's size limits."""
    return _load_list(authorizer_context(event).get(DROPPED_CLAIMS_KEY))


def _load_list(value: Any) -> list[str]:
    if value is None:
        return []
    loaded = json.loads(value) if isinstance(value, str) else value
    if not isinstance(loaded, list):
        raise ValueError("malformed claims marker in the authorizer context")
    return [str(item) for item in loaded]
