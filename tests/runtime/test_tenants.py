"""Many tenants, one key set: an issuer template, its tenants, and the attacks on it.

The dev issuer plays a multi-tenant provider: every tenant's ``iss`` is
``<issuer>/<tenant>/v2.0``, every one signed with the same keys, served at one
key-set URL. Entra's own strings are used where the preset is tested, with
Microsoft's host sent to the dev issuer on loopback.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from authorizer.claims import issuer_tenant
from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError
from authorizer.gateway.challenges import Challenges
from authorizer.gateway.context import MAX_CONTEXT_BYTES
from authorizer.pipeline import Authorizer
from authorizer.respond import context_budget
from authorizer.wellknown import metadata_document
from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from authorizer_tools.eventgen import make_event
from tests.answers import answer
from tests.conftest import AUDIENCE, FakeClock, LoopbackFetcher, build_authorizer

CONTOSO, FABRIKAM = "contoso", "fabrikam"


def template_env(issuer: DevIssuer, tenants: str = f"{CONTOSO},{FABRIKAM}") -> dict[str, str]:
    return {
        "JWT_ISSUER": f"{issuer.issuer}/{{tenant}}/v2.0",
        "JWT_TENANTS": tenants,
        "JWT_TENANT_CLAIM": "tid",
        "JWT_JWKS_URI": f"{issuer.issuer}/jwks",
    }


def tenant_token(issuer: DevIssuer, clock: FakeClock, tenant: str, **claims: Any) -> str:
    base = {"aud": AUDIENCE, "iss": f"{issuer.issuer}/{tenant}/v2.0", "tid": tenant}
    return issuer.mint({**base, **claims}, now=clock.now)


def decide(
    authorizer: Authorizer, token: str, method: str = "GET", path: str = "/orders"
) -> tuple[int, dict[str, Any]]:
    event = make_event("rest_request", f"Bearer {token}", method=method, path=path)
    answered = answer(authorizer, event)
    return answered.status, answered.response


def test_every_listed_tenant_verifies_with_the_one_key_set(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock, env=template_env(issuer))
    for tenant in (CONTOSO, FABRIKAM):
        status, response = decide(authorizer, tenant_token(issuer, clock, tenant))
        assert status == 200
        assert response["context"]["issuerTenant"] == tenant
        downstream = {"requestContext": {"authorizer": response["context"]}}
        assert issuer_tenant(downstream) == tenant
    assert issuer.fetches() == 1  # one key set for every tenant


@pytest.mark.parametrize(
    ("tenant", "tid", "reason"),
    [
        ("initech", "initech", "unknown_tenant"),  # not listed
        (CONTOSO, FABRIKAM, "tenant_mismatch"),  # tenant confusion: iss says one, tid another
        (CONTOSO, None, "tenant_mismatch"),  # no tid at all
    ],
)
def test_a_tenant_not_listed_or_not_agreed_is_refused_with_its_reason(
    issuer: DevIssuer, clock: FakeClock, tenant: str, tid: str | None, reason: str
) -> None:
    authorizer = build_authorizer(issuer, clock, env=template_env(issuer))
    token = tenant_token(issuer, clock, tenant, tid=tid)
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    assert authorizer.decide(make_event("rest_token", f"Bearer {token}")).reason == reason


@pytest.mark.parametrize(
    "filled",
    ["a/b", "..", ".", "a.b", "@evil.example", "evil.example@", "%2F", "contoso/../fabrikam",
     "", "x" * 65, "cöntoso", "contoso\u200b", "contoso ", "-contoso", "contoso?x=1",
     "contoso#x", "CONTOSO/v2.0/https://evil.example"],
)  # fmt: skip
def test_nothing_but_a_tenant_fills_the_template(
    issuer: DevIssuer, clock: FakeClock, filled: str
) -> None:
    authorizer = build_authorizer(issuer, clock, env=template_env(issuer, "*"))
    token = tenant_token(issuer, clock, filled, tid=filled)
    decision = authorizer.decide(make_event("rest_token", f"Bearer {token}"))
    assert decision.outcome == "unauthorized"
    assert decision.reason == "wrong_issuer"


def test_any_tenant_must_be_said_and_then_takes_every_tenant(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    env = template_env(issuer)
    del env["JWT_TENANTS"]
    with pytest.raises(ConfigError, match="list the tenants it accepts in JWT_TENANTS, or say"):
        load_settings({**env, "JWT_AUDIENCE": AUDIENCE})
    authorizer = build_authorizer(issuer, clock, env=template_env(issuer, "*"))
    assert decide(authorizer, tenant_token(issuer, clock, "a-new-customer"))[0] == 200


def test_a_flood_of_tenants_costs_no_fetch_and_leaves_nothing_behind(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(
        issuer, clock, env={**template_env(issuer, "*"), "AUTHORIZER_TOKEN_CACHE_SIZE": "16"}
    )
    for index in range(500):
        tenant = f"tenant-{index}"
        assert decide(authorizer, tenant_token(issuer, clock, tenant))[0] == 200
        forged = tenant_token(issuer, clock, f"other-{index}", tid="someone-else")
        assert decide(authorizer, forged)[0] == 401
    assert issuer.fetches() == 1  # no tenant asks for keys of its own
    (trusted,) = authorizer.issuers
    assert len(trusted.verifier._cache) <= 16


def test_a_token_of_another_issuer_with_the_same_keys_still_needs_to_fit(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock, env=template_env(issuer, "*"))
    other = issuer.mint({"aud": AUDIENCE, "iss": "https://evil.example/contoso/v2.0",
                         "tid": CONTOSO}, now=clock.now)  # fmt: skip
    assert authorizer.decide(make_event("rest_token", f"Bearer {other}")).reason == "wrong_issuer"


def test_routes_can_be_given_to_some_tenants(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('default = "allow"\n[[route]]\nmatch = "GET /contoso/{any+}"\n'
                     'tenants = ["contoso"]\n')  # fmt: skip
    env = {**template_env(issuer), "AUTHORIZER_RULES": str(rules)}
    authorizer = build_authorizer(issuer, clock, env=env)
    route = "/contoso/reports"
    assert decide(authorizer, tenant_token(issuer, clock, CONTOSO), path=route)[0] == 200
    assert decide(authorizer, tenant_token(issuer, clock, FABRIKAM), path=route)[0] == 403
    fabrikam = f"Bearer {tenant_token(issuer, clock, FABRIKAM)}"
    event = make_event("rest_request", fabrikam, path=route)
    assert authorizer.decide(event).reason == "tenant_not_allowed"
    assert decide(authorizer, tenant_token(issuer, clock, FABRIKAM), path="/other")[0] == 200


def test_the_decision_line_names_the_tenant(issuer: DevIssuer, clock: FakeClock) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, env=template_env(issuer))
    decide(authorizer, tenant_token(issuer, clock, FABRIKAM))
    (line,) = [json.loads(text) for text in log.getvalue().splitlines() if "decision" in text]
    assert line["tenant"] == FABRIKAM
    assert line["issuer"] == f"{issuer.issuer}/{{tenant}}/v2.0"


@pytest.mark.parametrize(
    ("issuer_value", "why"),
    [
        ("https://idp.example/{tenant}{tenant}/v2.0", "holds {tenant} once"),
        ("https://idp.example/t{tenant}/v2.0", "must be a whole path segment or host label"),
        ("https://idp.example/{tenant}x/v2.0", "must be a whole path segment or host label"),
        ("https://idp.example/{tenant}/{other}", "holds {tenant} once, and nothing else"),
    ],
)
def test_a_template_that_could_be_filled_unsafely_fails_the_cold_start(
    issuer_value: str, why: str
) -> None:
    with pytest.raises(ConfigError, match=why.replace("{", r"\{").replace("}", r"\}")):
        load_settings({"JWT_ISSUER": issuer_value, "JWT_TENANTS": "*", "JWT_AUDIENCE": "a",
                       "JWT_JWKS_URI": "https://idp.example/keys"})  # fmt: skip


def test_a_template_needs_its_key_set_and_tenants_need_a_template() -> None:
    with pytest.raises(ConfigError, match="set JWT_JWKS_URI to it"):
        load_settings({"JWT_ISSUER": "https://idp.example/{tenant}", "JWT_TENANTS": "*",
                       "JWT_AUDIENCE": "a"})  # fmt: skip
    with pytest.raises(ConfigError, match="JWT_TENANTS is set, but JWT_ISSUER has no"):
        load_settings({"JWT_ISSUER": "https://idp.example", "JWT_TENANTS": "a",
                       "JWT_AUDIENCE": "a"})  # fmt: skip


def test_the_entra_preset_takes_v1_and_v2_tokens_of_any_listed_tenant_with_common_keys(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    common = "/common/discovery/v2.0/keys"
    issuer.responder = lambda path: (
        Reply(200, json.dumps(issuer.jwks()).encode(), {"Content-Type": "application/json"})
        if path in (common, "/common/discovery/keys")
        else None
    )
    fetcher = LoopbackFetcher({"https://login.microsoftonline.com": issuer.base})
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    authorizer = build_authorizer(
        issuer, clock, fetcher=fetcher,
        env={"JWT_PROVIDER": "entra", "JWT_ISSUER": "https://login.microsoftonline.com/{tenant}/v2.0",
             "JWT_TENANTS": tenant, "JWT_AUDIENCE": "api://orders"},
    )  # fmt: skip
    assert [t.settings.jwks_uri for t in authorizer.issuers] == [
        "https://login.microsoftonline.com/common/discovery/v2.0/keys",
        "https://login.microsoftonline.com/common/discovery/keys",
    ]
    for iss in (f"https://login.microsoftonline.com/{tenant}/v2.0",
                f"https://sts.windows.net/{tenant}/"):  # fmt: skip
        token = issuer.mint({"aud": "api://orders", "iss": iss, "tid": tenant}, now=clock.now,
                            headers={"typ": "JWT"})  # fmt: skip
        assert decide(authorizer, token)[0] == 200, iss
    other = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
    spliced = issuer.mint({"aud": "api://orders", "iss": f"https://sts.windows.net/{tenant}/",
                           "tid": other}, now=clock.now)  # fmt: skip
    assert authorizer.decide(make_event("rest_token", f"Bearer {spliced}")).reason == (
        "tenant_mismatch"
    )


def test_the_context_keeps_room_for_the_tenant_beside_a_resources_challenges() -> None:
    challenges = Challenges("https://api.example.com/mcp/.well-known/oauth-protected-resource")
    both = context_budget(None, challenges=challenges, tenants=True)
    alone = context_budget(None, challenges=challenges)
    assert alone - both == len("issuerTenant") + 72  # each reserve kept, none replacing another
    assert MAX_CONTEXT_BYTES - context_budget(None, tenants=True) == len("issuerTenant") + 72


def test_a_protected_resources_metadata_names_no_issuer_template(issuer: DevIssuer) -> None:
    env = {**template_env(issuer), "AUTHORIZER_RESOURCE": "https://api.example.com/mcp"}
    document = metadata_document(load_settings(env))
    assert "authorization_servers" not in document  # no {tenant} URL a client cannot use
