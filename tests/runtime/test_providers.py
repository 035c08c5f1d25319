"""Provider presets, with tokens shaped like each provider's real ones.

Each provider's issuer string is used exactly as the provider writes it; the
loopback fetcher sends that origin to a :class:`DevIssuer` on 127.0.0.1 that
publishes and signs under the same name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError
from authorizer.pipeline import Authorizer
from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from authorizer_tools.dpopclient import DpopKey
from authorizer_tools.eventgen import dpop_event, make_event, request_url
from tests.conftest import FakeClock, LoopbackFetcher, build_authorizer

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
def named() -> Iterator[Any]:
    """Start DevIssuers under real-looking names; stop them afterwards."""
    running: list[DevIssuer] = []

    def start(name: str) -> DevIssuer:
        issuer = DevIssuer(name=name).start()
        running.append(issuer)
        return issuer

    yield start
    for issuer in running:
        issuer.stop()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def authorizer_for(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path | None = None, rules: str = "", **env: str
) -> Authorizer:
    if rules and tmp_path is not None:
        path = tmp_path / "rules.toml"
        path.write_text(rules)
        env["AUTHORIZER_RULES"] = str(path)
    fetcher = LoopbackFetcher({origin(issuer.issuer): issuer.base})
    return build_authorizer(issuer, clock, fetcher=fetcher, env=env)


def decide(
    authorizer: Authorizer, token: str, method: str = "GET", path: str = "/orders"
) -> tuple[str, str]:
    decision = authorizer.decide(
        make_event("rest_token", f"Bearer {token}", method=method, path=path)
    )
    return decision.outcome, decision.reason


# --- Authgear ----------------------------------------------------------------------------

AUTHGEAR = "https://myapp.authgear.cloud"
AUTHGEAR_RULES = """
[[route]]
match = "ANY /orders"
roles_any = ["orders_admin"]
[[route]]
match = "GET /m2m"
scopes_all = ["read:orders"]
"""


def authgear_user(issuer: DevIssuer, clock: FakeClock, **changes: Any) -> str:
    claims = {
        "aud": [AUTHGEAR],
        "client_id": "c6b4a2b1e0f9d8c7",
        "sub": "0fc1b8c9-5bb1-4f4a-8e7e-5a3b3a6a9d10",
        "https://authgear.com/claims/user/can_reauthenticate": True,
        "https://authgear.com/claims/user/is_anonymous": False,
        "https://authgear.com/claims/user/is_verified": True,
        "https://authgear.com/claims/user/roles": ["orders_admin"],
    }
    claims.update(changes)
    return issuer.mint(claims, now=clock.now, headers={"typ": "JWT"})


def authgear_machine(issuer: DevIssuer, clock: FakeClock) -> str:
    """A client_credentials token: the API resource as audience, no user claims."""
    return issuer.mint(
        {"aud": "https://api.example.com", "sub": "client_id_c6b4", "scope": "read:orders"},
        now=clock.now,
    )


def test_authgear_user_tokens_pass_with_the_project_endpoint_as_audience(
    named: Any, clock: FakeClock, tmp_path: Path
) -> None:
    issuer = named(AUTHGEAR)
    authorizer = authorizer_for(
        issuer, clock, tmp_path, AUTHGEAR_RULES, JWT_PROVIDER="authgear", JWT_AUDIENCE=""
    )
    assert decide(authorizer, authgear_user(issuer, clock)) == ("allow", "allowed")
    no_role = authgear_user(issuer, clock, **{"https://authgear.com/claims/user/roles": []})
    assert decide(authorizer, no_role) == ("deny", "missing_role")
    other_aud = authgear_user(issuer, clock, aud=["https://other.authgear.cloud"])
    assert decide(authorizer, other_aud) == ("unauthorized", "wrong_audience")


def test_authgear_machine_tokens_carry_the_api_resource_as_audience(
    named: Any, clock: FakeClock, tmp_path: Path
) -> None:
    issuer = named(AUTHGEAR)
    authorizer = authorizer_for(
        issuer,
        clock,
        tmp_path,
        AUTHGEAR_RULES,
        JWT_PROVIDER="authgear",
        JWT_AUDIENCE=f"{AUTHGEAR},https://api.example.com",
    )
    m2m = authgear_machine(issuer, clock)
    assert decide(authorizer, m2m, "GET", "/m2m") == ("allow", "allowed")
    # Machine tokens carry no roles, and the preset's default audience is the issuer.
    assert decide(authorizer, m2m, "GET", "/orders") == ("deny", "missing_role")
    default_audience = authorizer_for(issuer, clock, JWT_PROVIDER="authgear", JWT_AUDIENCE="")
    assert decide(default_audience, m2m) == ("unauthorized", "wrong_audience")
    assert decide(authorizer, authgear_user(issuer, clock)) == ("allow", "allowed")


def test_authgear_can_deny_anonymous_and_unverified_users(named: Any, clock: FakeClock) -> None:
    issuer = named(AUTHGEAR)
    authorizer = authorizer_for(
        issuer,
        clock,
        JWT_PROVIDER="authgear",
        JWT_AUDIENCE="",
        AUTHORIZER_DENY_ANONYMOUS="true",
        AUTHORIZER_REQUIRE_VERIFIED="true",
    )
    assert decide(authorizer, authgear_user(issuer, clock)) == ("allow", "allowed")
    anonymous = authgear_user(
        issuer, clock, **{"https://authgear.com/claims/user/is_anonymous": True}
    )
    assert decide(authorizer, anonymous) == ("deny", "claim_mismatch")
    unverified = authgear_user(
        issuer, clock, **{"https://authgear.com/claims/user/is_verified": False}
    )
    assert decide(authorizer, unverified) == ("deny", "claim_mismatch")
    missing = authgear_user(issuer, clock, **{"https://authgear.com/claims/user/is_verified": None})
    assert decide(authorizer, missing) == ("deny", "claim_mismatch")


def test_authgear_only_options_need_the_authgear_preset() -> None:
    with pytest.raises(ConfigError, match="^AUTHORIZER_DENY_ANONYMOUS needs the authgear provider"):
        load_settings(
            {"JWT_ISSUER": AUTHGEAR, "JWT_AUDIENCE": "a", "AUTHORIZER_DENY_ANONYMOUS": "true"}
        )


# --- Auth0 -------------------------------------------------------------------------------


def test_auth0_issuers_gain_their_trailing_slash_and_permissions_count_as_scopes(
    named: Any, clock: FakeClock, tmp_path: Path
) -> None:
    issuer = named("https://shop.eu.auth0.com/")
    rules = '[[route]]\nmatch = "DELETE /orders/{id}"\nscopes_all = ["delete:orders"]\n'
    authorizer = authorizer_for(
        issuer,
        clock,
        tmp_path,
        rules,
        JWT_PROVIDER="auth0",
        JWT_ISSUER="https://shop.eu.auth0.com",  # as people often write it
        JWT_AUDIENCE="https://api.example.com",
    )
    assert authorizer.issuers[0].settings.issuer == "https://shop.eu.auth0.com/"
    token = issuer.mint(
        {
            "sub": "auth0|64b7f0c2a1",
            "aud": ["https://api.example.com", "https://shop.eu.auth0.com/userinfo"],
            "azp": "Xq8sd7lkZ0",
            "scope": "openid profile",
            "permissions": ["read:orders", "delete:orders"],
        },
        now=clock.now,
    )
    assert decide(authorizer, token, "DELETE", "/orders/9") == ("allow", "allowed")


# --- Cognito -----------------------------------------------------------------------------

COGNITO = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
CLIENT = "3n4b5urk1ft4fl3mg5e62d9ado"


def cognito_access(issuer: DevIssuer, clock: FakeClock, **changes: Any) -> str:
    claims = {
        "sub": "94f8e4a8-7031-70b3-2b6b-4a5e1f2b9c11",
        "cognito:groups": ["admins"],
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin orders/read",
        "auth_time": int(clock.now) - 30,
        "client_id": CLIENT,
        "username": "jane",
        "origin_jti": "6f0b",
        "event_id": "c1a2",
        "version": 2,
    }
    claims.update(changes)
    return issuer.mint(claims, now=clock.now)


def test_cognito_checks_client_id_and_token_use_and_reads_groups(
    named: Any, clock: FakeClock, tmp_path: Path
) -> None:
    issuer = named(COGNITO)
    rules = (
        '[[route]]\nmatch = "ANY /orders"\nroles_any = ["admins"]\nscopes_all = ["orders/read"]\n'
    )
    authorizer = authorizer_for(
        issuer, clock, tmp_path, rules, JWT_PROVIDER="cognito", JWT_AUDIENCE=CLIENT
    )
    assert decide(authorizer, cognito_access(issuer, clock)) == ("allow", "allowed")
    assert decide(authorizer, cognito_access(issuer, clock, client_id="another")) == (
        "unauthorized",
        "wrong_audience",
    )
    assert decide(authorizer, cognito_access(issuer, clock, **{"cognito:groups": ["staff"]})) == (
        "deny",
        "missing_role",
    )
    assert decide(authorizer, cognito_access(issuer, clock, token_use=None)) == (
        "unauthorized",
        "wrong_token_type",
    )


def test_cognito_id_tokens_are_refused(named: Any, clock: FakeClock) -> None:
    issuer = named(COGNITO)
    authorizer = authorizer_for(issuer, clock, JWT_PROVIDER="cognito", JWT_AUDIENCE=CLIENT)
    id_token = issuer.mint(
        {"aud": CLIENT, "token_use": "id", "email": "jane@example.com", "client_id": None},
        now=clock.now,
    )
    assert decide(authorizer, id_token) == ("unauthorized", "wrong_token_type")
    # Even with token_use forged to "access", an aud naming the app client marks an ID token.
    disguised = cognito_access(issuer, clock, aud=CLIENT)
    assert decide(authorizer, disguised) == ("unauthorized", "wrong_token_type")


REPLICATED = "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"


def test_a_replicated_pools_multi_region_issuer_is_one_issuer_for_every_replica(
    named: Any, clock: FakeClock
) -> None:
    # Multi-Region replication: every replica writes the primary region's multi-Region
    # issuer and serves the same keys, so one issuer covers them all (not one per region).
    issuer = named(REPLICATED)
    authorizer = authorizer_for(issuer, clock, JWT_PROVIDER="cognito", JWT_AUDIENCE=CLIENT)
    assert decide(authorizer, cognito_access(issuer, clock)) == ("allow", "allowed")
    # The same pool's original issuer is another issuer, even signed with the same keys.
    original = cognito_access(issuer, clock, iss=COGNITO)
    assert decide(authorizer, original) == ("unauthorized", "wrong_issuer")


@pytest.mark.parametrize(
    ("issuer", "problem"),
    [
        ("https://orders.auth.us-east-1.amazoncognito.com", "is a user pool domain"),
        ("https://auth.example.com.amazoncognito.com/", "is a user pool domain"),
        (COGNITO + "/", "exactly (the pool id, no trailing slash)"),
        ("https://cognito-idp.us-east-1.amazonaws.com", "exactly (the pool id"),
        ("https://cognito-idp.us-east-1.amazonaws.com/AbCdEf123", "exactly (the pool id"),
        ("https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbCdEf123",
         "names region eu-west-1 but the user pool id is from us-east-1"),
        ("https://issuer-cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbCdEf123",
         "names region eu-west-1"),
    ],
)  # fmt: skip
def test_a_cognito_issuer_no_pool_writes_fails_the_cold_start_naming_the_setting(
    issuer: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=r"^JWT_ISSUER ") as caught:
        load_settings({"JWT_ISSUER": issuer, "JWT_AUDIENCE": CLIENT, "JWT_PROVIDER": "cognito"})
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    "issuer",
    [COGNITO, REPLICATED, "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_Ab12",
     "https://cognito-idp-fips.us-gov-west-1.amazonaws.com/us-gov-west-1_Ab12",
     "http://127.0.0.1:8000/local-pool"],
)  # fmt: skip
def test_every_form_a_pool_writes_and_any_other_host_is_accepted(issuer: str) -> None:
    settings = load_settings(
        {"JWT_ISSUER": issuer, "JWT_AUDIENCE": CLIENT, "JWT_PROVIDER": "cognito"}
    )
    assert settings.issuers[0].issuer == issuer


# --- Okta --------------------------------------------------------------------------------


def test_okta_scp_arrays_and_groups(named: Any, clock: FakeClock, tmp_path: Path) -> None:
    issuer = named("https://dev-123456.okta.com/oauth2/default")
    rules = (
        '[[route]]\nmatch = "GET /orders"\nscopes_all = ["orders.read"]\nroles_any = ["Admins"]\n'
    )
    authorizer = authorizer_for(
        issuer, clock, tmp_path, rules, JWT_PROVIDER="okta", JWT_AUDIENCE="api://default"
    )
    token = issuer.mint(
        {
            "ver": 1,
            "aud": "api://default",
            "cid": "0oa1b2c3d4",
            "uid": "00u1a2b3c4",
            "scp": ["openid", "orders.read"],
            "sub": "jane@example.com",
            "groups": ["Everyone", "Admins"],
        },
        now=clock.now,
    )
    assert decide(authorizer, token) == ("allow", "allowed")


# --- Keycloak ----------------------------------------------------------------------------

KEYCLOAK = "https://sso.example.com/realms/shop"


def keycloak_token(issuer: DevIssuer, clock: FakeClock, **changes: Any) -> str:
    claims = {
        "aud": ["orders-api", "account"],
        "typ": "Bearer",
        "azp": "web-shop",
        "sid": "0c7f",
        "scope": "openid email profile",
        "realm_access": {"roles": ["default-roles-shop", "offline_access"]},
        "resource_access": {
            "orders-api": {"roles": ["manager"]},
            "account": {"roles": ["manage-account"]},
        },
        "preferred_username": "jane",
    }
    claims.update(changes)
    return issuer.mint(claims, now=clock.now, headers={"typ": "JWT"})


def test_keycloak_realm_and_client_roles(named: Any, clock: FakeClock, tmp_path: Path) -> None:
    issuer = named(KEYCLOAK)
    rules = (
        '[[route]]\nmatch = "GET /orders"\nroles_any = ["manager"]\n'
        '[[route]]\nmatch = "GET /reports"\nroles_all = ["offline_access", "manager"]\n'
        '[[route]]\nmatch = "GET /account"\nroles_any = ["manage-account"]\n'
    )
    authorizer = authorizer_for(
        issuer, clock, tmp_path, rules, JWT_PROVIDER="keycloak", JWT_AUDIENCE="orders-api"
    )
    token = keycloak_token(issuer, clock)
    assert decide(authorizer, token, "GET", "/orders") == ("allow", "allowed")
    assert decide(authorizer, token, "GET", "/reports") == ("allow", "allowed")
    # Roles of another client (account) are not roles at this API.
    assert decide(authorizer, token, "GET", "/account") == ("deny", "missing_role")


def test_keycloak_id_tokens_and_unmarked_tokens_are_refused(named: Any, clock: FakeClock) -> None:
    issuer = named(KEYCLOAK)
    authorizer = authorizer_for(issuer, clock, JWT_PROVIDER="keycloak", JWT_AUDIENCE="orders-api")
    assert decide(authorizer, keycloak_token(issuer, clock, typ="ID")) == (
        "unauthorized",
        "wrong_token_type",
    )
    assert decide(authorizer, keycloak_token(issuer, clock, typ=None)) == (
        "unauthorized",
        "wrong_token_type",
    )


def test_keycloak_dpop_bound_tokens_say_typ_dpop_and_carry_keycloaks_own_cnf_member(
    named: Any, clock: FakeClock
) -> None:
    """keycloak/keycloak#22244 types DPoP-bound access tokens "DPoP"; cnf gains kc-jkt-type."""
    issuer = named(KEYCLOAK)
    authorizer = authorizer_for(
        issuer, clock, JWT_PROVIDER="keycloak", JWT_AUDIENCE="orders-api",
        JWT_SENDER_CONSTRAINT="either",
    )  # fmt: skip
    key = DpopKey.generate()
    cnf = {"jkt": key.thumbprint, "kc-jkt-type": "JWK"}
    token = keycloak_token(issuer, clock, typ="DPoP", cnf=cnf)
    event = dpop_event(token, key.proof("GET", request_url(), token, now=clock.now))
    decision = authorizer.decide(event)
    assert (decision.outcome, decision.reason) == ("allow", "allowed")
    assert decision.details == {"binding": "dpop"}
    assert decide(authorizer, keycloak_token(issuer, clock, typ="DPoP", cnf=cnf)) == (
        "unauthorized",
        "dpop_missing",
    )
    assert decide(authorizer, keycloak_token(issuer, clock, typ="Refresh")) == (
        "unauthorized",
        "wrong_token_type",
    )


