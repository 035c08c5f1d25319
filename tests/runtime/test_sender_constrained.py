"""Sender-constrained tokens from a real provider: DPoP (RFC 9449) and mutual TLS (RFC 8705).

panva/oidc-provider issues DPoP-bound tokens (``cnf.jkt``) to a client that proves
its key at the token endpoint, and certificate-bound tokens (``cnf["x5t#S256"]``) to a
client whose certificate reaches it; the proofs for the API are made by a test
client (:mod:`authorizer_tools.dpopclient`). Every refusal goes through the attack
catalogue's check: never an Allow, the reason logged, within a time bound.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from aws_lambda_powertools import Logger, Metrics
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from authorizer.app import Authorizer
from authorizer.binding.dpop import token_hash
from authorizer.config.settings import load_settings
from authorizer_tools.dpopclient import DpopKey, client_certificate
from authorizer_tools.eventgen import DOMAIN, STAGE, dpop_event, make_event, request_url
from tests.answers import answer
from tests.attacks import Refusal, refuse
from tests.conftest import FakeClock
from tests.oidc import ALGORITHMS, RESOURCES, Provider

URL = request_url()  # what make_event's requests are sent to
BOUND = 0.25  # seconds: no refusal may take longer (nothing is fetched)

Setup = tuple[Authorizer, io.StringIO, FakeClock]


def authorizer_for(provider: Provider, constraint: str, **env: str) -> Setup:
    settings = load_settings(
        {
            "JWT_ISSUER": provider.issuer,
            "JWT_AUDIENCE": ",".join(RESOURCES),
            "JWT_ALGORITHMS": ",".join(ALGORITHMS),
            "JWT_LEEWAY_SECONDS": "5",
            "JWT_SENDER_CONSTRAINT": constraint,
            **env,
        }
    )
    log = io.StringIO()
    clock = FakeClock(time.time())
    authorizer = Authorizer(
        settings,
        logger=Logger(
            service=f"dpop-{uuid.uuid4().hex[:8]}", logger_handler=logging.StreamHandler(log)
        ),
        metrics=Metrics(namespace="AuthorizerTests"),
        clock=clock,
        monotonic=clock,
    )
    return authorizer, log, clock


@pytest.fixture(scope="module")
def client_key() -> DpopKey:
    return DpopKey.generate("ES256")


@pytest.fixture(scope="module")
def bound_token(provider: Provider, client_key: DpopKey) -> str:
    """A DPoP-bound token: the provider saw a proof of ``client_key`` at its token endpoint."""
    proof = client_key.proof("POST", provider.token_endpoint)
    token = provider.token(RESOURCES[0], client="dpop-client", dpop=proof)
    assert jwt.decode(token, options={"verify_signature": False})["cnf"] == {
        "jkt": client_key.thumbprint
    }
    return token


@pytest.fixture(scope="module")
def certificate() -> tuple[str, str]:
    return client_certificate()


@pytest.fixture(scope="module")
def cert_token(provider: Provider, certificate: tuple[str, str]) -> str:
    pem, thumbprint = certificate
    token = provider.token(RESOURCES[0], client="mtls-client", certificate=pem)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["cnf"] == {"x5t#S256": thumbprint}
    return token


@pytest.fixture(scope="module")
def plain_token(provider: Provider) -> str:
    return provider.token(RESOURCES[0])


def with_certificate(event: dict[str, Any], kind: str, pem: str) -> dict[str, Any]:
    holder = "authentication" if kind == "http_v2" else "identity"
    event["requestContext"].setdefault(holder, {})["clientCert"] = {
        "clientCertPem": pem,
        "subjectDN": "CN=dpop-test-client",
        "issuerDN": "CN=dpop-test-client",
        "serialNumber": "1",
        "validity": {"notBefore": "May 1 00:00:00 2026 GMT", "notAfter": "May 1 00:00:00 2027 GMT"},
    }
    return event


def refused(setup: Setup, event: dict[str, Any], token: str) -> Refusal:
    authorizer, log, _ = setup
    refusal = refuse(authorizer, log, event)
    assert refusal.seconds < BOUND, refusal
    written = log.getvalue()
    assert token not in written
    headers = event.get("headers", {})
    proofs = [v for k, v in headers.items() if k.lower() == "dpop" and len(v) > 16]
    assert not any(proof in written for proof in proofs)  # a proof carries a signature
    return refusal


def check_of(log: io.StringIO) -> str:
    lines = [json.loads(line) for line in log.getvalue().splitlines() if line.strip()]
    return str([r for r in lines if r.get("message") == "authorization decision"][-1]["check"])


# --- DPoP: the proof is good -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["rest_request", "http_v1", "http_v2"])
def test_a_dpop_bound_token_with_its_proof_is_allowed(
    provider: Provider, client_key: DpopKey, bound_token: str, kind: str
) -> None:
    setup = authorizer_for(provider, "either")
    proof = client_key.proof("GET", URL, bound_token)
    answered = answer(setup[0], dpop_event(bound_token, proof, kind))
    assert answered.status == 200
    assert '"binding":"dpop"' in setup[1].getvalue()


def test_a_websocket_connect_proves_the_wss_url_of_its_stage(
    provider: Provider, client_key: DpopKey, bound_token: str
) -> None:
    setup = authorizer_for(provider, "dpop")
    proof = client_key.proof("GET", f"wss://{DOMAIN}/{STAGE}", bound_token)
    assert answer(setup[0], dpop_event(bound_token, proof, "websocket")).status == 200
    https_proof = client_key.proof("GET", URL, bound_token)
    refusal = refused(setup, dpop_event(bound_token, https_proof, "websocket"), bound_token)
    assert (refusal.status, refusal.reason, check_of(setup[1])) == (401, "dpop_invalid", "htu")


@pytest.mark.parametrize(
    "url",
    [
        f"{URL}?page=2",
        f"{URL}#top",
        f"HTTPS://{DOMAIN.upper()}:443/{STAGE}/orders",
        f"https://{DOMAIN}/{STAGE}/%6Frders",
    ],
)
def test_the_url_is_compared_without_query_fragment_case_or_default_port(
    provider: Provider, client_key: DpopKey, bound_token: str, url: str
) -> None:
    setup = authorizer_for(provider, "dpop")
    proof = client_key.proof("GET", url, bound_token)
    assert answer(setup[0], dpop_event(bound_token, proof)).status == 200


def test_every_request_needs_a_new_proof_even_when_the_token_is_cached(
    provider: Provider, client_key: DpopKey, bound_token: str
) -> None:
    setup = authorizer_for(provider, "dpop")
    authorizer, log, clock = setup
    for _ in range(3):
        proof = client_key.proof("GET", URL, bound_token, now=clock.now)
        assert answer(authorizer, dpop_event(bound_token, proof)).status == 200
    clock.advance(61)  # the verified token is still cached: the proof's age still counts
    stale = client_key.proof("GET", URL, bound_token, now=clock.now - 61)
    refusal = refused(setup, dpop_event(bound_token, stale), bound_token)
    assert (refusal.reason, check_of(log)) == ("dpop_invalid", "iat")


# --- DPoP: the proof is wrong ---------------------------------------------------------------

Proof = Callable[[DpopKey, str], str]


def _private_d(key: DpopKey) -> str:
    assert isinstance(key.private, ec.EllipticCurvePrivateKey)
    return str(ECAlgorithm.to_jwk(key.private, as_dict=True)["d"])


def _unsigned(key: DpopKey, token: str, signature: str) -> str:
    signed = key.proof("GET", URL, token).split(".")
    header = jwt.utils.base64url_encode(
        jwt.utils.force_bytes(f'{{"typ":"dpop+jwt","alg":"none","jwk":{_json(key.jwk)}}}')
    ).decode()
    return f"{header}.{signed[1]}.{signature}"


def _hmac(key: DpopKey, token: str) -> str:
    payload = {"jti": str(uuid.uuid4()), "htm": "GET", "htu": URL, "iat": int(time.time())}
    payload["ath"] = token_hash(token)
    return jwt.encode(
        payload, "k" * 32, algorithm="HS256", headers={"typ": "dpop+jwt", "jwk": key.jwk}
    )


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


WRONG_PROOFS: dict[str, tuple[Proof, str, str]] = {
    "another method": (lambda key, t: key.proof("POST", URL, t), "dpop_invalid", "htm"),
    "a lower-case method": (lambda key, t: key.proof("get", URL, t), "dpop_invalid", "htm"),
    "another path": (
        lambda key, t: key.proof("GET", f"https://{DOMAIN}/{STAGE}/admin", t),
        "dpop_invalid",
        "htu",
    ),
    "another host": (
        lambda key, t: key.proof("GET", f"https://api.other.example/{STAGE}/orders", t),
        "dpop_invalid",
        "htu",
    ),
    "plain http": (
        lambda key, t: key.proof("GET", URL.replace("https", "http"), t),
        "dpop_invalid",
        "htu",
    ),
    "the path without its stage": (
        lambda key, t: key.proof("GET", f"https://{DOMAIN}/orders", t),
        "dpop_invalid",
        "htu",
    ),
    "a stale iat": (
        lambda key, t: key.proof("GET", URL, t, now=time.time() - 120),
        "dpop_invalid",
        "iat",
    ),
    "an iat from the future": (
        lambda key, t: key.proof("GET", URL, t, now=time.time() + 60),
        "dpop_invalid",
        "iat",
    ),
    "another token's ath": (
        lambda key, t: key.proof("GET", URL, t + "x"),
        "dpop_invalid",
        "ath",
    ),
    "no ath": (lambda key, t: key.proof("GET", URL, None), "dpop_invalid", "claims"),
    "no jti": (lambda key, t: key.proof("GET", URL, t, drop=("jti",)), "dpop_invalid", "claims"),
    "an iat string": (
        lambda key, t: key.proof("GET", URL, t, claims={"iat": "now"}),
        "dpop_invalid",
        "claims",
    ),
    "typ JWT": (
        lambda key, t: key.proof("GET", URL, t, header={"typ": "JWT"}),
        "dpop_invalid",
        "typ",
    ),
    "no typ": (lambda key, t: key.proof("GET", URL, t, drop=("typ",)), "dpop_invalid", "typ"),
    "a crit header": (
        lambda key, t: key.proof("GET", URL, t, header={"crit": ["exp"], "exp": 1}),
        "dpop_invalid",
        "typ",
    ),
    "no jwk": (lambda key, t: key.proof("GET", URL, t, drop=("jwk",)), "dpop_invalid", "jwk"),
    "a jwk with its private key": (
        lambda key, t: key.proof("GET", URL, t, header={"jwk": {**key.jwk, "d": _private_d(key)}}),
        "dpop_invalid",
        "jwk",
    ),
    "a symmetric jwk": (
        lambda key, t: key.proof("GET", URL, t, header={"jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
        "dpop_invalid",
        "jwk",
    ),
    "a jwk of another key than the signer": (
        lambda key, t: key.proof("GET", URL, t, signer=DpopKey.generate().private),
        "dpop_invalid",
        "signature",
    ),
    "a proof signed by another key": (
        lambda key, t: DpopKey.generate().proof("GET", URL, t),
        "dpop_binding",
        "jkt",
    ),
    "an RSA key the token is not bound to": (
        lambda key, t: DpopKey.generate("PS256").proof("GET", URL, t),
        "dpop_binding",
        "jkt",
    ),
    "alg none, unsigned": (lambda key, t: _unsigned(key, t, ""), "dpop_invalid", "shape"),
    "alg none, with a signature": (
        lambda key, t: _unsigned(key, t, "c2lnbmF0dXJl"),
        "dpop_invalid",
        "alg",
    ),
    "alg HS256": (_hmac, "dpop_invalid", "alg"),
    "an alg off the allow-list": (
        lambda key, t: DpopKey.generate("ES384").proof("GET", URL, t),
        "dpop_invalid",
        "alg",
    ),
    "not a JWT": (lambda key, t: "not.a.proof", "dpop_invalid", "shape"),
    "the access token itself": (lambda key, t: t, "dpop_invalid", "typ"),
}


@pytest.mark.parametrize("case", WRONG_PROOFS)
def test_a_wrong_proof_is_refused_with_its_reason(
    provider: Provider, client_key: DpopKey, bound_token: str, case: str
) -> None:
    make, reason, check = WRONG_PROOFS[case]
    setup = authorizer_for(provider, "either", AUTHORIZER_DPOP_ALGORITHMS="ES256,PS256")
    refusal = refused(setup, dpop_event(bound_token, make(client_key, bound_token)), bound_token)
    assert (refusal.status, refusal.reason, check_of(setup[1])) == (401, reason, check)


def test_a_replayed_proof_is_refused(
    provider: Provider, client_key: DpopKey, bound_token: str
) -> None:
    setup = authorizer_for(provider, "dpop")
    proof = client_key.proof("GET", URL, bound_token)
    assert answer(setup[0], dpop_event(bound_token, proof)).status == 200
    for kind in ("http_v2", "rest_request"):  # another event kind, the same proof
        refusal = refused(setup, dpop_event(bound_token, proof, kind), bound_token)
        assert (refusal.reason, check_of(setup[1])) == ("dpop_replay", "jti")


def test_a_refused_request_does_not_use_up_its_proof(
    provider: Provider, client_key: DpopKey, bound_token: str, plain_token: str
) -> None:
    """The jti is recorded last: a proof sent with the wrong token can still be used right."""
    setup = authorizer_for(provider, "dpop")
    proof = client_key.proof("GET", URL, bound_token)
    refused(setup, dpop_event(bound_token, proof, method="POST"), bound_token)
    assert answer(setup[0], dpop_event(bound_token, proof)).status == 200


def test_two_dpop_headers_are_refused(
    provider: Provider, client_key: DpopKey, bound_token: str
) -> None:
    setup = authorizer_for(provider, "dpop")
    event = dpop_event(bound_token, client_key.proof("GET", URL, bound_token), "rest_request")
    event["multiValueHeaders"]["DPoP"].append(client_key.proof("GET", URL, bound_token))
    refusal = refused(setup, event, bound_token)
    assert (refusal.reason, check_of(setup[1])) == ("dpop_invalid", "header")


# --- DPoP: the policy ---------------------------------------------------------------------


@pytest.mark.parametrize("constraint", ["bearer", "either", "dpop"])
def test_a_dpop_bound_token_sent_as_bearer_is_refused(
    provider: Provider, bound_token: str, constraint: str
) -> None:
    setup = authorizer_for(provider, constraint)
    event = make_event("http_v2", f"Bearer {bound_token}")
    refusal = refused(setup, event, bound_token)
    assert (refusal.status, refusal.reason) == (401, "dpop_missing")


def test_the_dpop_scheme_without_a_proof_is_refused(provider: Provider, bound_token: str) -> None:
    setup = authorizer_for(provider, "either")
    refusal = refused(setup, dpop_event(bound_token, None), bound_token)
    assert (refusal.reason, check_of(setup[1])) == ("dpop_missing", "header")


def test_a_token_authorizer_cannot_take_dpop_and_says_so(
    provider: Provider, bound_token: str
) -> None:
    setup = authorizer_for(provider, "dpop")
    refusal = refused(setup, make_event("rest_token", f"DPoP {bound_token}"), bound_token)
    assert (refusal.reason, check_of(setup[1])) == ("dpop_missing", "token_event")
    assert "DPoP needs a REQUEST authorizer" in setup[1].getvalue()


def test_a_proof_for_an_unbound_token_is_refused(
    provider: Provider, client_key: DpopKey, plain_token: str
) -> None:
    setup = authorizer_for(provider, "either")
    event = dpop_event(plain_token, client_key.proof("GET", URL, plain_token))
    refusal = refused(setup, event, plain_token)
    assert (refusal.reason, check_of(setup[1])) == ("dpop_binding", "unbound")


def test_an_unbound_bearer_token_is_allowed_unless_the_policy_is_dpop(
    provider: Provider, plain_token: str
) -> None:
    for constraint in ("bearer", "either"):
        setup = authorizer_for(provider, constraint)
        assert answer(setup[0], make_event("http_v2", f"Bearer {plain_token}")).status == 200
    setup = authorizer_for(provider, "dpop")
    refusal = refused(setup, make_event("http_v2", f"Bearer {plain_token}"), plain_token)
    assert (refusal.reason, check_of(setup[1])) == ("dpop_missing", "unbound")


def test_the_bearer_policy_refuses_the_dpop_scheme(
    provider: Provider, client_key: DpopKey, bound_token: str
) -> None:
    setup = authorizer_for(provider, "bearer")
    event = dpop_event(bound_token, client_key.proof("GET", URL, bound_token))
    refusal = refused(setup, event, bound_token)
    assert (refusal.reason, check_of(setup[1])) == ("dpop_invalid", "scheme")


def test_bound_tokens_pass_as_bearer_only_when_explicitly_allowed(
    provider: Provider, bound_token: str, cert_token: str
) -> None:
    setup = authorizer_for(provider, "bearer", JWT_BOUND_TOKENS_AS_BEARER="true")
    for token in (bound_token, cert_token):
        assert answer(setup[0], make_event("http_v2", f"Bearer {token}")).status == 200


# --- certificate-bound tokens (mutual TLS) -----------------------------------------------------


@pytest.mark.parametrize("kind", ["rest_request", "http_v1", "http_v2"])
def test_a_certificate_bound_token_with_its_certificate_is_allowed(
    provider: Provider, cert_token: str, certificate: tuple[str, str], kind: str
) -> None:
    setup = authorizer_for(provider, "dpop")  # certificate-bound counts as sender-constrained
    event = with_certificate(make_event(kind, f"Bearer {cert_token}"), kind, certificate[0])
    assert answer(setup[0], event).status == 200
    assert '"binding":"mtls"' in setup[1].getvalue()


def test_a_certificate_bound_token_with_another_certificate_is_refused(
    provider: Provider, cert_token: str
) -> None:
    setup = authorizer_for(provider, "either")
    other, _ = client_certificate("someone-else")
    event = with_certificate(make_event("http_v2", f"Bearer {cert_token}"), "http_v2", other)
    refusal = refused(setup, event, cert_token)
    assert (refusal.reason, check_of(setup[1])) == ("cert_binding", "x5t")


@pytest.mark.parametrize("kind", ["rest_token", "rest_request", "http_v2"])
def test_a_certificate_bound_token_without_a_certificate_is_refused(
    provider: Provider, cert_token: str, kind: str
) -> None:
    setup = authorizer_for(provider, "either")
    refusal = refused(setup, make_event(kind, f"Bearer {cert_token}"), cert_token)
    assert (refusal.reason, check_of(setup[1])) == ("cert_binding", "certificate")


def test_a_certificate_header_from_the_client_is_not_a_certificate(
    provider: Provider, cert_token: str, certificate: tuple[str, str]
) -> None:
    """Only API Gateway's request context counts: a client can set any header it likes."""
    setup = authorizer_for(provider, "either")
    event = make_event("http_v2", f"Bearer {cert_token}")
    event["headers"]["x-amzn-mtls-clientcert"] = certificate[0]
    event["headers"]["x-client-certificate"] = certificate[0]
    refusal = refused(setup, event, cert_token)
    assert refusal.reason == "cert_binding"


