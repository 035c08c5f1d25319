"""Five API Gateway authorizer event shapes in, one :class:`AuthRequest` out.

Shapes (see the API Gateway developer guide, "Lambda authorizer input"):

=================  ==========================================================
REST TOKEN         ``type: TOKEN``, ``authorizationToken``, ``methodArn``
REST REQUEST       ``type: REQUEST``, ``headers``/``multiValueHeaders``, ``methodArn``
HTTP API 1.0       ``version: "1.0"``, like REST REQUEST, ``identitySource`` a string
HTTP API 2.0       ``version: "2.0"``, ``routeArn``, lower-case ``headers``
WebSocket          ``type: REQUEST`` with ``requestContext.eventType: CONNECT``
=================  ==========================================================

The event is untrusted input: any field may be missing, null or of the wrong
type, and every such case ends in a :class:`~authorizer.errors.TokenError`
(401), never in a stray exception. Powertools' event data classes assume a
well-formed event (they raise ``KeyError``/``AttributeError`` on a missing
``headers`` or a non-string header name), so the few fields we need are read
here directly.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import MalformedEvent, MalformedToken, MissingToken


class EventKind(enum.Enum):
    REST_TOKEN = "rest_token"
    REST_REQUEST = "rest_request"
    HTTP_V1 = "http_v1"
    HTTP_V2 = "http_v2"
    WEBSOCKET = "websocket"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthRequest:
    """What the authorizer needs from an event: its kind, the ARN and the raw token."""

    kind: EventKind
    resource_arn: str
    token: str | None
    token_problem: str | None = None  # why ``token`` is None, for the log


def classify(event: object) -> EventKind:
    """Tell which of the five shapes ``event`` is; raise :class:`MalformedEvent` if none."""
    if not isinstance(event, dict):
        raise MalformedEvent("event is not a JSON object")
    version = event.get("version")
    if version == "2.0":
        return EventKind.HTTP_V2
    if version == "1.0":
        return EventKind.HTTP_V1
    kind = event.get("type")
    if kind == "TOKEN":
        return EventKind.REST_TOKEN
    if kind == "REQUEST":
        context = event.get("requestContext")
        if isinstance(context, dict) and (
            context.get("eventType") == "CONNECT" or context.get("routeKey") == "$connect"
        ):
            return EventKind.WEBSOCKET
        return EventKind.REST_REQUEST
    raise MalformedEvent("event is not an API Gateway authorizer event")


def to_request(event: object, *, header: str, query_parameter: str | None) -> AuthRequest:
    """Normalise ``event`` into an :class:`AuthRequest`.

    The token is read from ``header`` (case-insensitively) as an RFC 6750
    Bearer credential; for WebSocket ``$connect`` only, from the
    ``query_parameter`` when the header is absent, since browsers cannot set
    headers on a WebSocket. A missing or unusable token does not raise here:
    the request is still returned (``token`` is ``None``) so the caller can
    log which event kind it came from.
    """
    kind = classify(event)
    if not isinstance(event, dict):  # classify() refused these already; this narrows the type
        raise MalformedEvent("event is not a JSON object")
    arn_field = "routeArn" if kind is EventKind.HTTP_V2 else "methodArn"
    arn = event.get(arn_field)
    if not isinstance(arn, str) or not arn:
        raise MalformedEvent(f"event has no {arn_field}")
    try:
        token = _token(kind, event, header, query_parameter)
    except (MissingToken, MalformedToken) as exc:
        return AuthRequest(kind=kind, resource_arn=arn, token=None, token_problem=exc.reason)
    return AuthRequest(kind=kind, resource_arn=arn, token=token)


def _token(kind: EventKind, event: dict[str, Any], header: str, query: str | None) -> str:
    if kind is EventKind.REST_TOKEN:
        return bearer_token(event.get("authorizationToken"))
    values = header_values(event, header)
    if len(values) > 1:
        raise MalformedToken(f"{len(values)} {header} headers")
    if values:
        return bearer_token(values[0])
    if kind is EventKind.WEBSOCKET and query:
        return _query_token(event, query)
    raise MissingToken(f"no {header} header")


def header_values(event: Mapping[str, Any], name: str) -> list[str]:
    """Distinct values of header ``name`` (any case), from ``headers`` and ``multiValueHeaders``."""
    wanted = name.lower()
    found: list[str] = []
    single = event.get("headers")
    if isinstance(single, dict):
        found.extend(
            value
            for key, value in single.items()
            if isinstance(key, str) and key.lower() == wanted and isinstance(value, str)
        )
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        for key, values in multi.items():
            if isinstance(key, str) and key.lower() == wanted and isinstance(values, list):
                found.extend(value for value in values if isinstance(value, str))
    return list(dict.fromkeys(found))


def bearer_token(value: object) -> str:
    """The credential of an ``Authorization: Bearer <token>`` value (RFC 6750 section 2.1).

    The scheme is case-insensitive; exactly one credential must follow it.
    """
    parts = value.split() if isinstance(value, str) else None
    if not parts:
        raise MissingToken("no token")
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise MalformedToken("not a single Bearer credential")
    return parts[1]


def _query_token(event: dict[str, Any], name: str) -> str:
    values: list[str] = []
    multi = event.get("multiValueQueryStringParameters")
    if isinstance(multi, dict) and isinstance(multi.get(name), list):
        values.extend(value for value in multi[name] if isinstance(value, str))
    single = event.get("queryStringParameters")
    if isinstance(single, dict) and isinstance(single.get(name), str):
        values.append(single[name])
    distinct = list(dict.fromkeys(value.strip() for value in values))
    if not distinct or not distinct[0]:
        raise MissingToken(f"no {name} query parameter")
    if len(distinct) > 1 or any(char.isspace() for char in distinct[0]):
        raise MalformedToken(f"ambiguous {name} query parameter")
    return distinct[0]