def test_keycloak_audience_can_be_checked_against_azp(named: Any, clock: FakeClock) -> None:
    issuer = named(KEYCLOAK)
    authorizer = authorizer_for(
        issuer, clock, JWT_PROVIDER="keycloak", JWT_AUDIENCE="web-shop", JWT_AUDIENCE_CLAIM="azp"
    )
    assert decide(authorizer, keycloak_token(issuer, clock, aud="account")) == ("allow", "allowed")


# --- Entra ID ----------------------------------------------------------------------------

ENTRA_V2 = f"https://login.microsoftonline.com/{TENANT}/v2.0"
ENTRA_V1 = f"https://sts.windows.net/{TENANT}/"


def test_entra_accepts_v1_and_v2_tokens_of_the_tenant_with_roles_and_scp(
    named: Any, clock: FakeClock, tmp_path: Path
) -> None:
    issuer = named(ENTRA_V2)
    v1_keys = f"/{TENANT}/discovery/keys"  # where Entra publishes the v1 key set
    issuer.responder = lambda path: (
        Reply(200, json.dumps(issuer.jwks()).encode(), {"Content-Type": "application/json"})
        if path == v1_keys
        else None
    )
    rules = (
        '[[route]]\nmatch = "GET /orders"\nscopes_all = ["Orders.Read"]\n'
        '[[route]]\nmatch = "DELETE /orders/{id}"\nroles_any = ["Orders.Admin"]\n'
    )
    fetcher = LoopbackFetcher({"https://login.microsoftonline.com": issuer.base})
    path = tmp_path / "rules.toml"
    path.write_text(rules)
    authorizer = build_authorizer(
        issuer,
        clock,
        fetcher=fetcher,
        JWT_PROVIDER="entra",
        JWT_AUDIENCE="api://orders,6e74172b-be56-4843-9ff4-e66a39bb12e3",
        AUTHORIZER_RULES=str(path),
    )
    assert [t.settings.issuer for t in authorizer.issuers] == [ENTRA_V2, ENTRA_V1]
    v2 = issuer.mint(
        {
            "aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
            "ver": "2.0",
            "tid": TENANT,
            "oid": "b1f0",
            "azp": "c44b",
            "scp": "Orders.Read User.Read",
        },
        now=clock.now,
        headers={"typ": "JWT"},
    )
    v1 = issuer.mint(
        {
            "iss": ENTRA_V1,
            "aud": "api://orders",
            "ver": "1.0",
            "tid": TENANT,
            "appid": "c44b",
            "roles": ["Orders.Admin"],
        },
        now=clock.now,
        headers={"typ": "JWT"},
    )
    assert decide(authorizer, v2, "GET", "/orders") == ("allow", "allowed")
    assert decide(authorizer, v2, "DELETE", "/orders/1") == ("deny", "missing_role")
    assert decide(authorizer, v1, "DELETE", "/orders/1") == ("allow", "allowed")
    assert f"https://login.microsoftonline.com/{TENANT}/discovery/keys" in fetcher.urls


