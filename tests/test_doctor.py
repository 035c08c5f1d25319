"""`doctor` fetches, filters and decides as the authorizer does, and prints only its report."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from authorizer_tools.devissuer import DevIssuer, Reply
from authorizer_tools.doctor import run_doctor
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, env_for


def doctor(env: dict[str, str], capsys: pytest.CaptureFixture[str], token: str | None = None):  # type: ignore[no-untyped-def]
    passed = run_doctor(env, token)
    return passed, capsys.readouterr().out


def serve_jwks(issuer: DevIssuer, reply: Reply) -> None:
    issuer.responder = lambda path: reply if path == "/jwks" else None


def test_a_compressed_key_set_the_authorizer_refuses_fails_doctor_too(
    issuer: DevIssuer, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    body = gzip.compress(json.dumps(issuer.jwks()).encode())
    serve_jwks(issuer, Reply(200, body, {"Content-Encoding": "gzip"}))
    assert not build_authorizer(issuer, clock).prefetch()
    passed, out = doctor(env_for(issuer), capsys)
    assert not passed
    assert "FAIL  key set: GET" in out and "Content-Encoding 'gzip'" in out


def test_an_oversized_key_set_the_authorizer_refuses_fails_doctor_too(
    issuer: DevIssuer, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    document = issuer.jwks()
    document["padding"] = "x" * (300 * 1024)
    serve_jwks(issuer, Reply(200, json.dumps(document).encode()))
    assert not build_authorizer(issuer, clock).prefetch()
    passed, out = doctor(env_for(issuer), capsys)
    assert not passed and "over the 262144 cap" in out


def test_keys_the_authorizer_drops_are_dropped_by_doctor_with_the_reason(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    document = issuer.jwks()
    zero = {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43, "kid": "zero", "use": "sig"}
    document["keys"].append(zero)
    serve_jwks(issuer, Reply(200, json.dumps(document).encode()))
    passed, out = doctor(env_for(issuer), capsys)
    assert passed
    assert "key set: 1 usable signing key(s)" in out
    assert "warn    ignored: key #1: kid 'zero' is a point of small order on Ed25519" in out


def test_the_report_holds_only_report_lines_when_a_token_is_explained(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    token = issuer.mint({"aud": AUDIENCE})
    passed, out = doctor(env_for(issuer), capsys, token)
    assert passed, out
    for line in out.splitlines():
        assert line.startswith(("ok  ", "warn", "FAIL")), line  # no metrics JSON among them


def test_doctor_says_whether_a_rules_file_has_route_rules(
    issuer: DevIssuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('default = "allow"\n')
    passed, out = doctor(env_for(issuer, AUTHORIZER_RULES=str(rules)), capsys)
    assert passed and "route rules: none in the rules file" in out
    rules.write_text('default = "deny"\n')
    passed, out = doctor(env_for(issuer, AUTHORIZER_RULES=str(rules)), capsys)
    assert not passed
    assert "FAIL  configuration: AUTHORIZER_RULES" in out and "no [[route]] rule" in out
