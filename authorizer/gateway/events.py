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
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import MalformedEvent, MalformedToken, MissingToken
from .arn import ApiArn, parse_arn


class EventKind(enum.Enum):
    REST_TOKEN = "rest_token"
    REST_REQUEST = "rest_request"
    HTTP_V1 = "http_v1"
    HTTP_V2 = "http_v2"
    WEBSOCKET = "websocket"


Scheme = Literal["bearer", "dpop"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthRequest:
    """What every later step needs from an event, read once, before any signature work.

    Its kind, the parsed ARN, the raw token and its scheme; for sender-constrained
    tokens, the DPoP proofs (read where the scheme is DPoP) and the client
    certificate API Gateway passed; the URL the client called, on demand
    (:meth:`target`). No step after this one reads the event.
    """

    kind: EventKind
    arn: ApiArn
    token: str | None
    token_problem: str | None = None  # why ``token`` is None: a reason code, for the log ...
    token_problem_detail: str = ""  # ... and in words
    scheme: Scheme = "bearer"  # of the Authorization credential (RFC 6750, RFC 9449)
    #: HTTP API 2.0: the route key (``ANY /orders/{id}``), what API Gateway may cache by.
    route_key: str | None = None
    #: The ``DPoP`` header's values (RFC 9449), read where the scheme is DPoP.
    proofs: tuple[str, ...] = ()
    #: The PEM client certificate of mutual TLS, where API Gateway passed one.
    certificate: str | None = None
    event: Mapping[str, Any] = field(default_factory=dict)  # for :meth:`target` only

    @property
    def resource_arn(self) -> str:
        """The method or route ARN, as the event gave it."""
        return self.arn.prefix + self.arn.route

    def target(self) -> RequestTarget | None:
        """The method and URL the client called (see :func:`request_target`); DPoP only."""
        return request_target(self.kind, self.event)


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """The request's method and URL as the client sent them (DPoP's ``htm`` and ``htu``)."""

    method: str
    url: str  # without query, as :func:`normalize_url` writes it


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
    parsed = parse_arn(arn)  # raises MalformedEvent: nothing else is read from a broken event
    route_key = event.get("routeKey") if kind is EventKind.HTTP_V2 else None
    route_key = route_key if isinstance(route_key, str) else None
    try:
        scheme, token = _credential(kind, event, header, query_parameter)
    except (MissingToken, MalformedToken) as exc:
        return AuthRequest(
            kind=kind,
            arn=parsed,
            token=None,
            token_problem=exc.reason,
            token_problem_detail=str(exc),
            route_key=route_key,
        )
    return AuthRequest(
        kind=kind,
        arn=parsed,
        token=token,
        scheme=scheme,
        route_key=route_key,
        proofs=tuple(header_values(event, "DPoP")) if scheme == "dpop" else (),
        certificate=client_certificate(kind, event),
        event=event,
    )


def _credential(
    kind: EventKind, event: dict[str, Any], header: str, query: str | None
) -> tuple[Scheme, str]:
    if kind is EventKind.REST_TOKEN:
        return credential(event.get("authorizationToken"))
    values = header_values(event, header)
    if len(values) > 1:
        raise MalformedToken(f"{len(values)} {header} headers")
    if values:
        return credential(values[0])
    if kind is EventKind.WEBSOCKET and query:
        return "bearer", _query_token(event, query)
    raise MissingToken(f"no {header} header")


def api_request_id(event: object) -> str | None:
    """API Gateway's id of the request (``requestContext.requestId``), which the integration's
    event carries too: the key that joins its logs to the decision line. TOKEN events have none.
    """
    if not isinstance(event, dict):
        return None
    context = event.get("requestContext")
    request_id = context.get("requestId") if isinstance(context, dict) else None
    return request_id if isinstance(request_id, str) and request_id else None


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


def credential(value: object) -> tuple[Scheme, str]:
    """The scheme and token of ``Bearer <token>`` (RFC 6750 section 2.1) or ``DPoP <token>``.

    The scheme is case-insensitive; exactly one credential must follow it.
    """
    parts = value.split() if isinstance(value, str) else None
    if not parts:
        raise MissingToken("no token")
    scheme = _SCHEMES.get(parts[0].lower()) if len(parts) == 2 else None
    if scheme is None:
        raise MalformedToken("not one credential: the scheme (Bearer/DPoP), a space, the token")
    return scheme, parts[1]


_SCHEMES: dict[str, Scheme] = {"bearer": "bearer", "dpop": "dpop"}
_DEFAULT_PORTS = {"https": 443, "wss": 443, "http": 80, "ws": 80}
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def request_target(kind: EventKind, event: Mapping[str, Any]) -> RequestTarget | None:
    """The method and URL the client used, rebuilt from the event; None when it lacks them.

    * scheme: ``https`` (``wss`` for WebSocket); ``http``/``ws`` for a loopback host
      only, which API Gateway never is (the local ``serve``);
    * host: ``requestContext.domainName`` (API Gateway's, which the client cannot
      change), else the API's default ``{apiId}.execute-api.{region}.amazonaws.com``
      from the event's ARN; never the client's ``Host`` header;
    * path: REST and HTTP API 1.0 ``requestContext.path`` (the stage, or a
      custom domain's base path, included, as the client sent it), HTTP API 2.0
      ``rawPath``, WebSocket ``/<stage>`` on an ``execute-api`` domain and ``/``
      on a custom domain (API Gateway passes no path for ``$connect``).
    """
    context = event.get("requestContext")
    context = context if isinstance(context, dict) else {}
    method: object
    if kind is EventKind.HTTP_V2:
        http = context.get("http")
        method = http.get("method") if isinstance(http, dict) else None
        path = event.get("rawPath")
    elif kind is EventKind.WEBSOCKET:
        method, path = "GET", None
    else:
        method = event.get("httpMethod")
        path = context.get("path") or event.get("path")
    host = context.get("domainName")
    if not isinstance(host, str) or not host:  # API Gateway sets it; its own host otherwise
        host = default_host(event.get("routeArn" if kind is EventKind.HTTP_V2 else "methodArn"))
    if host is None or not isinstance(method, str):
        return None
    if kind is EventKind.WEBSOCKET:
        stage = context.get("stage")
        path = f"/{stage}" if ".execute-api." in host and isinstance(stage, str) else "/"
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    # API Gateway speaks HTTPS only. A header cannot say otherwise (a client could send one
    # to make a proof it leaked over plain HTTP count); only the local gateways, on loopback,
    # serve plain HTTP.
    secure = host.rsplit(":", 1)[0].strip("[]") not in _LOOPBACK
    if kind is EventKind.WEBSOCKET:
        scheme = "wss" if secure else "ws"
    else:
        scheme = "https" if secure else "http"
    url = normalize_url(f"{scheme}://{host}{path}")
    return RequestTarget(method=method, url=url) if url is not None else None


#: The DNS suffix of ``execute-api`` endpoints per partition (others: unknown, so no origin).
_API_DOMAINS = {"aws": "amazonaws.com", "aws-us-gov": "amazonaws.com", "aws-cn": "amazonaws.com.cn"}


def default_host(arn: object) -> str | None:
    """``{apiId}.execute-api.{region}.{suffix}`` from a method or route ARN; None if unknown."""
    if not isinstance(arn, str):
        return None
    try:
        parsed = parse_arn(arn)
    except MalformedEvent:
        return None
    suffix = _API_DOMAINS.get(parsed.partition)
    return f"{parsed.api_id}.execute-api.{parsed.region}.{suffix}" if suffix else None


def normalize_url(url: str) -> str | None:
    """``url`` without query and fragment, in the one form both sides are compared in.

    Scheme and host lower-cased, the scheme's default port dropped, the path in
    the normal form of RFC 3986 section 6.2.2 (an empty path is ``/``); None when
    ``url`` is not an absolute http(s) or ws(s) URL with a host and no user
    information.
    """
    from urllib.parse import urlsplit  # noqa: PLC0415 - DPoP requests only

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None:
        return None
    if ":" in host:
        host = f"[{host}]"
    authority = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{authority}{normal_path(parts.path) or '/'}"


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
#: What a path may hold unescaped (RFC 3986 pchar and "/"): the rest is percent-encoded.
_PATH_CHARS = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_HEX = frozenset("0123456789ABCDEFabcdef")


def normal_path(path: str) -> str:
    """``path`` in RFC 3986 section 6.2.2 normal form, so that equal paths compare equal.

    Only escapes of unreserved characters are decoded (``%7E`` is ``~``); the
    others stay escapes, upper-cased (``%2f`` is ``%2F``, never ``/``: a different
    path to a server); characters a path may not hold raw are encoded as UTF-8
    escapes (``/a b`` is ``/a%20b``, as a client writes it). Different octets
    stay different (``%FF`` is not ``%FE``).
    """
    out: list[str] = []
    index = 0
    while index < len(path):
        char = path[index]
        escape = path[index + 1 : index + 3]
        if char == "%" and len(escape) == 2 and set(escape) <= _HEX:
            decoded = chr(int(escape, 16))
            out.append(decoded if decoded in _UNRESERVED else f"%{escape.upper()}")
            index += 3
            continue
        if char in _PATH_CHARS:
            out.append(char)
        else:
            raw = char.encode("utf-8", "surrogatepass")
            out.append("".join(f"%{byte:02X}" for byte in raw))
        index += 1
    return "".join(out)


def client_certificate(kind: EventKind, event: Mapping[str, Any]) -> str | None:
    """The PEM client certificate API Gateway passes when it terminated mutual TLS, or None.

    REST and HTTP API 1.0 put it in ``requestContext.identity.clientCert``, HTTP API
    2.0 in ``requestContext.authentication.clientCert``; TOKEN and WebSocket events
    never carry one. It comes from API Gateway, not from the client's headers.
    """
    if kind in (EventKind.REST_TOKEN, EventKind.WEBSOCKET):
        return None
    context = event.get("requestContext")
    holder_name = "authentication" if kind is EventKind.HTTP_V2 else "identity"
    holder = context.get(holder_name) if isinstance(context, dict) else None
    cert = holder.get("clientCert") if isinstance(holder, dict) else None
    pem = cert.get("clientCertPem") if isinstance(cert, dict) else None
    return pem if isinstance(pem, str) and pem else None


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
