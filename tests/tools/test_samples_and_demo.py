"""The sample events, the example downstream function and `make demo`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import pytest

from authorizer.gateway.events import EventKind, classify
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import KINDS
from authorizer_tools.samples import NEGATIVES, PLACEHOLDER, render, render_negative, with_token
from examples.whoami.app import lambda_handler as whoami
from tests import ROOT, docs
from tests.conftest import FakeClock, build_authorizer, mint
from tests.docs import assert_shows

EVENTS = ROOT / "events"


@pytest.mark.parametrize("kind", KINDS)
def test_each_sample_event_is_current_and_of_its_shape(kind: str) -> None:
    path = EVENTS / f"{kind}.json"
    assert path.read_text(encoding="utf-8") == render(kind), "run `make events`"
    event = json.loads(path.read_text(encoding="utf-8"))
    assert classify(event) is EventKind(kind)
    assert PLACEHOLDER in path.read_text(encoding="utf-8")


def test_the_five_shapes_are_all_there() -> None:
    assert sorted(path.stem for path in EVENTS.glob("*.json")) == sorted(KINDS)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", sorted(NEGATIVES))
def test_each_negative_sample_is_current_and_refused(
    issuer: DevIssuer, clock: FakeClock, kind: str, case: str
) -> None:
    path = EVENTS / "negative" / f"{kind}-{case}.json"
    assert path.read_text(encoding="utf-8") == render_negative(kind, case), "run `make events`"
    authorizer = build_authorizer(issuer, clock)
    try:
        response = authorizer.handle(json.loads(path.read_text(encoding="utf-8")))
    except Exception as exc:
        assert str(exc) == "Unauthorized"
    else:
        assert response == {"isAuthorized": False}


@pytest.mark.parametrize("kind", KINDS)
def test_samples_with_a_real_token_are_allowed(
    issuer: DevIssuer, clock: FakeClock, kind: str
) -> None:
    authorizer = build_authorizer(issuer, clock)
    event = with_token(json.loads((EVENTS / f"{kind}.json").read_text()), mint(issuer, clock))
    response = authorizer.handle(event)
    allowed = response.get("isAuthorized") or (
        response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    )
    assert allowed


def downstream_event(kind: str, context: dict[str, Any]) -> dict[str, Any]:
    if kind == "http_v2":
        return {"version": "2.0", "requestContext": {"authorizer": {"lambda": context}}}
    stringified = {k: v if isinstance(v, str) else json.dumps(v) for k, v in context.items()}
    return {"requestContext": {"authorizer": {**stringified, "principalId": "x"}}}


@pytest.mark.parametrize("kind", ["rest_token", "http_v2"])
def test_the_example_function_returns_the_callers_claims(
    issuer: DevIssuer, clock: FakeClock, kind: str
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log)
    token = mint(issuer, clock, sub="carol", roles=["admin"], email_verified=True)
    event = with_token(json.loads((EVENTS / f"{kind}.json").read_text()), token)
    context = authorizer.handle(event)["context"]
    reply = whoami(downstream_event(kind, context), None)
    assert reply["statusCode"] == 200
    body = json.loads(reply["body"])
    assert body["sub"] == "carol"
    assert body["claims"]["roles"] == ["admin"]
    assert body["claims"]["email_verified"] is True


def test_the_example_function_refuses_requests_without_claims() -> None:
    assert whoami({"requestContext": {}}, None)["statusCode"] == 401


@pytest.mark.runtime_emulator
def test_make_demo_runs_every_sample_through_the_real_handler() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "authorizer_tools.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    rows = [
        line.split()
        for line in process.stdout.splitlines()
        if line.split()[:1] and line.split()[0] in KINDS
    ]
    assert len(rows) == 5 * 7 + 5 * 2
    by_case = {}
    for row in rows:
        line = " ".join(row[1:])
        for name in (
            "valid (RS256)",
            "valid (ES256)",
            "forged key",
            "missing scope",
            "rotated key (new kid)",
            "withdrawn key",
            "expired",
            "wrong audience",
            "no token",
        ):
            if line.startswith(name):
                by_case[(row[0], name)] = line[len(name) :].strip()
    assert by_case[("rest_token", "valid (RS256)")].startswith("200 allowed as alice")
    assert by_case[("http_v2", "valid (ES256)")].startswith("200 allowed")
    assert by_case[("websocket", "forged key")].endswith("bad_signature")
    assert by_case[("rest_request", "missing scope")] == "403 denied insufficient_scope"
    assert by_case[("http_v1", "rotated key (new kid)")] == "200 allowed as alice allowed"
    assert by_case[("rest_token", "withdrawn key")] == "401 Unauthorized unknown_kid"
    assert "key set fetched 2 time(s)" in process.stdout
    assert_shows(docs.output("demo"), process.stdout)
    assert "[4/5] key rotation" in process.stdout  # progress is shown step by step
    assert "\x1b[" not in process.stdout  # plain when piped
