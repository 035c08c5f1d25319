"""Property tests: whatever arrives, never an Allow without a valid signature, never a stray error.

`make test` runs a small budget (profile "ci"); `make fuzz` runs the same
properties with thousands of examples (profile "long").
"""

from __future__ import annotations

import copy
import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from hypothesis import assume, given
from hypothesis import strategies as st

from authorizer.app import Authorizer
from authorizer.config.settings import load_settings
from authorizer.keys.fetch import HttpFetcher
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import KINDS, make_event
from tests.answers import status
from tests.conftest import AUDIENCE, FakeClock
from tests.tokens import signed

NOW = 1_800_000_000


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[DevIssuer, Authorizer]]:
    with DevIssuer() as issuer:
        clock = FakeClock(NOW)
        settings = load_settings(
            {
                "JWT_ISSUER": issuer.issuer,
                "JWT_AUDIENCE": AUDIENCE,
                "JWT_REQUIRED_SCOPES": "read",
                "JWT_LEEWAY_SECONDS": "60",
            }
        )
        authorizer = Authorizer(
            settings,
            logger=Logger(
                service="fuzz", logger_handler=logging.StreamHandler(io.StringIO()), level="WARNING"
            ),
            metrics=Metrics(namespace="Fuzz"),
            fetcher=HttpFetcher(timeout=2),
            clock=clock,
            monotonic=clock,
        )
        assert authorizer.prefetch()
        yield issuer, authorizer


def valid_claims(issuer: DevIssuer) -> dict[str, Any]:
    return {
        "iss": issuer.issuer,
        "sub": "user",
        "aud": AUDIENCE,
        "iat": NOW,
        "exp": NOW + 300,
        "scope": "read",
    }


def rs256_token(issuer: DevIssuer, claims: dict[str, Any]) -> str:
    """``claims`` signed with the issuer's first key, as the issuer itself would."""
    return signed(issuer, {"alg": "RS256", "kid": next(iter(issuer.keys))}, claims)


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(kind=st.sampled_from(KINDS), authorization=st.text(max_size=300))
def test_any_authorization_header_is_never_allowed(
    world: tuple[DevIssuer, Authorizer], kind: str, authorization: str
) -> None:
    _, authorizer = world
    assert status(authorizer, make_event(kind, authorization)) in (401, 403)


@given(
    kind=st.sampled_from(KINDS),
    mutations=st.dictionaries(
        st.sampled_from(
            [
                "type",
                "version",
                "methodArn",
                "routeArn",
                "headers",
                "multiValueHeaders",
                "authorizationToken",
                "requestContext",
                "queryStringParameters",
                "multiValueQueryStringParameters",
            ]
        ),
        json_value,
        max_size=4,
    ),
)
def test_any_event_shape_without_a_valid_token_is_never_allowed(
    world: tuple[DevIssuer, Authorizer], kind: str, mutations: dict[str, Any]
) -> None:
    _, authorizer = world
    event = make_event(kind, "Bearer not.a.token")
    event.update(mutations)
    assert status(authorizer, event) in (401, 403)


@given(event=json_value)
def test_arbitrary_json_is_never_allowed(world: tuple[DevIssuer, Authorizer], event: Any) -> None:
    _, authorizer = world
    assert status(authorizer, event) in (401, 403)


TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "


