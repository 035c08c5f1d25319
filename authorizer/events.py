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
import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

from .errors import MalformedEvent, MalformedToken, MissingToken


class EventKind(enum.Enum):
    REST_TOKEN = "rest_token"
    REST_REQUEST = "rest_request"
    HTTP_V1 = "http_v1"
    HTTP_V2 = "http_v2"
    WEBSOCKET = "websocket"

    # Members are singletons compared by identity, so identity hashing agrees
    # with equality; Enum's own __hash__ is a Python call on every dict lookup.
    __hash__ = object.__hash__


# The members as module constants, for the per-request paths: on Python 3.11
# each ``EventKind.X`` goes through EnumType.__getattr__ (gone in 3.12).
REST_TOKEN, REST_REQUEST, HTTP_V1, HTTP_V2, WEBSOCKET = EventKind


class AuthRequest(NamedTuple):
    """What the authorizer needs from an event: its kind, the ARN and the raw token.

    A named tuple rather than a frozen dataclass: one is made per request, and a
    tuple is the cheapest immutable record to construct.
    """

    kind: EventKind
    resource_arn: str
    token: str | None
    token_problem: str | None = None  # why ``token`` is None, for the log


#: ``AuthRequest(kind, arn, token, None)`` without the named tuple's Python-level
#: ``__new__`` (a third of the cost of refusing a junk token): same type, same fields.
_new_request = functools.partial(tuple.__new__, AuthRequest)


def classify(event: object) -> EventKind:
    """Tell which of the five shapes ``event`` is; raise :class:`MalformedEvent` if none."""
    if not isinstance(event, dict):
        raise MalformedEvent("event is not a JSON object")
    version = event.get("version")
    if version == "2.0":
        return HTTP_V2
    if version == "1.0":
        return HTTP_V1
    kind = event.get("type")
    if kind == "TOKEN":
        return REST_TOKEN
    if kind == "REQUEST":
        context = event.get("requestContext")
        if isinstance(context, dict) and (
            context.get("eventType") == "CONNECT" or context.get("routeKey") == "$connect"
        ):
            return WEBSOCKET
        return REST_REQUEST
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
    if type(event) is dict and event.get("type") == "TOKEN" and "version" not in event:
        # The common case (what classify() calls REST_TOKEN), read inline without
        # scanning the whole value for whitespace (see bearer_token); anything
        # unusual takes the general path below, which answers for every case.
        arn = event.get("methodArn")
        value = event.get("authorizationToken")
        if type(arn) is str and arn and type(value) is str and value[:7] == "Bearer ":
            token = value[7:]
            if token and not token[0].isspace() and not token[-1].isspace():
                return _new_request((REST_TOKEN, arn, token, None))
    kind = classify(event)
    if not isinstance(event, dict):  # classify() refused these already; this narrows the type
        raise MalformedEvent("event is not a JSON object")
    arn_field = "routeArn" if kind is HTTP_V2 else "methodArn"
    arn = event.get(arn_field)
    if not isinstance(arn, str) or not arn:
        raise MalformedEvent(f"event has no {arn_field}")
    try:
        token = _token(kind, event, header, query_parameter)
    except (MissingToken, MalformedToken) as exc:
        return AuthRequest(kind, arn, None, exc.reason)
    return AuthRequest(kind, arn, token)


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

    :func:`to_request` reads ``Bearer <token>`` (this exact spelling, nothing
    around the token) without this function, and so without checking the
    token for inner whitespace: a compact JWS cannot hold any, and the
    verifier refuses one that does as malformed, which is what this function
    answers for such a value too.
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
