"""End to end over HTTP: the template's APIs through `serve`, each function in the Lambda runtime.

The built artifacts run in AWS's Runtime Interface Emulator with `awslambdaric`
(the runtime client of AWS's Python images), one process per function, started
once for this module; requests go over sockets to the local API, whose gateway
step answers as API Gateway documents.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.local.runtime import (
    LambdaRuntime,
    RuntimeFailure,
    _run,
    build_artifact,
    find_python,
    runtime_python,
)
from authorizer_tools.local.server import Served, serving
from authorizer_tools.local.template import read
from authorizer_tools.sharedanswers import serve_warnings
from tests import ROOT
from tests.ports import child_port

#: Every test here runs the template's functions in SAM CLI's runtime emulator.
pytestmark = pytest.mark.runtime_emulator

AUDIENCE = "https://api.example.test"
TEMPLATE = read(ROOT / "template.yaml")
HTTP = urllib3.PoolManager(retries=False, timeout=30)


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer() as running:
        yield running


@pytest.fixture(scope="module")
def served(issuer: DevIssuer) -> Iterator[tuple[Served, list[str]]]:
    log: list[str] = []
    with serving(
        TEMPLATE,
        {
            "Issuer": issuer.issuer,
            "Audience": AUDIENCE,
            "RulesFile": "rules/example.toml",
            "RolesClaims": "roles",
        },
        # Lambda's advanced logging controls, and a short cooldown for the rotation test.
        {"AWS_LAMBDA_LOG_FORMAT": "JSON", "JWKS_REFRESH_COOLDOWN_SECONDS": "1"},
        port=0,
        log=log.append,
        function_logs=True,
    ) as running:
        yield running, log


def call(
    served: tuple[Served, list[str]], api: str, path: str, token: str | None, method: str = "GET"
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = HTTP.request(method, served[0].url(api) + path, headers=headers)
    try:
        return response.status, json.loads(response.data)
    except ValueError:
        return response.status, response.data


def mint(issuer: DevIssuer, **claims: Any) -> str:
    return issuer.mint({"aud": AUDIENCE, "sub": "alice", "scope": "orders:read", **claims})


APIS = ["RestApi", "HttpApi"]


@pytest.mark.parametrize("api", APIS)
def test_a_valid_token_reaches_the_function_with_its_claims(
    served: tuple[Served, list[str]], issuer: DevIssuer, api: str
) -> None:
    status, body = call(served, api, "/whoami", mint(issuer, n=7, groups=["a"]))
    assert status == 200
    assert body["sub"] == "alice"
    # The claims as WhoAmIFunction read them back, types restored.
    assert body["claims"]["n"] == 7 and body["claims"]["groups"] == ["a"]
    assert body["claims"]["iss"] == issuer.issuer


@pytest.mark.parametrize("api", APIS)
def test_refused_tokens_get_the_status_api_gateway_gives(
    served: tuple[Served, list[str]], issuer: DevIssuer, api: str
) -> None:
    forger = DevIssuer(algorithms=())
    forged = forger.mint(
        {"iss": issuer.issuer, "aud": AUDIENCE},
        kid=forger.add_key("RS256", next(iter(issuer.keys))),
    )
    forger.stop()  # never served: only its key was wanted
    gateway = served[0].gateway(api)
    before = gateway.authorizer_invocations
    assert call(served, api, "/whoami", None) == (401, {"message": "Unauthorized"})
    assert gateway.authorizer_invocations == before  # API Gateway answered that one itself
    for token in (
        "not-a-jwt",
        mint(issuer, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        forged,
        mint(issuer, aud="https://someone-else.example"),
    ):
        assert call(served, api, "/whoami", token) == (401, {"message": "Unauthorized"}), token
    assert gateway.authorizer_invocations == before + 4


@pytest.mark.parametrize("api", APIS)
def test_a_missing_scope_is_a_403(
    served: tuple[Served, list[str]], issuer: DevIssuer, api: str
) -> None:
    status, _ = call(served, api, "/orders", mint(issuer, scope="profile"))
    assert status == 403


def test_one_cached_policy_answers_every_route_of_the_rest_api(
    served: tuple[Served, list[str]], issuer: DevIssuer
) -> None:
    gateway = served[0].gateway("RestApi")
    token = mint(issuer, roles=["admin"], sub="admin-without-auth-time")
    assert call(served, "RestApi", "/whoami", token)[0] == 200
    invoked = gateway.authorizer_invocations
    assert call(served, "RestApi", "/orders/7", token)[0] == 200
    # An admin, but with no auth_time: rules/example.toml's step-up rule denies cancelling,
    # and the cached policy says so without asking the authorizer again.
    status, body = call(served, "RestApi", "/orders/7", token, method="DELETE")
    assert (status, body) == (403, {"message": "User is not authorized to access this resource"})
    assert gateway.authorizer_invocations == invoked
    assert served[1][-1].startswith("RestApi DELETE /orders/7 -> 403  authorizer: cached")


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("first", ["GET", "DELETE"])
def test_a_cached_answer_for_one_method_is_never_reused_for_another(
    served: tuple[Served, list[str]], issuer: DevIssuer, api: str, first: str
) -> None:
    """A read-only token: GET /orders/7 is allowed and DELETE refused, in either order.

    The second request has the same token as the first, so API Gateway's cache is
    what answers it where the cache key lets it (the REST API's policy; the HTTP
    API's simple response cached per route key, one route per method).
    """
    token = mint(issuer, sub=f"reader-{api}-{first}")  # a token of its own: a cold cache
    second = "DELETE" if first == "GET" else "GET"
    expected = {"GET": 200, "DELETE": 403}
    for method in (first, second, first, second):
        status, _ = call(served, api, "/orders/7", token, method)
        assert status == expected[method], (first, method)


def test_an_any_route_cached_by_route_key_answers_for_its_strictest_method(
    issuer: DevIssuer,
) -> None:
    """The trap the template used to ship: ANY /orders/{id}, cached by route key.

    The cached simple response would serve GET, DELETE and PUT alike, so the
    authorizer answers for the strictest: DELETE is for admins, and PUT, which
    the route also serves, matches no rule (denied by default). Every request of
    the route is refused, whichever comes first: never an allowed DELETE. serve
    says so when it starts.
    """
    template = copy.deepcopy(TEMPLATE)
    events = template["Resources"]["WhoAmIFunction"]["Properties"]["Events"]
    for name in ("HttpOrderGet", "HttpOrderDelete"):
        del events[name]
    events["HttpOrder"] = {
        "Type": "HttpApi",
        "Properties": {"ApiId": {"Ref": "HttpApi"}, "Path": "/orders/{id}", "Method": "ANY"},
    }
    log: list[str] = []
    parameters = {
        "Issuer": issuer.issuer,
        "Audience": AUDIENCE,
        "RulesFile": "rules/example.toml",
        "RolesClaims": "roles",
    }
    with serving(
        template, parameters, {}, port=0, log=log.append, warnings=serve_warnings
    ) as running:
        merged = [line for line in log if "'ANY /orders/{id}'" in line]
        assert merged and merged[0].startswith("warning: HttpApi route")
        assert "read orders" in merged[0] and "cancel orders" in merged[0]
        reader = mint(issuer, sub="reader")
        for method in ("GET", "DELETE", "GET"):
            assert call((running, log), "HttpApi", "/orders/7", reader, method)[0] == 403
        admin = mint(issuer, sub="admin", roles=["admin"], auth_time=int(time.time()))
        for method in ("DELETE", "GET", "PUT"):
            assert call((running, log), "HttpApi", "/orders/7", admin, method)[0] == 403
        # The other routes keep their own answers.
        assert call((running, log), "HttpApi", "/orders", reader)[0] == 200


def test_a_key_rotation_while_serving(served: tuple[Served, list[str]], issuer: DevIssuer) -> None:
    old = mint(issuer, sub="before-rotation")
    assert call(served, "HttpApi", "/whoami", old)[0] == 200
    time.sleep(1.1)  # the refetch cooldown the fixture configured
    new_kid = issuer.rotate()
    new = issuer.mint({"aud": AUDIENCE, "sub": "after-rotation"}, kid=new_kid)
    status, body = call(served, "HttpApi", "/whoami", new)
    assert (status, body["sub"]) == (200, "after-rotation")
    assert call(served, "HttpApi", "/whoami", mint(issuer, sub="x", jti="fresh"))[0] == 200


def test_every_function_line_is_json_with_one_decision_per_invocation_and_no_token(
    served: tuple[Served, list[str]], issuer: DevIssuer
) -> None:
    log = served[1]
    start = len(log)
    tokens = [mint(issuer, sub=f"log-{n}") for n in range(3)]
    for token in tokens:
        call(served, "HttpApi", "/orders", token)
    call(served, "HttpApi", "/orders", "junk.junk.junk")
    lines = log[start:]
    function_lines = [line.split(": ", 1)[1] for line in lines if line.startswith("  ")]
    records = [json.loads(line) for line in function_lines]  # every line parses as JSON
    decisions = [r for r in records if r.get("message") == "authorization decision"]
    assert len(decisions) == 4
    assert sum(1 for line in lines if line.startswith("HttpApi GET /orders -> ")) == 4
    for token in [*tokens, "junk.junk.junk"]:
        assert all(token not in line for line in lines)


def test_a_function_that_crashes_at_init_is_a_500_and_its_error_is_shown(
    issuer: DevIssuer,
) -> None:
    log: list[str] = []
    with serving(
        TEMPLATE,
        {"Issuer": issuer.issuer, "Audience": AUDIENCE},
        {"JWT_LEEWAY_SECONDS": "soon"},
        port=0,
        log=log.append,
    ) as running:
        response = HTTP.request(
            "GET", running.url("RestApi") + "/whoami", headers={"Authorization": "Bearer x"}
        )
    assert response.status == 500
    assert "JWT_LEEWAY_SECONDS must be a whole number" in log[-1]


# --- the command, as a user runs it -------------------------------------------------------


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "authorizer_tools", *args]


def test_serve_stops_every_process_it_started_on_ctrl_c(issuer: DevIssuer) -> None:
    port = child_port(2)  # serve takes the port and the next one
    process = subprocess.Popen(
        _command("serve", "--port", str(port), "--parameter", f"Issuer={issuer.issuer}",
                 "--parameter", f"Audience={AUDIENCE}"),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    banner: list[str] = []
    while (
        len(banner) < 40
        and banner[-1:] != [""]
        and not any(  # up to the runtimes line
            line.startswith("runtimes: ") for line in banner
        )
    ):
        banner.append(process.stdout.readline())
    runtimes = next(line for line in banner if line.startswith("runtimes: "))
    pids = [int(word.rstrip(",")) for word in runtimes.split()[1:-3] if word.rstrip(",").isdigit()]
    assert len(pids) == 2, banner
    token = mint(issuer)
    answer = HTTP.request(
        "GET", f"http://127.0.0.1:{port}/whoami", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status == 200
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    process.stdout.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_serve_on_a_port_in_use_says_so_in_one_line(issuer: DevIssuer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            _command("serve", "--port", str(port), "--parameter", f"Issuer={issuer.issuer}"),
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"authorizer_tools serve: error: port {port} is in use: choose another with --port"
    )


def test_no_python_313_is_one_line_saying_how_to_point_at_one() -> None:
    with pytest.raises(RuntimeFailure, match=r"no Python 3\.13 found.*--python"):
        find_python(sys.executable if sys.version_info[:2] != (3, 13) else "/bin/false")


def test_a_build_that_fails_is_one_line() -> None:
    with pytest.raises(RuntimeFailure, match="^building the thing failed: .*no-such-target"):
        _run(["make", "--no-print-directory", "no-such-target"], "the thing")


def test_invoke_in_the_runtime_prints_the_answer_and_the_runtime_figures(
    issuer: DevIssuer, tmp_path: Path
) -> None:
    event = tmp_path / "event.json"
    done = subprocess.run(
        _command("event", "http_v2", "--token", mint(issuer), "-o", str(event)),
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    done = subprocess.run(
        _command("invoke", str(event), "--runtime", "--logs", "--parameter",
                 f"Issuer={issuer.issuer}", "--parameter", f"Audience={AUDIENCE}"),
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ALLOW (200)  reason: allowed"
    assert any(line.startswith("downstream (requestContext.authorizer.lambda") for line in lines)
    assert any(line.startswith("runtime: init ") and " ms, invoke " in line for line in lines)
    assert any('"authorization decision"' in line for line in lines)  # the function's log


def test_a_runtime_whose_port_is_taken_starts_on_another(issuer: DevIssuer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        runtime = LambdaRuntime(
            "WhoAmIFunction",
            build_artifact("WhoAmIFunction"),
            {},
            python=runtime_python(find_python()),
            port=port,
        )
        with runtime:
            assert runtime.port != port
            answer = runtime.invoke({"requestContext": {}})
    assert answer.payload["statusCode"] == 401  # no authorizer context: the function says so


def test_dpop_through_serve_needs_a_request_authorizer_and_a_new_proof_each_time(
    issuer: DevIssuer,
) -> None:
    """The cache off, as the template requires: every request is the authorizer's to check."""
    from authorizer_tools.dpopclient import DpopKey
    from authorizer_tools.local.template import TemplateError

    parameters = {"Issuer": issuer.issuer, "Audience": AUDIENCE, "SenderConstraint": "dpop"}
    refused = pytest.raises(TemplateError, match="SenderConstrainedTokensAreNotCached")
    with refused, serving(TEMPLATE, parameters, {}, port=0):
        pass
    key = DpopKey.generate()
    token = issuer.mint({"aud": AUDIENCE, "sub": "alice", "cnf": {"jkt": key.thumbprint}})
    log: list[str] = []
    with serving(
        TEMPLATE, {**parameters, "AuthorizerCacheSeconds": "0"}, {}, port=0, log=log.append
    ) as running:
        url = running.url("HttpApi") + "/whoami"
        proof = key.proof("GET", url, token)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
        first = HTTP.request("GET", url, headers=headers)
        assert first.status == 200, first.data
        assert json.loads(first.data)["sub"] == "alice"
        assert HTTP.request("GET", url, headers=headers).status == 401  # the same proof again
        fresh = {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token)}
        assert HTTP.request("GET", url, headers=fresh).status == 200
        assert HTTP.request("GET", url, headers={"Authorization": f"Bearer {token}"}).status == 401
        rest = running.url("RestApi") + "/whoami"  # a TOKEN authorizer: no DPoP header reaches it
        proof = key.proof("GET", rest, token)
        answered = HTTP.request(
            "GET", rest, headers={"Authorization": f"DPoP {token}", "DPoP": proof}
        )
        assert answered.status == 401
    reasons = " ".join(log)
    assert "dpop_replay" in reasons and "dpop_missing" in reasons
