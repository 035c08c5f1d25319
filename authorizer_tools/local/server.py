"""`serve`: the template's APIs on localhost, answering as API Gateway documents.

Each API of ``template.yaml`` gets its own loopback port; each function runs in
its own Lambda runtime process (:mod:`authorizer_tools.local.runtime`) from its own
artifact. The gateway step is written here, point by point after API Gateway's
documentation, because SAM CLI's local API differs from it where authorizers are
concerned (it answers 502 for ``Unauthorized``, never caches, and merges two
APIs that share a path):

* a missing identity source is a 401 without invoking the authorizer;
* the authorizer's answer is cached per identity source for the API's
  ``ReauthorizeEvery`` seconds, and a cached policy is evaluated, by IAM's rules,
  against each later request's own route;
* ``Unauthorized`` is a 401, a Deny or no matching Allow a 403, any other error
  or a malformed answer a 500;
* the context reaches the function where API Gateway puts it for that API kind
  (``requestContext.authorizer``, stringified, or ``requestContext.authorizer.lambda``);
* a REST API's gateway responses shape its refusals (status code and header
  mappings: static, request headers, the denying answer's ``context.authorizer``);
* a route whose event says ``Auth: {Authorizer: NONE}`` is not authorized.

WebSocket APIs are not served.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .apis import Api, Route, apis_of, with_examples
from .gateway import status_of
from .runtime import (
    Invocation,
    LambdaRuntime,
    RuntimeFailure,
    build_artifact,
    find_python,
    runtime_python,
)
from .template import environment, parameters

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Answer:
    """What the client gets, and what the request log line says about it."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    authorizer: str = "not invoked"  # "invoked", "cached" or "not invoked"
    reason: str = ""


def _gateway_error(status: int, message: str | None, reason: str, **fields: str) -> Answer:
    body = json.dumps({"message": message}).encode()
    return Answer(status, body, {"Content-Type": "application/json"}, reason=reason, **fields)


