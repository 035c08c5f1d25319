"""The protected resource's metadata (RFC 9728), served on the API's well-known route.

The route ``GET /.well-known/oauth-protected-resource`` (and its path-suffixed
forms) is a Lambda proxy integration with no authorizer on it, answered from the
authorizer's own settings, so the document says what the authorizer enforces:
the issuers it trusts, every scope a rule asks for, DPoP where an issuer takes
it. Two ways in, one :class:`MetadataServer`:

* the authorizer function itself: ``authorizer.app.lambda_handler`` answers an
  integration's event (it has no ``type``, which every authorizer event has)
  from the settings it decides with, refreshed with them. An API attached to the
  function routes its well-known path there;
* ``authorizer.wellknown.lambda_handler``, a second entry point in the same
  artifact, for a function of its own (the template's example APIs, whose
  routes SAM can only give a function deployed with them).

Why a function rather than a mock integration: a mock integration's body is
fixed when the template is deployed, and cannot see a rules file read from SSM
or S3, so its scopes would drift from the rules the authorizer applies.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from .config.resource import WELL_KNOWN
from .config.settings import Settings, load_settings
from .errors import ConfigError

#: Clients may keep the document for an hour (RFC 9728 leaves caching to HTTP).
CACHE_CONTROL = "public, max-age=3600"


def metadata_document(settings: Settings) -> dict[str, Any]:
    """The RFC 9728 section 2 document for ``settings`` (which must name a resource).

    An issuer template (many tenants) is no authorization server a client can ask: it is
    left out of ``authorization_servers``, which RFC 9728 lets a resource leave out.
    """
    if settings.resource is None:
        raise ConfigError("AUTHORIZER_RESOURCE is required to serve the resource's metadata")
    constraints = {issuer.binding.constraint for issuer in settings.issuers}
    servers = [issuer.issuer for issuer in settings.issuers if issuer.template is None]
    document: dict[str, Any] = {"resource": settings.resource.resource}
    if servers:
        document["authorization_servers"] = servers
    document["bearer_methods_supported"] = ["header"]
    scopes = _scopes(settings)
    if scopes:
        document["scopes_supported"] = scopes
    if constraints != {"bearer"}:
        document["dpop_signing_alg_values_supported"] = list(settings.dpop.algorithms)
        document["dpop_bound_access_tokens_required"] = constraints == {"dpop"}
    return document


def metadata_paths(settings: Settings) -> frozenset[str]:
    """The request paths the document answers: the well-known path, with and without the resource's.

    RFC 9728 section 3.1 puts the well-known path before the resource's path;
    behind a REST API's stage, the route seen by the function is the part after
    the stage, so both the bare and the path-suffixed forms are served.
    """
    from urllib.parse import urlsplit  # noqa: PLC0415 - cold start only

    if settings.resource is None:
        return frozenset()
    suffix = urlsplit(settings.resource.resource).path
    paths = {WELL_KNOWN, f"{WELL_KNOWN}{suffix}"}
    return frozenset(path for path in paths if path)


def _scopes(settings: Settings) -> list[str]:
    from .access.rules import ScopesAll, ScopesAny  # noqa: PLC0415 - with the rules only

    rules = [rule for issuer in settings.issuers for rule in issuer.requirements]
    if settings.route_rules is not None:
        rules += [rule for route in settings.route_rules.routes for rule in route.requirements]
    scopes: set[str] = set()
    for rule in rules:
        if isinstance(rule, ScopesAll | ScopesAny):
            scopes.update(rule.scopes)
    return sorted(scopes)


class MetadataServer:
    """Answers the well-known route's proxy events (REST, HTTP API 1.0 and 2.0).

    Without ``AUTHORIZER_RESOURCE`` every request is answered 404: the API is not
    a protected resource, and says nothing about itself.
    """

    def __init__(self, settings: Settings, *, required: bool = False) -> None:
        """``required``: raise ConfigError without a resource (a function serving only this)."""
        serving = required or settings.resource is not None
        document = metadata_document(settings) if serving else None
        self._body = json.dumps(document, separators=(",", ":")) if document else None
        self._paths = metadata_paths(settings)

    def answer(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """200 with the document for ``GET``/``HEAD`` of a metadata path; 404 or 405 otherwise."""
        method, path = _method_and_path(event)
        known = path is not None and any(path.endswith(known) for known in self._paths)
        if self._body is None or not known:
            return _response(404, json.dumps({"message": "Not Found"}))
        if method not in ("GET", "HEAD"):
            response = _response(405, json.dumps({"message": "Method Not Allowed"}))
            response["headers"]["Allow"] = "GET, HEAD"
            return response
        response = _response(200, self._body if method == "GET" else "")
        response["headers"]["Cache-Control"] = CACHE_CONTROL
        return response


def _method_and_path(event: Mapping[str, Any]) -> tuple[str | None, str | None]:
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    if isinstance(http, dict):  # HTTP API payload 2.0
        method, path = http.get("method"), event.get("rawPath")
    else:  # REST and HTTP API payload 1.0
        method, path = event.get("httpMethod"), event.get("path")
    return (
        method.upper() if isinstance(method, str) else None,
        (path.rstrip("/") or "/") if isinstance(path, str) else None,
    )


def _response(status: int, body: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": body,
        "isBase64Encoded": False,
    }


def _server() -> MetadataServer:
    # The document needs no keys; without a resource this function has nothing to serve.
    return MetadataServer(load_settings(os.environ, bundled_keys=False), required=True)


# In a Lambda runtime, built at init: a ConfigError fails the cold start with one message
# naming the variable. Imported anywhere else (tests, tools), built on first use.
_SERVER = _server() if os.environ.get("AWS_LAMBDA_RUNTIME_API") else None


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Entry point named by ``Handler: authorizer.wellknown.lambda_handler``."""
    global _SERVER  # noqa: PLW0603 - one server per execution environment
    if _SERVER is None:
        _SERVER = _server()
    return _SERVER.answer(event)
