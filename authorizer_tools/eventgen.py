"""Build API Gateway authorizer events of the five shapes, as API Gateway sends them.

Shapes follow the API Gateway developer guide ("Lambda authorizer input" and
"HTTP API Lambda authorizers"). Used by the tests, the demo and ``events/``.
"""

from __future__ import annotations

from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
API_ID = "abcdef1234"
STAGE = "prod"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"

KINDS = ("rest_token", "rest_request", "http_v1", "http_v2", "websocket")


def method_arn(method: str = "GET", path: str = "/orders", partition: str = "aws") -> str:
    return f"arn:{partition}:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}"


def make_event(
    kind: str,
    authorization: str | None,
    *,
    method: str = "GET",
    path: str = "/orders",
    query: dict[str, str] | None = None,
    partition: str = "aws",
    route_key: str | None = None,
) -> dict[str, Any]:
    """An event of ``kind`` whose ``Authorization`` header (or TOKEN) is ``authorization``.

    ``route_key`` is what an HTTP API 2.0 event says of the route that served it
    (``ANY /orders/{id}``, ``$default``); by default ``METHOD path``.
    """
    builders = {
        "rest_token": _rest_token,
        "rest_request": _rest_request,
        "http_v1": _http_v1,
        "http_v2": _http_v2,
        "websocket": _websocket,
    }
    if kind not in builders:
        raise ValueError(f"unknown event kind {kind!r}; choose from {', '.join(KINDS)}")
    event = builders[kind](authorization, method, path, query or {}, partition)
    if kind == "http_v2" and route_key is not None:
        event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    return event


def _headers(authorization: str | None) -> dict[str, str]:
    headers = {
        "Host": DOMAIN,
        "User-Agent": "curl/8.5",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
    }
    if authorization is not None:
        headers["Authorization"] = authorization
    return headers


def _rest_token(
    auth: str | None, method: str, path: str, query: dict[str, str], partition: str
) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "TOKEN", "methodArn": method_arn(method, path, partition)}
    if auth is not None:
        event["authorizationToken"] = auth
    return event


def _rest_request(
    auth: str | None, method: str, path: str, query: dict[str, str], partition: str
) -> dict[str, Any]:
    headers = _headers(auth)
    return {
        "type": "REQUEST",
        "methodArn": method_arn(method, path, partition),
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "path": f"/{STAGE}{path}",
            "accountId": ACCOUNT,
            "resourceId": "abc123",
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "stage": STAGE,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"apiKey": "", "sourceIp": "203.0.113.7"},
            "resourcePath": path,
            "httpMethod": method,
            "apiId": API_ID,
        },
    }


def _http_v1(
    auth: str | None, method: str, path: str, query: dict[str, str], partition: str
) -> dict[str, Any]:
    event = _rest_request(auth, method, path, query, partition)
    event["version"] = "1.0"
    event["identitySource"] = auth or ""
    event["authorizationToken"] = auth or ""
    return event


def _http_v2(
    auth: str | None, method: str, path: str, query: dict[str, str], partition: str
) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in _headers(auth).items()}
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": method_arn(method, path, partition),
        "identitySource": [auth] if auth is not None else [],
        "routeKey": f"{method} {path}",
        "rawPath": f"/{STAGE}{path}",  # a named stage is part of the path
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "cookies": ["theme=dark"],
        "headers": headers,
        "queryStringParameters": query,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": f"/{STAGE}{path}",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5",
            },
            "requestId": "id",
            "routeKey": f"{method} {path}",
            "stage": STAGE,
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "pathParameters": {},
        "stageVariables": {},
    }


def _websocket(
    auth: str | None, method: str, path: str, query: dict[str, str], partition: str
) -> dict[str, Any]:
    headers = _headers(auth)
    headers.update(
        {
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
            "Upgrade": "websocket",
        }
    )
    return {
        "type": "REQUEST",
        "methodArn": f"arn:{partition}:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/$connect",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "ABC=",
            "requestTime": "09/Feb/2024:18:11:43 +0000",
            "messageDirection": "IN",
            "stage": STAGE,
            "connectedAt": 1707502303419,
            "requestTimeEpoch": 1707502303420,
            "identity": {"sourceIp": "203.0.113.7"},
            "requestId": "ABC=",
            "domainName": DOMAIN,
            "connectionId": "ABC=",
            "apiId": API_ID,
        },
    }


def request_url(path: str = "/orders") -> str:
    """The URL the client called for an event of :func:`make_event` (what a DPoP proof names)."""
    return f"https://{DOMAIN}/{STAGE}{path}"


def add_headers(event: dict[str, Any], headers: dict[str, str]) -> None:
    """Add ``headers`` as API Gateway passes them: lower-cased in HTTP API 2.0, multi-value too.

    Raises ``ValueError`` for a TOKEN event, which carries no headers.
    """
    if "headers" not in event:
        raise ValueError("a TOKEN event carries no headers")
    lower = event.get("version") == "2.0"
    for name, value in headers.items():
        key = name.lower() if lower else name
        event["headers"][key] = value
        if "multiValueHeaders" in event:
            event["multiValueHeaders"][key] = [value]


def dpop_event(
    token: str,
    proof: str | None,
    kind: str = "http_v2",
    *,
    method: str = "GET",
    path: str = "/orders",
) -> dict[str, Any]:
    """An event with ``Authorization: DPoP <token>`` and, unless None, ``proof`` in ``DPoP``."""
    event = make_event(kind, f"DPoP {token}", method=method, path=path)
    if proof is not None:
        add_headers(event, {"DPoP": proof})
    return event
