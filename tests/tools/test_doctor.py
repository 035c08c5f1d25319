"""`doctor` fetches, filters and decides as the authorizer does, and prints only its report."""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from authorizer import errors
from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from authorizer_tools.doctor import Presented, run_doctor
from authorizer_tools.dpopclient import DpopKey, client_certificate
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, env_for
from tests.docs import section


def doctor(  # type: ignore[no-untyped-def]
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    token: str | None = None,
    **presented: str,
):
    passed = run_doctor(env, Presented(token, **presented) if token else None)
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


# --- sender-constrained tokens, explained ---------------------------------------------------

API = "https://api.example.com/v1/orders"


def test_doctor_explains_each_dpop_failure_in_plain_words(
    issuer: DevIssuer, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    key = DpopKey.generate()
    env = {**env_for(issuer), "JWT_SENDER_CONSTRAINT": "either"}
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}})
    cases = {
        "must send it as 'Authorization: DPoP <token>'": {},
        "the proof is for 'https://api.example.com/v2/orders', but the request went to": {
            "proof": key.proof("GET", API.replace("v1", "v2"), token),
            "url": API,
        },
        "s ago; a proof is good for 60 s (AUTHORIZER_DPOP_MAX_AGE_SECONDS)": {
            "proof": key.proof("GET", API, token, now=time.time() - 300),
            "url": API,
        },
        "the proof is for method 'POST', the request is GET": {
            "proof": key.proof("POST", API, token),
            "url": API,
        },
        "the proof was made for another access token": {
            "proof": key.proof("GET", API, token + "x"),
            "url": API,
        },
        "signed by another key than the one the token is bound to": {
            "proof": DpopKey.generate().proof("GET", API, token),
            "url": API,
        },
    }
    for expected, presented in cases.items():
        passed, out = doctor(env, capsys, token, **presented)
        assert not passed
        assert expected in out, out
    passed, out = doctor(env, capsys, token, proof=key.proof("GET", API, token), url=API)
    assert passed, out
    assert "ok    token: valid for this configuration" in out
    # The dev issuer does not say it binds tokens to DPoP keys: a warning, not a failure.
    assert "warn  discovery lists no dpop_signing_alg_values_supported" in out


def test_doctor_explains_certificate_bound_tokens(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    pem, thumbprint = client_certificate()
    env = {**env_for(issuer), "JWT_SENDER_CONSTRAINT": "either"}
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"x5t#S256": thumbprint}})
    passed, out = doctor(env, capsys, token)
    assert not passed and "carries none: API Gateway passes one only with mutual TLS" in out
    other, _ = client_certificate("other")
    passed, out = doctor(env, capsys, token, certificate=other)
    assert not passed and "is not the one the token is bound to" in out
    passed, out = doctor(env, capsys, token, certificate=pem)
    assert passed, out


