"""A protected resource through `serve`: from a bare 401 to the metadata, and each API's challenges.

The template's example APIs with ``Resource`` set, every function in the Lambda
runtime: the REST API answers with its gateway responses' ``WWW-Authenticate``,
both APIs serve the metadata on their well-known routes with no token, and the
HTTP API (which has no gateway responses) refuses with API Gateway's bare bodies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.local.server import Served, serving
from authorizer_tools.local.template import read
from tests import ROOT
from tests.ports import child_port

pytestmark = pytest.mark.runtime_emulator

TEMPLATE = read(ROOT / "template.yaml")
HTTP = urllib3.PoolManager(retries=False, timeout=30)
WELL_KNOWN = "/.well-known/oauth-protected-resource"


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer() as running:
        yield running


@pytest.fixture(scope="module")
def served(issuer: DevIssuer) -> Iterator[tuple[Served, str]]:
    port = child_port(2)  # the REST API, then the HTTP API
    resource = f"http://127.0.0.1:{port}"  # the REST API: the first API gets the first port
    with serving(
        TEMPLATE,
        {
            "Issuer": issuer.issuer,
            "Resource": resource,
            "RulesFile": "rules/example.toml",
            "RolesClaims": "roles",
        },
        {},
        port=port,
        log=lambda line: None,
    ) as running:
        assert running.url("RestApi") == resource
        yield running, resource


def get(url: str, token: str | None = None) -> urllib3.BaseHTTPResponse:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return HTTP.request("GET", url, headers=headers)


def test_a_client_goes_from_a_bare_401_to_the_metadata_and_back_with_a_token(
    served: tuple[Served, str], issuer: DevIssuer
) -> None:
    _, resource = served
    refused = get(f"{resource}/orders/7")
    assert refused.status == 401
    challenge = refused.headers["WWW-Authenticate"]
    assert challenge == f'Bearer resource_metadata="{resource}{WELL_KNOWN}"'
    metadata_url = challenge.split('resource_metadata="')[1].rstrip('"')
    metadata = get(metadata_url)  # no token: the route has no authorizer
    assert metadata.status == 200
    assert metadata.headers["Cache-Control"] == "public, max-age=3600"
    document = json.loads(metadata.data)
    assert document["resource"] == resource
    assert document["authorization_servers"] == [issuer.issuer]
    assert "orders:read" in document["scopes_supported"]
    token = issuer.mint({"aud": document["resource"], "scope": "orders:read"})
    assert get(f"{resource}/orders/7", token).status == 200


def test_a_token_for_another_resource_is_a_401_with_the_challenge(
    served: tuple[Served, str], issuer: DevIssuer
) -> None:
    _, resource = served
    token = issuer.mint({"aud": "https://another.example/mcp", "scope": "orders:read"})
    refused = get(f"{resource}/orders/7", token)
    assert refused.status == 401
    assert "resource_metadata=" in refused.headers["WWW-Authenticate"]


def test_a_token_without_the_routes_scope_is_a_403_naming_it(
    served: tuple[Served, str], issuer: DevIssuer
) -> None:
    _, resource = served
    token = issuer.mint({"aud": resource, "scope": "orders:read"})
    # The whoami route is allowed; the cached policy then denies POST /orders, and the
    # challenge API Gateway maps from that policy's context names what it needs.
    assert get(f"{resource}/whoami", token).status == 200
    refused = HTTP.request(
        "POST", f"{resource}/orders", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status == 403
    assert refused.headers["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", scope="orders:write", '
        f'resource_metadata="{resource}{WELL_KNOWN}"'
    )


def test_the_http_api_serves_the_metadata_but_has_no_gateway_responses(
    served: tuple[Served, str],
) -> None:
    running, resource = served
    http = running.url("HttpApi")
    document = json.loads(get(f"{http}{WELL_KNOWN}").data)
    assert document["resource"] == resource
    suffixed = get(f"{http}{WELL_KNOWN}/anything")
    assert suffixed.status == 404  # only the resource's own path suffix is metadata
    refused = get(f"{http}/orders/7")
    assert refused.status == 401 and "WWW-Authenticate" not in refused.headers
    body: Any = json.loads(refused.data)
    assert body == {"message": "Unauthorized"}
