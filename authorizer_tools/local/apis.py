"""The REST and HTTP APIs a template deploys, as far as API Gateway's authorizer step sees them.

Each API's authorizer (payload, identity sources, simple responses, cache) and
its routes, read from ``template.yaml`` with the parameters it is deployed
with. `serve` runs them (:mod:`authorizer_tools.local.server`), `doctor` and `serve`
check their cache keys against the route rules
(:mod:`authorizer_tools.sharedanswers`), and `event` takes its route keys from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .template import TemplateError, deployed, evaluate


@dataclass(frozen=True)
class Route:
    method: str  # GET ..., or ANY
    path: str  # /orders/{id}
    function: str
    authorized: bool = True  # False: the event says Auth: {Authorizer: NONE}

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route serves ``method path``, else ``None``."""
        if self.method not in ("ANY", method):
            return None
        pattern = re.sub(
            r"\\\{([A-Za-z0-9_]+)\\\+\\\}|\\\{([A-Za-z0-9_]+)\\\}",
            lambda m: f"(?P<{m[1]}>.+)" if m[1] else f"(?P<{m[2]}>[^/]+)",
            re.escape(self.path),
        )
        match = re.fullmatch(pattern, path)
        return match.groupdict() if match else None


@dataclass(frozen=True)
class Api:
    """One API of the template, as far as the gateway step needs it."""

    name: str
    kind: str  # "rest" or "http"
    api_id: str
    stage: str
    authorizer_function: str | None
    payload: str  # REST: TOKEN or REQUEST; HTTP: the payload format version
    identity_headers: tuple[str, ...]
    identity_route_key: bool  # HTTP APIs: $context.routeKey in the identity sources
    simple_responses: bool
    cache_seconds: int
    routes: tuple[Route, ...]
    #: REST APIs: per response type (UNAUTHORIZED, ACCESS_DENIED, DEFAULT_4XX...), the status
    #: code it sets (or None) and its header mappings ('static', context.authorizer.key...).
    gateway_responses: Mapping[str, GatewayResponse] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None
    headers: Mapping[str, str]


def with_examples(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """``overrides`` with ``CreateExampleApis=true`` unless they say otherwise (where the
    template has that parameter): the example APIs are what the local tools serve and read."""
    if "CreateExampleApis" in template.get("Parameters", {}):
        return {"CreateExampleApis": "true", **overrides}
    return dict(overrides)


def apis_of(template: Mapping[str, Any], values: Mapping[str, str]) -> list[Api]:
    """The REST and HTTP APIs of ``template`` with their authorizers and routes."""
    resources = template.get("Resources", {})
    routes: dict[str, list[Route]] = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        if not deployed(template, values, name):  # its routes exist only with it
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            props = event.get("Properties", {})
            api = props.get("RestApiId") or props.get("ApiId") or {}
            target = api.get("Ref") if isinstance(api, dict) else None
            if event.get("Type") in ("Api", "HttpApi") and target:
                method = str(props.get("Method", "ANY")).upper()
                authorized = (props.get("Auth") or {}).get("Authorizer") != "NONE"
                route = Route(method, props["Path"], name, authorized)
                routes.setdefault(target, []).append(route)
    found: list[Api] = []
    for name, resource in resources.items():
        kind = {"AWS::Serverless::Api": "rest", "AWS::Serverless::HttpApi": "http"}.get(
            resource.get("Type")
        )
        if kind is None or not deployed(template, values, name):
            continue
        props = resource.get("Properties", {})
        auth = props.get("Auth", {})
        config = auth.get("Authorizers", {}).get(auth.get("DefaultAuthorizer"), {})
        identity = config.get("Identity", {})
        arn = config.get("FunctionArn", {})
        function = arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else None
        headers = identity.get("Headers") or ([identity["Header"]] if "Header" in identity else [])
        if kind == "rest" and not headers:
            headers = ["Authorization"]
        cache = evaluate(template, values, identity.get("ReauthorizeEvery", 300), name)
        found.append(
            Api(
                name=name,
                kind=kind,
                api_id=f"local{kind}{len(found)}",
                stage=str(evaluate(template, values, props.get("StageName", "$default"), name)),
                authorizer_function=function,
                payload=str(
                    config.get("FunctionPayloadType", "TOKEN")
                    if kind == "rest"
                    else config.get("AuthorizerPayloadFormatVersion", "2.0")
                ),
                identity_headers=tuple(headers),
                identity_route_key="routeKey" in identity.get("Context", []),
                simple_responses=bool(config.get("EnableSimpleResponses", False)),
                cache_seconds=int(cache),
                routes=tuple(routes.get(name, [])),
                gateway_responses=_gateway_responses(template, values, name, props),
            )
        )
    if not found:
        raise TemplateError("the template has no REST or HTTP API to serve")
    return found


def _gateway_responses(
    template: Mapping[str, Any], values: Mapping[str, str], name: str, props: Mapping[str, Any]
) -> dict[str, GatewayResponse]:
    """A REST API's ``GatewayResponses``, their intrinsic functions resolved."""
    found = {}
    for kind, spec in (props.get("GatewayResponses") or {}).items():
        where = f"{name} GatewayResponses {kind}"
        status = spec.get("StatusCode")
        headers = (spec.get("ResponseParameters") or {}).get("Headers") or {}
        found[kind] = GatewayResponse(
            status=int(evaluate(template, values, status, where)) if status is not None else None,
            headers={
                header: str(evaluate(template, values, value, f"{where} {header}"))
                for header, value in headers.items()
            },
        )
    return found