def test_the_bearer_policy_refuses_certificate_bound_tokens(
    provider: Provider, cert_token: str, certificate: tuple[str, str]
) -> None:
    setup = authorizer_for(provider, "bearer")
    event = with_certificate(
        make_event("http_v2", f"Bearer {cert_token}"), "http_v2", certificate[0]
    )
    refusal = refused(setup, event, cert_token)
    assert (refusal.reason, check_of(setup[1])) == ("cert_binding", "policy")


def test_a_garbled_certificate_is_refused(provider: Provider, cert_token: str) -> None:
    setup = authorizer_for(provider, "either")
    pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    event = with_certificate(make_event("http_v2", f"Bearer {cert_token}"), "http_v2", pem)
    refusal = refused(setup, event, cert_token)
    assert (refusal.reason, check_of(setup[1])) == ("cert_binding", "x5t")


def test_each_sender_constraint_refusal_is_counted_under_its_reason(
    provider: Provider, client_key: DpopKey, bound_token: str, cert_token: str
) -> None:
    """The decision line carries its EMF metric: Decisions, by Outcome and Reason."""
    setup = authorizer_for(provider, "either")
    requests = {
        "dpop_missing": make_event("http_v2", f"Bearer {bound_token}"),
        "dpop_invalid": dpop_event(bound_token, client_key.proof("POST", URL, bound_token)),
        "dpop_binding": dpop_event(bound_token, DpopKey.generate().proof("GET", URL, bound_token)),
        "cert_binding": make_event("http_v2", f"Bearer {cert_token}"),
    }
    for reason, event in requests.items():
        refused(setup, event, bound_token)
        line = json.loads(setup[1].getvalue().splitlines()[-1])
        metric = line["_aws"]["CloudWatchMetrics"][0]
        assert (line["Reason"], line["Outcome"], line["Decisions"]) == (reason, "unauthorized", 1)
        assert metric["Dimensions"] == [["Outcome", "Reason"], ["Outcome"]]
        assert metric["Metrics"] == [{"Name": "Decisions", "Unit": "Count"}]


def test_doctor_checks_that_the_provider_and_the_authorizer_share_a_dpop_algorithm(
    provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    from authorizer_tools.doctor import run_doctor

    env = {
        "JWT_ISSUER": provider.issuer,
        "JWT_AUDIENCE": RESOURCES[0],
        "JWT_ALGORITHMS": ",".join(ALGORITHMS),
        "JWT_SENDER_CONSTRAINT": "dpop",
    }
    assert run_doctor(env, None)
    out = capsys.readouterr().out
    assert "ok    sender-constrained tokens: dpop; DPoP proofs up to 60 s old" in out
    assert "ok    DPoP proofs the issuer and the authorizer both take: ES256" in out
    assert not run_doctor({**env, "AUTHORIZER_DPOP_ALGORITHMS": "PS512"}, None)
    assert "none of them in AUTHORIZER_DPOP_ALGORITHMS (PS512)" in capsys.readouterr().out