@given(data=st.data())
def test_any_change_to_a_valid_token_is_refused(
    world: tuple[DevIssuer, Authorizer], data: st.DataObject
) -> None:
    issuer, authorizer = world
    token = rs256_token(issuer, valid_claims(issuer))
    assert status(authorizer, make_event("rest_token", f"Bearer {token}")) == 200
    position = data.draw(st.integers(0, len(token) - 1))
    edit = data.draw(st.sampled_from(["replace", "insert", "delete", "swap"]))
    char = data.draw(st.sampled_from(TOKEN_CHARS))
    if edit == "replace":
        mutated = token[:position] + char + token[position + 1 :]
    elif edit == "insert":
        mutated = token[:position] + char + token[position:]
    elif edit == "delete":
        mutated = token[:position] + token[position + 1 :]
    else:
        other = data.draw(st.integers(0, len(token) - 1))
        chars = list(token)
        chars[position], chars[other] = chars[other], chars[position]
        mutated = "".join(chars)
    # A space put before the token is no change to it: RFC 6750 section 2.1 lets any
    # number of spaces follow the scheme ("Bearer" 1*SP b64token).
    assume(mutated.lstrip(" ") != token)
    kind = data.draw(st.sampled_from(KINDS))
    assert status(authorizer, make_event(kind, f"Bearer {mutated}")) in (401, 403)


CLAIM_VARIANTS: dict[str, list[tuple[object, bool]]] = {
    # claim: [(value, still valid?)]; the sentinel "<absent>" removes the claim
    "iss": [("<absent>", False), ("https://evil.example", False), (7, False)],
    "sub": [("<absent>", False), ("", False), (["a"], False), ("other-user", True)],
    "aud": [
        ("<absent>", False),
        ("someone-else", False),
        ([AUDIENCE, "x"], True),
        (["x"], False),
        ([], False),
        (1, False),
    ],
    "exp": [
        ("<absent>", False),
        (NOW - 61, False),
        (NOW - 30, True),
        ("soon", False),
        (True, False),
        (NOW + 10**6, True),
    ],
    "iat": [("<absent>", False), (NOW + 61, False), (NOW + 30, True), (None, False)],
    "nbf": [(NOW + 61, False), (NOW + 30, True), (NOW - 10, True), ("x", False)],
    "scope": [
        ("<absent>", False),
        ("write", False),
        ("read write", True),
        ("readx", False),
        (["read"], False),
    ],
    "jti": [(5, False), ("abc", True)],
}


@given(data=st.data())
def test_signed_claims_are_allowed_exactly_when_every_claim_is_valid(
    world: tuple[DevIssuer, Authorizer], data: st.DataObject
) -> None:
    issuer, authorizer = world
    claims = valid_claims(issuer)
    expected_valid = True
    for name in data.draw(st.sets(st.sampled_from(sorted(CLAIM_VARIANTS)), max_size=3)):
        value, still_valid = data.draw(st.sampled_from(CLAIM_VARIANTS[name]))
        if value == "<absent>":
            claims.pop(name, None)
        else:
            claims[name] = copy.deepcopy(value)
        expected_valid = expected_valid and still_valid
    claims = {key: value for key, value in claims.items() if value is not None}
    if "iat" not in claims:
        expected_valid = False
    token = rs256_token(issuer, claims)
    result = status(authorizer, make_event("rest_token", f"Bearer {token}"))
    assert (result == 200) is expected_valid, (claims, result)


@given(
    alg=st.sampled_from(["RS256", "RS384", "PS256", "ES256", "none", "HS256", "", "rs256"]),
    kid_known=st.booleans(),
    extra=st.dictionaries(
        st.sampled_from(["typ", "cty", "jku", "x5u", "jwk", "x5c", "crit", "zip", "b64", "enc"]),
        json_value,
        max_size=3,
    ),
)
def test_signed_headers_are_allowed_only_with_rs256_a_known_kid_and_no_crit(
    world: tuple[DevIssuer, Authorizer], alg: str, kid_known: bool, extra: dict[str, Any]
) -> None:
    issuer, authorizer = world
    kid = next(iter(issuer.keys)) if kid_known else "unknown-kid"
    header = {"alg": alg, "kid": kid, **extra}
    token = signed(issuer, header, valid_claims(issuer), alg="RS256")
    expected = alg == "RS256" and kid_known and "crit" not in extra
    assert (status(authorizer, make_event("http_v1", f"Bearer {token}")) == 200) is expected