class Gateway:
    """The gateway step for one API: route, authorize (with the cache), integrate."""

    def __init__(
        self,
        api: Api,
        runtimes: Mapping[str, LambdaRuntime],
        function_log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self._runtimes = runtimes
        self._function_log = function_log
        self._clock = clock
        self._cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.authorizer_invocations = 0

    def answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        parts = urlsplit(target)
        path, query = parts.path or "/", dict(parse_qsl(parts.query))
        found = next(
            ((route, params) for route in self.api.routes
             if (params := route.matches(method, path)) is not None),
            None,
        )  # fmt: skip
        lowered = {name.lower(): value for name, value in headers.items()}
        if found is None:
            if self.api.kind == "rest":
                missing = _gateway_error(403, "Missing Authentication Token", "no such route")
                return self._styled("MISSING_AUTHENTICATION_TOKEN", missing, lowered, {})
            return _gateway_error(404, "Not Found", "no such route")
        route, params = found
        request = _Request(method, path, query, lowered, body, route, params, self.api)
        context: dict[str, Any] = {}
        principal = None
        decided = Answer(200, b"", reason="no authorizer")
        if self.api.authorizer_function is not None and route.authorized:
            decided, response = self._authorize(request)
            if decided.status != 200:
                kind = _RESPONSE_TYPES.get(decided.status, "DEFAULT_5XX")
                return self._styled(kind, decided, lowered, response.get("context") or {})
            context = dict(response.get("context") or {})
            principal = response.get("principalId")
        integrated = self._integrate(request, context, principal)
        integrated.authorizer, integrated.reason = decided.authorizer, decided.reason
        return integrated

    def _styled(
        self, kind: str, answer: Answer, headers: Mapping[str, str], context: Mapping[str, Any]
    ) -> Answer:
        """``answer`` as the API's gateway response of ``kind`` (or its default) shapes it.

        Its status code, and its header mappings: a static ``'value'``, a request
        header (``method.request.header.name``) or a value of the authorizer's context
        (``context.authorizer.key``, from the answer that denied: fresh or cached).
        A mapping with no value leaves its header out.
        """
        default = "DEFAULT_4XX" if answer.status < 500 else "DEFAULT_5XX"
        response = self.api.gateway_responses.get(kind) or self.api.gateway_responses.get(default)
        if response is None:
            return answer
        if response.status is not None:
            answer.status = response.status
        for header, mapping in response.headers.items():
            value = _mapped(mapping, headers, context)
            if value:
                answer.headers[header] = value
        return answer

    # -- the authorizer ------------------------------------------------------------

    def _authorize(self, request: _Request) -> tuple[Answer, dict[str, Any]]:
        identity = [request.headers.get(name.lower(), "") for name in self.api.identity_headers]
        if not all(identity):
            # API Gateway checks the identity sources first and never invokes the authorizer.
            answer = _gateway_error(401, "Unauthorized", "identity source missing")
            return answer, {}
        key = (*identity, request.route.key if self.api.identity_route_key else "")
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > self._clock():
                return self._evaluate(request, cached[1], "cached", "the cached answer"), cached[1]
        event = self._authorizer_event(request, identity)
        invocation = self._invoke(self.api.authorizer_function or "", event)
        self.authorizer_invocations += 1
        reason = str(invocation.decision().get("reason") or invocation.error_message or "unknown")
        if invocation.error_type is not None:
            if invocation.error_message == "Unauthorized":
                return _gateway_error(401, "Unauthorized", reason, authorizer="invoked"), {}
            return self._server_error(reason, "invoked"), {}
        response = invocation.payload if isinstance(invocation.payload, dict) else {}
        answer = self._evaluate(request, response, "invoked", reason)
        if answer.status in (200, 403) and self.api.cache_seconds > 0:
            with self._lock:
                self._cache[key] = (self._clock() + self.api.cache_seconds, response)
        return answer, response

    def _server_error(self, reason: str, how: str) -> Answer:
        """An authorizer failure: 500, with the body each API kind gives."""
        message = None if self.api.kind == "rest" else "Internal Server Error"
        return _gateway_error(500, message, reason, authorizer=how)

    def _evaluate(
        self, request: _Request, response: dict[str, Any], how: str, reason: str
    ) -> Answer:
        """What the authorizer's (fresh or cached) answer means for this request's route."""
        if self.api.kind == "http" and self.api.simple_responses:
            allowed = response.get("isAuthorized")
            if not isinstance(allowed, bool):
                return self._server_error("malformed response", how)
            if not allowed:
                return _gateway_error(403, "Forbidden", reason, authorizer=how)
            return Answer(200, b"", authorizer=how, reason=reason)
        try:
            status = status_of(response, request.arn)
        except (KeyError, TypeError, AttributeError):
            status = 500
        if status == 500 or (
            self.api.kind == "rest" and not isinstance(response.get("principalId"), str)
        ):
            return self._server_error("malformed response", how)
        if status == 403:
            text = "User is not authorized to access this resource"
            return _gateway_error(403, text, reason, authorizer=how)
        return Answer(200, b"", authorizer=how, reason=reason)

    def _authorizer_event(self, request: _Request, identity: list[str]) -> dict[str, Any]:
        if self.api.kind == "rest" and self.api.payload == "TOKEN":
            return {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": request.arn}
        if self.api.kind == "rest" or self.api.payload == "1.0":
            event = request.proxy_event_v1()
            event.update(type="REQUEST", methodArn=request.arn)
            if self.api.kind == "http":
                event.update(version="1.0", identitySource=",".join(identity))
            return event
        event = request.proxy_event_v2()
        event.update(type="REQUEST", routeArn=request.arn, identitySource=identity)
        return event

    # -- the integration -----------------------------------------------------------------

    def _integrate(
        self, request: _Request, context: dict[str, Any], principal: str | None
    ) -> Answer:
        if self.api.kind == "rest":  # Lambda proxy integration, payload 1.0
            event = request.proxy_event_v1()
            authorizer: dict[str, Any] = {k: _stringified(v) for k, v in context.items()}
            if principal is not None:
                authorizer["principalId"] = principal
            authorizer["integrationLatency"] = 0
            event["requestContext"]["authorizer"] = authorizer
        else:
            event = request.proxy_event_v2()
            event["requestContext"]["authorizer"] = {"lambda": context}
        invocation = self._invoke(request.route.function, event)
        result = invocation.payload
        if invocation.error_type is not None or not isinstance(result, (dict, str)):
            message = (
                "Internal server error" if self.api.kind == "rest" else "Internal Server Error"
            )
            return _gateway_error(502, message, "function error")
        if isinstance(result, str) or "statusCode" not in result:
            # HTTP API payload 2.0 infers a 200 JSON answer from anything else.
            return Answer(200, json.dumps(result).encode(), {"Content-Type": "application/json"})
        body = result.get("body") or ""
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        return Answer(int(result["statusCode"]), str(body).encode(), headers)

    def _invoke(self, function: str, event: dict[str, Any]) -> Invocation:
        invocation = self._runtimes[function].invoke(event)
        if self._function_log is not None:
            for line in invocation.logs:
                self._function_log(f"  {function}: {line}")
        return invocation


#: The gateway response type of an authorizer's refusal, by status.
_RESPONSE_TYPES = {401: "UNAUTHORIZED", 403: "ACCESS_DENIED", 500: "AUTHORIZER_CONFIGURATION_ERROR"}


def _mapped(mapping: str, headers: Mapping[str, str], context: Mapping[str, Any]) -> str:
    """The value of a gateway response's header mapping expression for this request."""
    if len(mapping) >= 2 and mapping.startswith("'") and mapping.endswith("'"):
        return mapping[1:-1]
    if mapping.startswith("method.request.header."):
        return headers.get(mapping.removeprefix("method.request.header.").lower(), "")
    if mapping.startswith("context.authorizer."):
        value = context.get(mapping.removeprefix("context.authorizer."))
        return "" if value is None else _stringified(value)
    return ""


def _stringified(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    route: Route
    params: dict[str, str]
    api: Api

    @property
    def arn(self) -> str:
        prefix = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{self.api.api_id}/{self.api.stage}"
        return f"{prefix}/{self.method}{self.path}"

    def _context(self) -> dict[str, Any]:
        return {
            "accountId": ACCOUNT,
            "apiId": self.api.api_id,
            "stage": self.api.stage,
            "requestId": str(uuid.uuid4()),
            # Served at the root of its own host, like a custom domain with an empty base path.
            "domainName": self.headers.get("host", "127.0.0.1"),
            "requestTimeEpoch": int(time.time() * 1000),
        }

    def proxy_event_v1(self) -> dict[str, Any]:
        return {
            "resource": self.route.path,
            "path": self.path,
            "httpMethod": self.method,
            "headers": dict(self.headers),
            "multiValueHeaders": {name: [value] for name, value in self.headers.items()},
            "queryStringParameters": self.query or None,
            "pathParameters": self.params or None,
            "stageVariables": None,
            "requestContext": {
                **self._context(),
                "resourcePath": self.route.path,
                "httpMethod": self.method,
                "path": self.path,
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": self.body.decode("utf-8", "replace") or None,
            "isBase64Encoded": False,
        }

    def proxy_event_v2(self) -> dict[str, Any]:
        return {
            "version": "2.0",
            "routeKey": self.route.key,
            "rawPath": self.path,
            "rawQueryString": "&".join(f"{k}={v}" for k, v in self.query.items()),
            "headers": dict(self.headers),
            "queryStringParameters": self.query or None,
            "pathParameters": self.params or None,
            "requestContext": {
                **self._context(),
                "routeKey": self.route.key,
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": self.headers.get("user-agent", ""),
                },
            },
            "body": self.body.decode("utf-8", "replace") or None,
            "isBase64Encoded": False,
        }


def serve_http(gateway: Gateway, port: int, log: Callable[[str], None]) -> ThreadingHTTPServer:
    """An HTTP server on ``127.0.0.1:port`` answering through ``gateway`` (not yet serving)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                answer = gateway.answer(self.command, self.path, dict(self.headers.items()), body)
            except Exception as exc:  # noqa: BLE001 - a failing runtime is a 500, and said
                answer = _gateway_error(500, "Internal Server Error", f"local error: {exc}")
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
            log(
                f"{gateway.api.name} {self.command} {urlsplit(self.path).path} -> {answer.status}"
                f"  authorizer: {answer.authorizer}  reason: {answer.reason or '-'}"
            )

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


@dataclass
class Served:
    """The running APIs and runtimes of :func:`serving`."""

    gateways: list[Gateway]
    servers: list[ThreadingHTTPServer]
    runtimes: dict[str, LambdaRuntime]

    def url(self, api_name: str) -> str:
        for gateway, server in zip(self.gateways, self.servers, strict=True):
            if gateway.api.name == api_name:
                return f"http://127.0.0.1:{server.server_address[1]}"
        raise KeyError(api_name)

    def gateway(self, api_name: str) -> Gateway:
        return next(gateway for gateway in self.gateways if gateway.api.name == api_name)


#: What the caller finds wrong with the authorizer's environment for a template's APIs.
Warnings = Callable[[Mapping[str, Any], Mapping[str, str], Mapping[str, str]], Iterable[str]]


@contextlib.contextmanager
def serving(
    template: Mapping[str, Any],
    overrides: Mapping[str, str],
    authorizer_env: Mapping[str, str],
    *,
    port: int,
    python: str | None = None,
    log: Callable[[str], None] = print,
    function_logs: bool = False,
    warnings: Warnings | None = None,
    prebuilt: Mapping[str, tuple[Path, str]] | None = None,
) -> Iterator[Served]:
    """Every API of ``template`` on ``port``, ``port + 1``...; every function in its runtime.

    ``port=0`` gives each API a port the system chooses (:meth:`Served.url` says which):
    what tests use, since a port picked free beforehand can be taken by a runtime meanwhile.
    The template's example APIs are what it serves: ``CreateExampleApis`` is true unless
    ``overrides`` says otherwise. ``warnings`` says what is wrong with the authorizer's
    environment for these APIs (the caller's knowledge of the authorizer: this package
    never imports it); each line is logged before the runtimes start. ``prebuilt`` gives
    functions this checkout does not build (another integration behind the same APIs) as
    their artifact folder and handler.
    """
    overrides = with_examples(template, overrides)
    values = parameters(template, overrides)
    apis = apis_of(template, values)
    ports = [port + offset if port else 0 for offset in range(len(apis))]
    for chosen in ports:
        if chosen:
            _check_free(chosen)
    functions = sorted(
        {api.authorizer_function for api in apis if api.authorizer_function}
        | {route.function for api in apis for route in api.routes}
    )
    interpreter = runtime_python(find_python(python))
    given = dict(prebuilt or {})
    artifacts = {
        function: given[function][0] if function in given else build_artifact(function)
        for function in functions
    }
    runtimes: dict[str, LambdaRuntime] = {}
    servers: list[ThreadingHTTPServer] = []
    try:
        for function in functions:
            env = environment(template, overrides, function)
            if function == "AuthorizerFunction":
                env.update(authorizer_env)
                for line in warnings(template, values, env) if warnings else ():
                    log(f"warning: {line}")
            else:  # the metadata function reads some of the authorizer's settings: the same
                env.update({k: v for k, v in authorizer_env.items() if k in env})
            handler = given[function][1] if function in given else None
            runtimes[function] = LambdaRuntime(
                function, artifacts[function], env, python=interpreter, handler=handler
            ).start()
        gateways = [Gateway(api, runtimes, log if function_logs else None) for api in apis]
        for chosen, gateway in zip(ports, gateways, strict=True):
            server = serve_http(gateway, chosen, log)
            servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        yield Served(gateways, servers, runtimes)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for runtime in runtimes.values():
            runtime.stop()


def _check_free(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise RuntimeFailure(f"port {port} is in use: choose another with --port") from None
