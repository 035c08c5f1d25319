"""The deployed entry point, exercised in fresh interpreters as Lambda would load it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from authorizer_tools.eventgen import make_event
from tests import ROOT
from tests.conftest import AUDIENCE
from tests.processes import results, run_handler


def test_a_missing_setting_fails_the_cold_start_naming_it() -> None:
    process = run_handler({"JWT_AUDIENCE": AUDIENCE}, [])
    assert process.returncode != 0
    last = process.stderr.strip().splitlines()[-1]
    assert last == (
        "authorizer.errors.ConfigError: JWT_ISSUER is required but not set"
        " [template parameter Issuer]"
    )


def test_an_invalid_setting_fails_the_cold_start_naming_it() -> None:
    process = run_handler({"JWT_ISSUER": "http://idp.example", "JWT_AUDIENCE": AUDIENCE}, [])
    assert process.returncode != 0
    assert "ConfigError: JWT_ISSUER must use https://" in process.stderr


def test_the_module_imports_while_the_issuer_is_down_and_answers_500() -> None:
    with DevIssuer() as issuer:
        token = issuer.mint({"aud": AUDIENCE})
        issuer.responder = lambda path: Reply(503, b"down")
        process = run_handler(
            {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": AUDIENCE},
            [make_event("rest_token", f"Bearer {token}")],
        )
    assert process.returncode == 0, process.stderr
    assert "issuer keys fetch failed" in process.stdout
    (outcome,) = results(process)
    assert outcome["raised"] == "AuthorizerUnavailable"
    assert outcome["message"] != "Unauthorized"


def test_a_warm_container_fetches_keys_once_at_init_for_many_requests() -> None:
    with DevIssuer() as issuer:
        tokens = [issuer.mint({"aud": AUDIENCE, "sub": f"user-{i}"}) for i in range(5)]
        events = [
            make_event(kind, f"Bearer {token}")
            for token in tokens
            for kind in ("rest_token", "http_v2", "websocket")
        ]
        events.append(make_event("rest_token", "Bearer not.a.jwt"))
        process = run_handler({"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": AUDIENCE}, events)
        fetches = issuer.fetches()
        discovery = issuer.fetches("/.well-known/openid-configuration")
    assert process.returncode == 0, process.stderr
    outcomes = results(process)
    assert len(outcomes) == len(events)
    allowed = [
        o
        for o in outcomes[:-1]
        if o.get("response", {}).get("isAuthorized")
        or o.get("response", {}).get("policyDocument", {}).get("Statement", [{}])[0].get("Effect")
        == "Allow"
    ]
    assert len(allowed) == 15
    assert outcomes[-1] == {"raised": "Exception", "message": "Unauthorized"}
    assert (fetches, discovery) == (1, 1)
    first_log = json.loads(
        next(line for line in process.stdout.splitlines() if "issuer keys fetched" in line)
    )
    assert first_log["trigger"] == "prefetch"
    decision = json.loads(
        next(line for line in process.stdout.splitlines() if "authorization decision" in line)
    )
    assert decision["function_request_id"] == "req-1"
    for token in tokens:
        assert token not in process.stdout + process.stderr


def test_without_prefetch_the_cold_start_does_not_load_the_http_client() -> None:
    """urllib3 is loaded by the first fetch, which here is the first request's."""
    probe = "import sys; from authorizer import app; print('urllib3' in sys.modules)"
    env = {**os.environ, "JWT_ISSUER": "https://idp.example.com", "JWT_AUDIENCE": AUDIENCE}
    env.update(JWKS_PREFETCH="false", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False"]
    with DevIssuer() as issuer:
        token = issuer.mint({"aud": AUDIENCE})
        process = run_handler(
            {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": AUDIENCE, "JWKS_PREFETCH": "false"},
            [make_event("rest_token", f"Bearer {token}")],
        )
    (outcome,) = results(process)
    assert outcome["response"]["policyDocument"]["Statement"][0]["Effect"] == "Allow"


@pytest.mark.parametrize(
    ("extra", "loaded"),
    [
        ({}, []),
        (
            {"AUTHORIZER_RULES": "rules/example.toml", "AUTHORIZER_ROLES_CLAIMS": "roles"},
            ["access.routes", "access.rules"],
        ),
        ({"JWT_SENDER_CONSTRAINT": "either"}, ["binding.dpop", "binding.replay"]),
    ],
)
def test_a_cold_start_loads_the_dpop_and_rules_modules_only_where_configured(
    extra: dict[str, str], loaded: list[str]
) -> None:
    """Empty subpackage __init__ files keep it so: importing a stage loads nothing beside it.

    Nor do boto3, botocore (beyond the package Powertools touches for its user agent) or
    Powertools' Parameters load without a rules or key source in SSM or S3, nor (DPoP with
    its replay store in memory) the DynamoDB store; nor the introspection code without an
    introspecting issuer, nor the metadata server.
    """
    probe = (
        "import json, sys; from authorizer import app; print(json.dumps(sorted("
        "m.removeprefix('authorizer.') for m in sys.modules if m.startswith("
        "('authorizer.access.', 'authorizer.binding.dpop', 'authorizer.binding.replay',"
        " 'authorizer.binding.replaytable',"
        " 'authorizer.tokens.introspect', 'authorizer.wellknown',"
        " 'boto3', 'botocore.', 'aws_lambda_powertools.utilities.parameters')))))"
    )
    env = {**os.environ, "JWT_ISSUER": "https://idp.example.com", "JWT_AUDIENCE": AUDIENCE}
    env.update(JWKS_PREFETCH="false", PYTHONPATH=str(ROOT), **extra)
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(done.stdout) == loaded
