"""Claims survive the trip through API Gateway's context and back, for every API kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authorizer.claims import (
    JSON_CLAIMS_KEY,
    NoClaims,
    authorizer_context,
    claims_from_event,
    dropped_claims,
)
from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError
from authorizer.gateway.context import MAX_CONTEXT_BYTES, RESERVED_KEYS, build_context
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event
from tests.conftest import FakeClock, build_authorizer, mint


def stringified(context: dict[str, Any]) -> dict[str, str]:
    """What REST, HTTP API 1.0 and WebSocket integrations receive: every value as a string."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)

    return {name: text(value) for name, value in context.items()}


def rest_event(context: dict[str, Any]) -> dict[str, Any]:
    authorizer = stringified(context)
    authorizer["principalId"] = "user-123"
    authorizer["integrationLatency"] = "12"
    return {"requestContext": {"authorizer": authorizer}}


def http_v2_event(context: dict[str, Any]) -> dict[str, Any]:
    return {"requestContext": {"authorizer": {"lambda": dict(context)}}}


AUTHGEAR_CLAIMS: dict[str, Any] = {
    "iss": "https://myproject.authgear.cloud",
    "sub": "5f0b6a1e-0000-4000-8000-000000000000",
    "aud": ["https://myproject.authgear.cloud"],
    "client_id": "a1b2c3",
    "exp": 1800000300,
    "iat": 1800000000,
    "jti": "abc",
    "https://authgear.com/claims/user/is_anonymous": False,
    "https://authgear.com/claims/user/is_verified": True,
    "https://authgear.com/claims/user/can_reauthenticate": True,
    "https://authgear.com/claims/user/roles": ["admin", "billing:read"],
    "address": {"country": "HK", "locality": None},
    "score": 4.5,
    "nickname": None,
}


@pytest.mark.parametrize("event_for", [rest_event, http_v2_event])
def test_authgear_claims_round_trip_with_their_types(event_for: Any) -> None:
    context = build_context(AUTHGEAR_CLAIMS)
    restored = claims_from_event(event_for(context))
    expected = {k: v for k, v in AUTHGEAR_CLAIMS.items() if v is not None}
    assert restored == expected
    assert restored["https://authgear.com/claims/user/is_anonymous"] is False
    assert isinstance(restored["exp"], int)


def test_context_values_are_only_strings_numbers_and_booleans() -> None:
    context = build_context(AUTHGEAR_CLAIMS)
    assert all(isinstance(value, (str, int, float, bool)) for value in context.values())
    assert context["https://authgear.com/claims/user/roles"] == '["admin","billing:read"]'
    assert context["exp"] == "1800000300"
    assert context["https://authgear.com/claims/user/is_verified"] == "true"
    assert "nickname" not in context  # nulls are dropped


@pytest.mark.parametrize("event_for", [rest_event, http_v2_event])
def test_a_null_claim_is_named_in_dropped_claims_so_downstream_can_tell_it_from_absent(
    event_for: Any,
) -> None:
    context = build_context({"sub": "a", "nickname": None, "n": 1})
    event = event_for(context)
    assert dropped_claims(event) == ["nickname"]
    assert claims_from_event(event) == {"sub": "a", "n": 1}
    assert dropped_claims(event_for(build_context({"sub": "a"}))) == []


def test_reserved_names_never_carry_claims() -> None:
    claims = {
        "sub": "a",
        "principalId": "admin",
        "claims": "x",
        "jsonClaims": '["sub"]',
        "integrationLatency": 0,
    }
    context = build_context(claims)
    assert "principalId" not in context and "claims" not in context
    assert "integrationLatency" not in context
    assert json.loads(str(context["droppedClaims"])) == [
        "principalId",
        "claims",
        "jsonClaims",
        "integrationLatency",
    ]
    assert claims_from_event(http_v2_event(context)) == {"sub": "a"}


def test_oversized_claims_are_dropped_largest_first_and_named() -> None:
    claims = {
        "sub": "a",
        "iss": "i",
        "aud": "x",
        "groups": ["g" * 40] * 300,
        "small": "s",
        "medium": "m" * 2000,
    }
    context = build_context(claims)
    assert len(json.dumps(context)) <= MAX_CONTEXT_BYTES
    event = rest_event(context)
    assert dropped_claims(event) == ["groups"]
    assert claims_from_event(event) == {
        "sub": "a",
        "iss": "i",
        "aud": "x",
        "small": "s",
        "medium": "m" * 2000,
    }