def test_doctor_says_when_the_policy_refuses_bound_tokens(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": DpopKey.generate().thumbprint}})
    passed, out = doctor(env_for(issuer), capsys, token)
    assert not passed
    assert "JWT_SENDER_CONSTRAINT is bearer: set it to either" in out


# --- every code the reason-code reference sends to doctor, named by doctor ---------------------

#: Codes that are only the root of more specific ones: doctor names the specific code.
ROOTS = {"invalid_token": "TokenError", "sender_constraint": "SenderConstraintError",
         "forbidden": "AccessDenied"}  # fmt: skip

RULES = """default = "deny"
[[route]]
match = "GET /admin"
roles_any = ["admin"]
[[route]]
match = "POST /payments"
max_auth_age = 300
[[route]]
match = "GET /profile"
claims = [{ claim = "email_verified", equals = true }]
[[route]]
match = "GET /partners"
issuers = ["https://partners.example"]
"""
TENANTS = """default = "allow"
[[route]]
match = "GET /contoso"
tenants = ["contoso"]
"""


def test_doctor_names_every_code_the_reference_sends_to_it(
    issuer: DevIssuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = _codes_sent_to_doctor()
    assert set(ROOTS) <= sent and "wrong_audience" in sent and "missing_role" in sent
    for code, name in ROOTS.items():  # a root: raised only as one of its subclasses
        root = getattr(errors, name)
        assert root.reason == code and root.__subclasses__(), code
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    tenant_rules = tmp_path / "tenants.toml"
    tenant_rules.write_text(TENANTS)
    cases = _cases(issuer, str(rules), str(tenant_rules))
    assert set(cases) == sent - set(ROOTS), "a code in the reference without its case here"
    for code, (env, presented) in cases.items():
        passed, out = doctor(env_for(issuer, **env), capsys, **presented)
        assert not passed or "AUTHORIZER_RULES" in env, (code, out)
        named: tuple[str, ...] = (f"FAIL  token: refused ({code}): ", f"denied ({code}: ")
        if code == "no_matching_route":
            named = ("any other route: denied (default = deny)",)
        assert any(text in out for text in named), (code, out)


def _codes_sent_to_doctor() -> set[str]:
    rows = re.findall(r"^\| `([a-z_]+)` \|.*\| ([^|]*) \|$", section("Reason codes"), re.M)
    return {code for code, ask in rows if "`doctor --token T" in ask}


def _cases(
    issuer: DevIssuer, rules: str, tenant_rules: str
) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Per code: the settings and what the client sends, such that this code refuses it."""
    good = issuer.mint({"aud": AUDIENCE})
    head, body, _ = good.split(".")
    kid = next(iter(issuer.keys))
    forged = issuer.mint({"aud": AUDIENCE, "sub": "someone-else"}).split(".")[2]
    key = DpopKey.generate()
    bound = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}})
    _, thumbprint = client_certificate()
    other, _ = client_certificate("other")
    wrong_method = key.proof("POST", API, bound)
    other_key = DpopKey.generate().proof("GET", API, bound)
    dpop = {"JWT_SENDER_CONSTRAINT": "either"}
    routes = {"AUTHORIZER_RULES": rules, "AUTHORIZER_ROLES_CLAIMS": "roles"}
    tenants = {"JWT_ISSUER": f"{issuer.issuer}/{{tenant}}/v2.0", "JWT_TENANTS": "contoso,fabrikam",
               "JWT_TENANT_CLAIM": "tid", "JWT_JWKS_URI": f"{issuer.issuer}/jwks"}  # fmt: skip

    def tenant_token(tenant: str, tid: str) -> dict[str, str]:
        return token({"iss": f"{issuer.issuer}/{tenant}/v2.0", "tid": tid})

    def token(claims: dict[str, object], **options: Any) -> dict[str, str]:
        return {"token": issuer.mint({"aud": AUDIENCE, **claims}, **options)}

    return {
        "malformed": ({}, {"token": "an-opaque-token"}),
        "disallowed_algorithm": ({}, {"token": f"{_part({'alg': 'HS256', 'kid': kid})}.{body}.AA"}),
        "unknown_kid": ({}, token({}, headers={"kid": "withdrawn"})),
        "incompatible_key": (
            {"JWT_ALGORITHMS": "RS256,ES256"},
            {"token": f"{_part({'alg': 'ES256', 'kid': kid, 'typ': 'at+jwt'})}.{body}.AA"},
        ),
        "bad_signature": ({}, {"token": f"{head}.{body}.{forged}"}),
        "invalid_claims": ({}, token({"sub": None})),
        "expired": ({}, token({}, now=time.time() - 3600)),
        "not_yet_valid": ({}, token({"nbf": int(time.time()) + 3600})),
        "wrong_issuer": ({}, token({"iss": "https://other.example"})),
        "wrong_audience": ({}, token({"aud": "https://another-api.example"})),
        "wrong_token_type": ({}, token({"nonce": "n-0S6_WzA2Mj"})),
        "dpop_missing": (dpop, {"token": bound}),
        "dpop_invalid": (dpop, {"token": bound, "url": API, "proof": wrong_method}),
        "dpop_binding": (dpop, {"token": bound, "url": API, "proof": other_key}),
        "cert_binding": (dpop, {**token({"cnf": {"x5t#S256": thumbprint}}), "certificate": other}),
        "insufficient_scope": ({"JWT_REQUIRED_SCOPES": "orders:read"}, {"token": good}),
        "missing_role": (routes, {"token": good}),
        "claim_mismatch": (routes, {"token": good}),
        "authentication_too_old": (routes, {"token": good}),
        "issuer_not_allowed": (routes, {"token": good}),
        "no_matching_route": (routes, {"token": good}),
        "unknown_tenant": (tenants, tenant_token("initech", "initech")),
        "tenant_mismatch": (tenants, tenant_token("contoso", "fabrikam")),
        "tenant_not_allowed": (
            {**tenants, "AUTHORIZER_RULES": tenant_rules},
            tenant_token("fabrikam", "fabrikam"),
        ),
    }


def _part(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


# --- a protected resource's audience, explained ---------------------------------------------

MCP = "https://api.example.com/mcp"


@pytest.mark.parametrize(
    ("aud", "explained"),
    [
        (f"{MCP}/", "differs from the resource only in its spelling (a trailing slash, or the"),
        ("https://API.example.com/mcp", "differs from the resource only in its spelling"),
        ("https://api.example.com", "the token is for 'https://api.example.com', another"),
        ("https://api.example.test", f"the client must ask the authorization server for a "
                                     f"token with resource={MCP} (RFC 8707)"),
    ],
)  # fmt: skip
def test_doctor_explains_a_token_for_another_resource(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str], aud: str, explained: str
) -> None:
    env = env_for(issuer, JWT_AUDIENCE="", AUTHORIZER_RESOURCE=MCP)
    passed, out = doctor(env, capsys, issuer.mint({"aud": aud}))
    assert not passed
    assert f"ok    protected resource: {MCP} (every token's aud must name exactly this)" in out
    assert "FAIL  token: refused (wrong_audience): " in out and explained in out, out
    passed, out = doctor(env, capsys, issuer.mint({"aud": MCP}))
    assert passed, out


def test_doctor_warns_when_the_url_called_is_not_under_the_resource(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    env = env_for(issuer, JWT_AUDIENCE="", AUTHORIZER_RESOURCE=MCP)
    token = issuer.mint({"aud": MCP})
    passed, out = doctor(env, capsys, token, url="https://api.example.com/mcpx/tools")
    assert passed and "which is not under the resource" in out
    passed, out = doctor(env, capsys, token, url=f"{MCP}/tools")
    assert passed and "not under the resource" not in out
