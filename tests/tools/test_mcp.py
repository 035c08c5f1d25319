"""An MCP server protected by the authorizer, called by the official MCP SDK's own OAuth client.

Nothing here is written by this project but the glue: panva/oidc-provider is the
authorization server, the MCP SDK's ``ClientCredentialsOAuthProvider`` the client
(in its own interpreter, given only the server's URL and its credentials), and an
MCP server built with the same SDK the integration behind `serve`'s APIs, in the
Lambda runtime. The client must find its way from a bare 401 to a tool call by the
specification's discovery alone; the tokens it must not be served with get the
status and the challenge each API kind can give.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import urllib3

from authorizer_tools.local.server import serving
from authorizer_tools.local.template import read
from tests import ROOT
from tests.mcp.artifact import FUNCTION, HANDLER, mcp_server_artifact
from tests.oidc import Provider
from tests.ports import child_port

pytestmark = pytest.mark.runtime_emulator

CLIENT = ROOT / "tests" / "mcp" / "client.py"
MCP_PYTHON = ROOT / ".venv-mcp" / "bin" / "python"
HTTP = urllib3.PoolManager(retries=False, timeout=30)
RULES = """default = "deny"
[[route]]
match = ["POST /mcp", "GET /mcp", "DELETE /mcp"]
scopes_all = ["mcp:tools"]
"""


def template_with_mcp_server() -> dict[str, Any]:
    """template.yaml with an MCP server function on both example APIs' ``/mcp``."""
    template = copy.deepcopy(read(ROOT / "template.yaml"))
    events = {
        f"{api}{method.title()}": {
            "Type": "Api" if api == "Rest" else "HttpApi",
            "Properties": {
                "RestApiId" if api == "Rest" else "ApiId": {"Ref": f"{api}Api"},
                "Path": "/mcp",
                "Method": method,
            },
        }
        for api in ("Rest", "Http")
        for method in ("POST", "GET", "DELETE")
    }
    template["Resources"][FUNCTION] = {
        "Type": "AWS::Serverless::Function",
        "Condition": "CreateExamples",
        "Properties": {"Handler": HANDLER, "Events": events},
    }
    return template


@dataclass(frozen=True)
class Served:
    kind: str  # RestApi or HttpApi
    url: str  # the API's URL: the protected resource


@pytest.fixture(scope="module", params=["RestApi", "HttpApi"])
def served(
    request: pytest.FixtureRequest, provider: Provider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The MCP server behind one API kind; that API is the protected resource."""
    rules = tmp_path_factory.mktemp("mcp") / "rules.toml"
    rules.write_text(RULES)
    port = child_port(2)  # the REST API, then the HTTP API
    resource = f"http://127.0.0.1:{port if request.param == 'RestApi' else port + 1}"
    with serving(
        template_with_mcp_server(),
        {"Issuer": provider.issuer, "Resource": resource, "RulesFile": str(rules)},
        {"JWT_LEEWAY_SECONDS": "0"},  # the expired token is one second past exp
        port=port,
        log=lambda line: None,
        prebuilt={FUNCTION: (mcp_server_artifact(), HANDLER)},
    ) as running:
        assert running.url(request.param) == resource
        yield Served(request.param, resource)


def sdk_client(url: str, issuer: str, client: str, tool: str, arguments: dict[str, Any]) -> Any:
    secret = f"{client}-secret-for-loopback-tests"
    done = subprocess.run(
        [str(MCP_PYTHON), str(CLIENT), url, issuer, client, secret, tool, json.dumps(arguments)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def call_mcp(url: str, token: str) -> urllib3.BaseHTTPResponse:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 1, "b": 1}}}  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}  # fmt: skip
    return HTTP.request("POST", f"{url}/mcp", body=json.dumps(body), headers=headers)


def test_the_sdk_goes_from_a_bare_401_to_a_tool_call(served: Served, provider: Provider) -> None:
    api = served.url
    answer = sdk_client(f"{api}/mcp", provider.issuer, "mcp-client", "add", {"a": 2, "b": 3})
    assert "error" not in answer, answer
    assert answer["result"]["structured_content"] == {"result": 5}
    claims = jwt.decode(answer["token"], options={"verify_signature": False})
    assert claims["aud"] == api  # the resource the metadata named (RFC 8707)
    assert claims["scope"] == "mcp:tools"  # the scope the metadata says the API asks for
    requests = answer["requests"]
    assert requests[0] == f"POST {api}/mcp"  # the bare request that got the 401
    assert any("/.well-known/oauth-protected-resource" in line for line in requests)
    assert f"POST {provider.issuer}/token" in requests


def test_the_tool_sees_the_caller_the_authorizer_verified(
    served: Served, provider: Provider
) -> None:
    answer = sdk_client(f"{served.url}/mcp", provider.issuer, "mcp-client", "whoami", {})
    assert answer["result"]["content"][0]["text"] == "mcp-client"


def test_a_tool_that_needs_more_than_its_route_makes_the_sdk_step_up(
    served: Served, provider: Provider
) -> None:
    # POST /mcp needs mcp:tools (the route rule); the orders tool also needs read:orders,
    # which only the server can tell: it answers 403 with the challenge the claims reader
    # builds, on either API kind, and the SDK asks for a token with both scopes.
    answer = sdk_client(f"{served.url}/mcp", provider.issuer, "mcp-client", "orders", {})
    assert "error" not in answer, answer
    assert answer["result"]["structured_content"] == {"result": ["order-7"]}
    assert set(answer["scope"].split()) == {"mcp:tools", "read:orders"}
    assert sum(line == f"POST {provider.issuer}/token" for line in answer["requests"]) == 2


def test_tokens_that_must_not_be_served_get_the_status_and_challenge_of_their_api(
    served: Served, provider: Provider
) -> None:
    api = served.url
    metadata = f'resource_metadata="{api}/.well-known/oauth-protected-resource"'
    expired = provider.token(api, "mcp:tools", client="mcp-expiring-client")
    cases = {
        "another resource": (provider.token("https://api.example.test/RS256"), 401, metadata),
        "no tools scope": (provider.token(api, "read:orders", client="mcp-client"), 403,
                           f'Bearer error="insufficient_scope", scope="mcp:tools", {metadata}'),
        "expired": (expired, 401, metadata),
    }  # fmt: skip
    time.sleep(2)  # the expiring client's tokens live one second
    for name, (token, status, challenge) in cases.items():
        answered = call_mcp(api, token)
        assert answered.status == status, name
        if served.kind == "RestApi":  # gateway responses: the challenge in WWW-Authenticate
            assert challenge in answered.headers["WWW-Authenticate"], name
        else:  # HTTP APIs have none: API Gateway's bare answer, the metadata found by its URL
            assert "WWW-Authenticate" not in answered.headers, name
    good = call_mcp(api, provider.token(api, "mcp:tools", client="mcp-client"))
    assert good.status == 200 and json.loads(good.data)["result"]["structuredContent"] == {
        "result": 2
    }
