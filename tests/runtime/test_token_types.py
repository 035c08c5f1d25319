"""Access tokens only (RFC 9068 typ, ID tokens refused), the principal claim, usage-plan keys."""

from __future__ import annotations

import pytest

from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError, TokenError
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event
from tests.conftest import FakeClock, build_authorizer, mint
from tests.tokens import access_claims as claims
from tests.tokens import key_header as header
from tests.tokens import signed


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_the_required_typ_accepts_its_spellings(
    issuer: DevIssuer, clock: FakeClock, typ: str
) -> None:
    verifier = build_authorizer(issuer, clock, JWT_REQUIRED_TYP="at+jwt").issuers[0].verifier
    assert verifier.verify(signed(issuer, header(issuer, typ=typ), claims(issuer, clock)))


@pytest.mark.parametrize(
    "typ",
    [
        None,
        "JWT",
        "jwt",
        "at+jwt2",
        "application/jwt",
        1,
        ["at+jwt"],
        # RFC 9068 section 4: exactly "at+jwt" (or "application/at+jwt"), case aside.
        " at+jwt ",
        "at+jwt\t",
        "\nat+jwt",
        "application/ at+jwt",
        "application/application/at+jwt",
        "at+jwt;charset=utf-8",
    ],
)
def test_the_required_typ_refuses_anything_else(
    issuer: DevIssuer, clock: FakeClock, typ: object
) -> None:
    verifier = (
        build_authorizer(issuer, clock, JWT_REQUIRED_TYP="application/at+jwt").issuers[0].verifier
    )
    with pytest.raises(TokenError) as caught:
        verifier.verify(signed(issuer, header(issuer, typ=typ), claims(issuer, clock)))
    assert caught.value.reason == "wrong_token_type"


def test_typ_is_not_required_unless_configured(issuer: DevIssuer, clock: FakeClock) -> None:
    verifier = build_authorizer(issuer, clock).issuers[0].verifier
    assert verifier.verify(signed(issuer, header(issuer, typ="JWT"), claims(issuer, clock)))


@pytest.mark.parametrize(
    "marker", [{"at_hash": "x"}, {"c_hash": "y"}, {"s_hash": "z"}, {"token_use": "id"}]
)
def test_id_tokens_are_refused_as_access_tokens(
    issuer: DevIssuer, clock: FakeClock, marker: dict[str, str]
) -> None:
    token = signed(issuer, header(issuer), claims(issuer, clock, nonce="n", **marker))
    with pytest.raises(TokenError) as caught:
        build_authorizer(issuer, clock).issuers[0].verifier.verify(token)
    assert caught.value.reason == "wrong_token_type"
    assert (
        build_authorizer(issuer, clock, JWT_REJECT_ID_TOKENS="false")
        .issuers[0]
        .verifier.verify(token)
    )


def test_a_cognito_access_token_is_not_mistaken_for_an_id_token(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    token = signed(issuer, header(issuer), claims(issuer, clock, token_use="access"))
    assert build_authorizer(issuer, clock).issuers[0].verifier.verify(token)


def test_the_principal_falls_back_to_the_configured_claims(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    machine = signed(issuer, header(issuer), claims(issuer, clock, sub=None, client_id="m2m"))
    strict = build_authorizer(issuer, clock)
    with pytest.raises(Exception, match="^Unauthorized$"):
        strict.handle(make_event("rest_token", f"Bearer {machine}"))
    relaxed = build_authorizer(issuer, clock, AUTHORIZER_PRINCIPAL_CLAIMS="sub,client_id")
    assert relaxed.handle(make_event("rest_token", f"Bearer {machine}"))["principalId"] == "m2m"
    person = mint(issuer, clock, sub="alice", client_id="spa")
    assert relaxed.handle(make_event("rest_token", f"Bearer {person}"))["principalId"] == "alice"


def test_the_usage_identifier_key_comes_from_a_claim_on_rest_apis_only(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock, AUTHORIZER_USAGE_IDENTIFIER_CLAIM="api_key")
    token = mint(issuer, clock, api_key="k-123")
    for kind in ("rest_token", "rest_request"):
        assert authorizer.handle(make_event(kind, f"Bearer {token}"))["usageIdentifierKey"] == (
            "k-123"
        )
    for kind in ("http_v1", "websocket"):
        assert "usageIdentifierKey" not in authorizer.handle(make_event(kind, f"Bearer {token}"))
    without = mint(issuer, clock)
    assert "usageIdentifierKey" not in authorizer.handle(
        make_event("rest_token", f"Bearer {without}")
    )


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"JWT_REQUIRED_TYP": "at+jwt, jwt"}, "JWT_REQUIRED_TYP"),
        ({"JWT_REQUIRED_TYP": "application/"}, "JWT_REQUIRED_TYP"),
        ({"JWT_REJECT_ID_TOKENS": "sometimes"}, "JWT_REJECT_ID_TOKENS"),
        ({"AUTHORIZER_PRINCIPAL_CLAIMS": " , "}, "AUTHORIZER_PRINCIPAL_CLAIMS"),
    ],
)
def test_bad_values_name_their_variable(changes: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}"):
        load_settings({"JWT_ISSUER": "https://idp.example", "JWT_AUDIENCE": "a", **changes})
