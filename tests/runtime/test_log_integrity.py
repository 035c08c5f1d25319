"""One decision line per decision, whatever the token holds, and never the token.

The log sink here is what Lambda's is: a UTF-8 byte stream, which refuses text
a Python string can hold but UTF-8 cannot (lone surrogates). A ``StringIO``
accepts anything and would hide exactly the failure these tests look for.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics

from authorizer.app import Authorizer
from authorizer.config.settings import load_settings
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.dpopclient import DpopKey
from authorizer_tools.eventgen import KINDS, dpop_event, make_event, request_url
from tests import ROOT
from tests.conftest import FakeClock, env_for
from tests.tokens import access_claims, b64, segment, signed


def utf8_authorizer(issuer: DevIssuer, clock: FakeClock, sink: io.BytesIO) -> Authorizer:
    stream = io.TextIOWrapper(sink, encoding="utf-8", write_through=True)
    handler = logging.StreamHandler(stream)
    return Authorizer(
        load_settings(env_for(issuer, JWT_ALGORITHMS="RS256,ES256")),
        logger=Logger(service=f"integrity-{uuid.uuid4().hex[:8]}", logger_handler=handler),
        metrics=Metrics(namespace="AuthorizerTests", service="authorizer-tests"),
        clock=clock,
        monotonic=clock,
    )


def lines(sink: io.BytesIO) -> list[dict[str, Any]]:
    # Strict UTF-8: every byte written must decode.
    return [json.loads(line) for line in sink.getvalue().decode("utf-8").splitlines()]


HOSTILE_TEXT = ["\ud800", "a\udfffb", "\udbff\udfff\ud800", "\x00\x1b[2J", "é\ud800" * 100]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
@pytest.mark.parametrize("field", ["kid", "alg"])
def test_a_header_value_utf8_cannot_hold_still_gives_one_decision_line_and_metric(
    issuer: DevIssuer, clock: FakeClock, field: str, text: str
) -> None:
    sink = io.BytesIO()
    authorizer = utf8_authorizer(issuer, clock, sink)
    header = {"alg": "RS256", "kid": next(iter(issuer.keys)), "typ": "at+jwt", field: text}
    token = signed(issuer, header, access_claims(issuer, clock))
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handle(make_event("rest_request", f"Bearer {token}"))
    [record] = [r for r in lines(sink) if r["message"] == "authorization decision"]
    expected = "unknown_kid" if field == "kid" else "disallowed_algorithm"
    assert record["reason"] == expected
    assert record["Decisions"] == 1 and record["_aws"]["CloudWatchMetrics"]
    assert len(record.get(field, "")) <= 128 * 6  # bounded, escapes included


def test_a_verified_sub_utf8_cannot_hold_is_logged_escaped(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    sink = io.BytesIO()
    authorizer = utf8_authorizer(issuer, clock, sink)
    header = {"alg": "RS256", "kid": next(iter(issuer.keys)), "typ": "at+jwt"}
    token = signed(issuer, header, access_claims(issuer, clock, sub="user\ud800"))
    response = authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    [record] = [r for r in lines(sink) if r["message"] == "authorization decision"]
    assert record["sub"] == "user\\ud800" and record["reason"] == "allowed"


def test_a_payload_utf8_cannot_hold_does_not_lose_the_line(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    sink = io.BytesIO()
    authorizer = utf8_authorizer(issuer, clock, sink)
    header = segment({"alg": "RS256", "kid": "\ud800", "typ": "at+jwt"})
    payload = segment({"iss": "\ud800", "sub": "\udc00"})
    token = f"{header}.{payload}.{b64(b'sig')}"
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handle(make_event("http_v1", f"Bearer {token}"))
    assert [r["reason"] for r in lines(sink) if "decision" in r] == ["unknown_kid"]


def test_the_event_is_never_logged_even_when_powertools_is_told_to_log_events(
    tmp_path: Path,
) -> None:
    """``POWERTOOLS_LOGGER_LOG_EVENT=true`` would log every event, bearer token and all."""
    marker = "eyJ" + "m" * 40 + ".eyJ" + "n" * 40 + ".sig-marker"
    script = textwrap.dedent(
        f"""
        import json
        from authorizer.app import lambda_handler
        from authorizer_tools.eventgen import KINDS, dpop_event, make_event, request_url
        from authorizer_tools.local.context import local_context
        for kind in KINDS:
            event = make_event(kind, "Bearer {marker}", query={{"access_token": "{marker}"}})
            try:
                lambda_handler(event, local_context(kind))
            except Exception as exc:
                print(json.dumps({{"raised": str(exc)}}))
        """
    )
    env = {
        **os.environ,
        "POWERTOOLS_LOGGER_LOG_EVENT": "true",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "JWT_ISSUER": "http://127.0.0.1:9",
        "JWT_AUDIENCE": "api",
        "JWKS_PREFETCH": "false",
        "PYTHONPATH": str(ROOT),
    }
    done = run_script(script, env)
    output = done.stdout + done.stderr
    assert marker not in output and "sig-marker" not in output
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert sum(1 for r in records if r.get("message") == "authorization decision") == len(KINDS)
    assert sum(1 for r in records if r.get("raised") == "Unauthorized") >= len(KINDS) - 1


def test_dpop_proofs_and_bound_tokens_are_never_logged_even_at_debug(
    tmp_path: Path, issuer: DevIssuer
) -> None:
    """A proof carries a signature and names the token (ath): neither reaches a log line."""
    key = DpopKey.generate()
    token = issuer.mint({"aud": "api", "cnf": {"jkt": key.thumbprint}})
    url = request_url()
    good, stale = key.proof("GET", url, token), key.proof("GET", url, token, now=0)
    events = [dpop_event(token, proof) for proof in (good, good, stale)]  # allowed, replayed, stale
    events.append(make_event("http_v2", f"Bearer {token}"))  # the bound token without a proof
    (tmp_path / "events.json").write_text(json.dumps(events), encoding="utf-8")
    script = textwrap.dedent(
        """
        import json, sys
        from authorizer.app import lambda_handler
        from authorizer_tools.local.context import local_context
        for event in json.load(open(sys.argv[1])):
            try:
                lambda_handler(event, local_context("dpop"))
            except Exception as exc:
                print(json.dumps({"raised": str(exc)}))
        """
    )
    env = {
        **os.environ,
        "POWERTOOLS_LOGGER_LOG_EVENT": "true",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "JWT_ISSUER": issuer.issuer,
        "JWT_AUDIENCE": "api",
        "JWT_SENDER_CONSTRAINT": "dpop",
        "PYTHONPATH": str(ROOT),
    }
    done = run_script(script, env, str(tmp_path / "events.json"))
    output = done.stdout + done.stderr
    for secret in (token, good, stale, *(p.rsplit(".", 1)[1] for p in (token, good, stale))):
        assert secret not in output
    reasons = [r["reason"] for r in map(json.loads, done.stdout.splitlines()) if "reason" in r]
    assert reasons == ["allowed", "dpop_replay", "dpop_invalid", "dpop_missing"]


def run_script(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh Python with ``env``: its cold start is the handler's."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done