def test_listing_both_entra_issuers_trusts_each_once() -> None:
    settings = load_settings(
        {"JWT_ISSUER": f"{ENTRA_V2},{ENTRA_V1}", "JWT_AUDIENCE": "api://orders",
         "JWT_PROVIDER": "entra"}
    )  # fmt: skip
    assert [issuer.issuer for issuer in settings.issuers] == [ENTRA_V2, ENTRA_V1]
    assert settings.issuers[1].jwks_uri == (
        f"https://login.microsoftonline.com/{TENANT}/discovery/keys"
    )


def test_unknown_providers_are_named() -> None:
    with pytest.raises(
        ConfigError,
        match="^JWT_PROVIDER must be one of generic, authgear, auth0, cognito,",
    ):
        load_settings({"JWT_ISSUER": AUTHGEAR, "JWT_AUDIENCE": "a", "JWT_PROVIDER": "google"})


def test_every_preset_default_can_be_overridden() -> None:
    settings = load_settings(
        {
            "JWT_ISSUER": COGNITO,
            "JWT_AUDIENCE": CLIENT,
            "JWT_PROVIDER": "cognito",
            "JWT_AUDIENCE_CLAIM": "aud",
            "AUTHORIZER_ROLES_CLAIMS": '["custom:team", ["org", "roles"]]',
            "AUTHORIZER_SCOPE_CLAIMS": "scope,scp",
            "JWT_REJECT_ID_TOKENS": "false",
        }
    )
    (issuer,) = settings.issuers
    assert issuer.audience_claim == "aud"
    assert issuer.role_claims == (("custom:team",), ("org", "roles"))
    assert issuer.scope_claims == ("scope", "scp")
    assert issuer.token_use is None