def test_essential_claims_are_kept_even_when_over_budget() -> None:
    claims = {"sub": "s" * 8000, "other": "o"}
    context = build_context(claims)
    assert context["sub"] == "s" * 8000
    assert "other" not in context


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"requestContext": None},
        {"requestContext": {"authorizer": None}},
        {"requestContext": {"authorizer": {"claims": {"sub": "x"}}}},  # Cognito, not us
        {"requestContext": {"authorizer": {"jwt": {"claims": {}}}}},
    ],
)
def test_events_without_our_context_raise_no_claims(event: dict[str, Any]) -> None:
    with pytest.raises(NoClaims):
        authorizer_context(event)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
claim_names = st.text(min_size=1, max_size=30).filter(lambda name: name not in RESERVED_KEYS)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(claim_names, json_values, max_size=12))
def test_any_claims_round_trip_through_rest_and_http_api(claims: dict[str, Any]) -> None:
    claims["sub"] = "user"
    context = build_context(claims)
    assert all(isinstance(value, (str, int, float, bool)) for value in context.values())
    expected = {name: value for name, value in claims.items() if value is not None}
    for event in (rest_event(context), http_v2_event(context)):
        restored = claims_from_event(event)
        kept = {
            name: value for name, value in expected.items() if name not in dropped_claims(event)
        }
        assert restored == kept


def test_the_context_mapping_selects_renames_and_drops_claims(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(
        issuer,
        clock,
        AUTHORIZER_CONTEXT_CLAIMS="sub,scope,https://authgear.com/claims/user/roles,roles,email",
        AUTHORIZER_CONTEXT_EXCLUDE="email",
        AUTHORIZER_CONTEXT_RENAME="https://authgear.com/claims/user/roles=roles",
    )
    token = mint(
        issuer,
        clock,
        scope="a b",
        email="jane@example.com",
        roles=["shadowed"],
        **{"https://authgear.com/claims/user/roles": ["admin"], "tenant": "acme"},
    )
    response = authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    assert response["context"] == {
        "sub": "user-123",
        "scope": "a b",
        "roles": '["admin"]',
        JSON_CLAIMS_KEY: '["roles"]',
    }
    downstream = {"requestContext": {"authorizer": response["context"]}}
    assert claims_from_event(downstream)["roles"] == ["admin"]


def test_the_context_mapping_can_live_in_the_rules_file(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[context]\nexclude = ["jti", "iat"]\nrename = { sub = "userId" }\n')
    authorizer = build_authorizer(issuer, clock, AUTHORIZER_RULES=str(rules))
    response = authorizer.handle(make_event("http_v2", f"Bearer {mint(issuer, clock)}"))
    assert response["context"]["userId"] == "user-123"
    assert not {"sub", "jti", "iat"} & set(response["context"])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AUTHORIZER_CONTEXT_RENAME": "sub"}, "^AUTHORIZER_CONTEXT_RENAME must be claim=key"),
        ({"AUTHORIZER_CONTEXT_RENAME": "sub=principalId"}, "'principalId' is a key"),
        ({"AUTHORIZER_CONTEXT_RENAME": "a=x,b=x"}, "two claims renamed to the same key"),
    ],
)
def test_context_mapping_mistakes_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"JWT_ISSUER": "https://i.example", "JWT_AUDIENCE": "a", **env})


@pytest.mark.parametrize("kind", ["rest_token", "rest_request", "http_v1", "http_v2", "websocket"])
@pytest.mark.parametrize("selection", ["scope,iss", "iss", "tenant", "nothing-of-the-token"])
def test_any_context_selection_is_read_downstream(
    issuer: DevIssuer, clock: FakeClock, kind: str, selection: str
) -> None:
    authorizer = build_authorizer(
        issuer, clock, AUTHORIZER_CONTEXT_CLAIMS=selection, AUTHORIZER_HTTP_API_RESPONSE="iam"
    )
    token = mint(issuer, clock, scope="a b", tenant="acme")
    response = authorizer.handle(make_event(kind, f"Bearer {token}"))
    downstream = http_v2_event if kind == "http_v2" else rest_event
    claims = claims_from_event(downstream(response["context"]))
    wanted = set(selection.split(",")) & {"scope", "iss", "tenant"}
    assert set(claims) == wanted
    assert all(
        claims[name] == {"scope": "a b", "iss": issuer.issuer, "tenant": "acme"}[name]
        for name in wanted
    )
