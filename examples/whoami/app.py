"""Example protected function: answers with the caller's verified claims.

It shows how a downstream Lambda reads what the authorizer verified, for
REST APIs (``requestContext.authorizer``) and HTTP APIs
(``requestContext.authorizer.lambda``) alike.
"""

from __future__ import annotations

import json
from typing import Any

from authorizer.claims import NoClaims, claims_from_event, issuer_tenant


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    try:
        claims = claims_from_event(event)
    except NoClaims:
        return _reply(401, {"message": "no authorizer context on this request"})
    body: dict[str, Any] = {"sub": claims.get("sub"), "claims": claims}
    tenant = issuer_tenant(event)  # a multi-tenant application's caller: which tenant
    if tenant is not None:
        body["tenant"] = tenant
    return _reply(200, body)


def _reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