def test_keycloak_access_tokens_may_carry_a_nonce_but_id_tokens_are_still_refused(
    named: Any, clock: FakeClock
) -> None:
    issuer = named(KEYCLOAK)
    authorizer = authorizer_for(issuer, clock, JWT_PROVIDER="keycloak", JWT_AUDIENCE="orders-api")
    allowed = ("allow", "allowed")
    refused = ("unauthorized", "wrong_token_type")
    assert decide(authorizer, keycloak_token(issuer, clock, nonce="n-0S6")) == allowed
    assert decide(authorizer, keycloak_token(issuer, clock, nonce="n", typ="ID")) == refused
    assert decide(authorizer, keycloak_token(issuer, clock, nonce="n", typ=None)) == refused
    assert decide(authorizer, keycloak_token(issuer, clock, nonce="n", at_hash="h")) == refused
    generic = authorizer_for(issuer, clock, JWT_AUDIENCE="orders-api")
    assert decide(generic, keycloak_token(issuer, clock, nonce="n-0S6")) == refused


@pytest.mark.parametrize(
    ("setting", "machine_tokens"),
    [
        ("AUTHORIZER_DENY_ANONYMOUS", ("allow", "allowed")),  # no is_anonymous: not anonymous
        ("AUTHORIZER_REQUIRE_VERIFIED", ("deny", "claim_mismatch")),  # no is_verified: refused
    ],
)
def test_what_each_authgear_user_setting_does_to_machine_tokens(
    named: Any, clock: FakeClock, setting: str, machine_tokens: tuple[str, str]
) -> None:
    """As the README's Authgear walkthrough says: client_credentials tokens carry no user claims."""
    issuer = named(AUTHGEAR)
    env = {
        "JWT_PROVIDER": "authgear",
        "JWT_AUDIENCE": f"{AUTHGEAR},https://api.example.com",
        setting: "true",
    }
    authorizer = authorizer_for(issuer, clock, None, "", **env)
    m2m = authgear_machine(issuer, clock)
    assert decide(authorizer, m2m) == machine_tokens
    assert decide(authorizer, authgear_user(issuer, clock)) == ("allow", "allowed")
