"""The API as an OAuth protected resource: tokens bound to it, and the challenges it answers with.

Each test builds the authorizer from the settings a user types, runs real events
through it, and reads what API Gateway would: the status its IAM evaluation
gives, and the context a gateway response maps into ``WWW-Authenticate``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from authorizer.claims import challenge, claims_from_event
from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError, InsufficientScope
from authorizer.gateway.challenges import MAX_CHALLENGE, Challenges
from authorizer.pipeline import Authorizer
from authorizer.wellknown import MetadataServer, metadata_document
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event
from authorizer_tools.local.gateway import status_of
from tests import ROOT
from tests.answers import answer
from tests.conftest import FakeClock, build_authorizer, mint
from tests.processes import clean_environment, results, run_handler

RESOURCE = "https://api.example.com/mcp"
METADATA = "https://api.example.com/mcp/.well-known/oauth-protected-resource"
AS_RESOURCE = {"JWT_AUDIENCE": "", "AUTHORIZER_RESOURCE": RESOURCE}
RULES = str(ROOT / "rules" / "example.toml")


def settings_for(**env: str) -> Any:
    return load_settings({"JWT_ISSUER": "https://idp.example", **env})


# --- the resource's identifier, as tokens name it ---------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("https://API.example.com/mcp", RESOURCE),
        ("https://api.example.com/mcp/", RESOURCE),
        ("https://api.example.com:443/mcp", RESOURCE),
        ("https://api.example.com/", "https://api.example.com"),
    ],
)
def test_a_resource_not_written_canonically_fails_the_cold_start_naming_the_form(
    written: str, canonical: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(AUTHORIZER_RESOURCE=written)
    message = str(caught.value)
    assert message.startswith(f"AUTHORIZER_RESOURCE must be written canonically, as tokens will "
                              f"name it: {canonical!r}, not {written!r}")  # fmt: skip
    assert message.endswith("[template parameter Resource]")


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("http://api.example.com/mcp", "must be an https URI (http only on loopback)"),
        ("https://api.example.com/mcp#tools", "must not have a fragment (RFC 8707 section 2)"),
        ("https://api.example.com/mcp?tenant=a", "must not have a query"),
        ("https://user@api.example.com/mcp", "must name a host and nothing before it"),
        ("api.example.com/mcp", "must be an https URI"),
    ],
)
def test_a_resource_that_is_no_resource_identifier_fails_the_cold_start(
    written: str, why: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^AUTHORIZER_RESOURCE {re.escape(why)}"):
        settings_for(AUTHORIZER_RESOURCE=written)


def test_the_metadata_url_defaults_to_the_well_known_path_under_the_resource() -> None:
    # Under the resource, it reaches the API behind any stage or base path; at the root of
    # a host it is RFC 9728's own form.
    assert settings_for(AUTHORIZER_RESOURCE=RESOURCE).resource.metadata_url == METADATA
    root = settings_for(AUTHORIZER_RESOURCE="https://api.example.com").resource
    assert root.metadata_url == "https://api.example.com/.well-known/oauth-protected-resource"
    local = settings_for(AUTHORIZER_RESOURCE="http://127.0.0.1:3000/mcp").resource
    assert local.metadata_url == "http://127.0.0.1:3000/mcp/.well-known/oauth-protected-resource"


def test_a_metadata_url_is_checked_like_the_resource() -> None:
    stage = "https://abc123.execute-api.eu-west-1.amazonaws.com/Prod"
    given = f"{stage}/.well-known/oauth-protected-resource/mcp"
    resource = settings_for(AUTHORIZER_RESOURCE=f"{stage}/mcp",
                            AUTHORIZER_RESOURCE_METADATA_URL=given).resource  # fmt: skip
    assert resource.metadata_url == given
    with pytest.raises(ConfigError, match="must be a /.well-known/oauth-protected-resource path"):
        settings_for(
            AUTHORIZER_RESOURCE=RESOURCE,
            AUTHORIZER_RESOURCE_METADATA_URL="https://api.example.com/metadata",
        )
    with pytest.raises(ConfigError, match="AUTHORIZER_RESOURCE_METADATA_URL is set, but"):
        settings_for(AUTHORIZER_RESOURCE_METADATA_URL=METADATA)


def test_another_audience_beside_the_resource_fails_the_cold_start() -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(AUTHORIZER_RESOURCE=RESOURCE, JWT_AUDIENCE=f"{RESOURCE},api://orders")
    assert "so JWT_AUDIENCE must be unset or the same, got 'api://orders'" in str(caught.value)
    same = settings_for(AUTHORIZER_RESOURCE=RESOURCE, JWT_AUDIENCE=RESOURCE)
    assert same.issuers[0].audiences == (RESOURCE,)


def test_a_preset_that_reads_the_audience_elsewhere_cannot_bind_tokens_to_a_resource() -> None:
    with pytest.raises(ConfigError, match="reads the audience from client_id"):
        load_settings({"JWT_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12",
                       "JWT_PROVIDER": "cognito", "AUTHORIZER_RESOURCE": RESOURCE})  # fmt: skip


def test_issuer_tables_without_an_audience_take_the_resource(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[issuer]]\nissuer = "https://a.example"\n[[issuer]]\n'
                     'issuer = "https://b.example"\naudiences = ["api://b"]\n')  # fmt: skip
    with pytest.raises(ConfigError, match=r"issuer 2: audiences must be unset or the same"):
        load_settings({"AUTHORIZER_RULES": str(rules), "AUTHORIZER_RESOURCE": RESOURCE})
    rules.write_text('[[issuer]]\nissuer = "https://a.example"\n')
    settings = load_settings({"AUTHORIZER_RULES": str(rules), "AUTHORIZER_RESOURCE": RESOURCE})
    assert settings.issuers[0].audiences == (RESOURCE,)


@pytest.mark.parametrize(
    ("aud", "status"),
    [
        (RESOURCE, 200),
        ([RESOURCE, "https://idp.example/userinfo"], 200),
        ("https://api.example.com/mcp/", 401),  # never normalised: compared exactly
        ("https://API.example.com/mcp", 401),
        ("https://api.example.com", 401),  # the origin is another resource
        ("https://api.example.com/mcp/tools", 401),
        ("https://api.example.test", 401),
    ],
)
def test_only_tokens_for_the_resource_are_accepted(
    issuer: DevIssuer, clock: FakeClock, aud: object, status: int
) -> None:
    authorizer = build_authorizer(issuer, clock, env=AS_RESOURCE)
    event = make_event("rest_token", f"Bearer {mint(issuer, clock, aud=aud)}")
    assert answer(authorizer, event).status == status


# --- challenges ---------------------------------------------------------------------------------


def challenge_of(authorizer: Authorizer, event: dict[str, Any]) -> str | None:
    context = answer(authorizer, event).response.get("context", {})
    challenge = context.get("wwwAuthenticate")
    return challenge if isinstance(challenge, str) else None


def test_a_token_without_the_required_scope_gets_a_403_naming_the_scopes(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    env = {**AS_RESOURCE, "JWT_REQUIRED_SCOPES": "tools:call tools:list"}
    authorizer = build_authorizer(issuer, clock, env=env)
    event = make_event("rest_token", f"Bearer {mint(issuer, clock, aud=RESOURCE, scope='x')}")
    assert answer(authorizer, event).status == 403
    assert challenge_of(authorizer, event) == (
        f'Bearer error="insufficient_scope", scope="tools:call tools:list", '
        f'resource_metadata="{METADATA}"'
    )
    token = mint(issuer, clock, aud=RESOURCE, scope="tools:call tools:list")
    allowed = answer(authorizer, make_event("rest_token", f"Bearer {token}"))
    assert allowed.status == 200
    assert "wwwAuthenticate" not in allowed.response["context"]  # nothing here can be denied


def test_a_cached_policy_carries_a_challenge_right_for_every_route_it_denies(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    env = {**AS_RESOURCE, "AUTHORIZER_RULES": RULES, "AUTHORIZER_ROLES_CLAIMS": "roles"}
    authorizer = build_authorizer(issuer, clock, env=env)
    token = mint(issuer, clock, aud=RESOURCE, scope="orders:read")
    # The first request is allowed; API Gateway caches its policy for the token and
    # answers the next request, to a route the policy denies, from it: the challenge
    # that 403 shows is the one this policy carries.
    first = answer(authorizer, make_event("rest_token", f"Bearer {token}", method="GET",
                                          path="/orders/7"))  # fmt: skip
    assert first.status == 200
    reused = first.response
    post = make_event("rest_request", f"Bearer {token}", method="POST", path="/orders")
    assert status_of(reused, post["methodArn"]) == 403
    assert reused["context"]["wwwAuthenticate"] == (
        f'Bearer error="insufficient_scope", scope="orders:write", resource_metadata="{METADATA}"'
    )


def test_a_step_up_rule_alone_asks_for_a_recent_authentication(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('default = "deny"\n[[route]]\nmatch = "POST /payments"\nmax_auth_age = 300\n')
    authorizer = build_authorizer(
        issuer, clock, env={**AS_RESOURCE, "AUTHORIZER_RULES": str(rules)}
    )
    token = mint(issuer, clock, aud=RESOURCE, auth_time=int(clock.now) - 3600)
    event = make_event("rest_request", f"Bearer {token}", method="POST", path="/payments")
    assert answer(authorizer, event).status == 403
    assert challenge_of(authorizer, event) == (
        f'Bearer error="insufficient_user_authentication", max_age=300, '
        f'resource_metadata="{METADATA}"'
    )


def test_an_acr_rule_asks_for_one_of_its_authentication_classes(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('default = "deny"\n[[route]]\nmatch = "POST /payments"\nmax_auth_age = 300\n'
                     'claims = [{ claim = "acr", in = ["urn:mfa", "urn:phr"] }]\n')  # fmt: skip
    env = {**AS_RESOURCE, "AUTHORIZER_RULES": str(rules)}
    authorizer = build_authorizer(issuer, clock, env=env)
    token = mint(issuer, clock, aud=RESOURCE, auth_time=int(clock.now), acr="urn:pwd")
    event = make_event("rest_request", f"Bearer {token}", method="POST", path="/payments")
    assert answer(authorizer, event).status == 403
    assert challenge_of(authorizer, event) == (
        f'Bearer error="insufficient_user_authentication", acr_values="urn:mfa urn:phr", '
        f'max_age=300, resource_metadata="{METADATA}"'
    )  # the class failed first; the new sign-in must also be recent enough for the route
    recent = mint(issuer, clock, aud=RESOURCE, auth_time=int(clock.now) - 900, acr="urn:mfa")
    event = make_event("rest_request", f"Bearer {recent}", method="POST", path="/payments")
    assert 'acr_values="urn:mfa urn:phr", max_age=300' in str(challenge_of(authorizer, event))


def test_where_dpop_is_taken_the_challenge_offers_both_schemes(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    env = {**AS_RESOURCE, "JWT_REQUIRED_SCOPES": "tools:call", "JWT_SENDER_CONSTRAINT": "either",
           "AUTHORIZER_DPOP_ALGORITHMS": "ES256,EdDSA"}  # fmt: skip
    authorizer = build_authorizer(issuer, clock, env=env)
    event = make_event("rest_request", f"Bearer {mint(issuer, clock, aud=RESOURCE)}")
    assert challenge_of(authorizer, event) == (
        f'Bearer error="insufficient_scope", scope="tools:call", resource_metadata="{METADATA}", '
        f'DPoP algs="ES256 EdDSA", error="insufficient_scope", scope="tools:call", '
        f'resource_metadata="{METADATA}"'
    )
    only = build_authorizer(issuer, clock, env={**env, "JWT_SENDER_CONSTRAINT": "dpop"})
    assert Challenges(METADATA, bearer=False, dpop_algorithms=("ES256",)).unauthorized() == (
        f'DPoP algs="ES256", resource_metadata="{METADATA}"'
    )
    assert only.settings.resource is not None


def test_a_claim_cannot_pose_as_the_challenge(issuer: DevIssuer, clock: FakeClock) -> None:
    env = {**AS_RESOURCE, "AUTHORIZER_RULES": RULES, "AUTHORIZER_ROLES_CLAIMS": "roles"}
    authorizer = build_authorizer(issuer, clock, env=env)
    token = mint(issuer, clock, aud=RESOURCE, scope="orders:write",
                 wwwAuthenticate='Bearer resource_metadata="https://evil.example"')  # fmt: skip
    answered = answer(authorizer, make_event("rest_token", f"Bearer {token}"))
    assert "evil" not in answered.response["context"]["wwwAuthenticate"]
    assert "wwwAuthenticate" in answered.response["context"]["droppedClaims"]


def test_without_a_resource_no_response_carries_a_challenge(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock, env={"JWT_REQUIRED_SCOPES": "tools:call"})
    event = make_event("rest_token", f"Bearer {mint(issuer, clock)}")
    assert answer(authorizer, event).status == 403
    assert challenge_of(authorizer, event) is None


def test_the_401_challenge_names_no_error_and_the_metadata() -> None:
    assert Challenges(METADATA).unauthorized() == f'Bearer resource_metadata="{METADATA}"'


def test_a_challenge_too_long_for_its_budget_drops_its_scope() -> None:
    scopes = frozenset(f"scope-{index:04d}" for index in range(200))
    text = Challenges(METADATA).denied([InsufficientScope("x", scopes=scopes)])
    assert len(text) <= MAX_CHALLENGE
    assert text == f'Bearer error="insufficient_scope", resource_metadata="{METADATA}"'


def test_a_quote_in_a_url_is_escaped_and_a_control_character_refused() -> None:
    assert (
        'resource_metadata="https://a.example/x\\"y"'
        in Challenges('https://a.example/x"y').unauthorized()
    )
    with pytest.raises(ValueError, match="control characters"):
        Challenges("https://a.example/\n").unauthorized()


# --- the metadata document and its route ----------------------------------------------------


def test_the_metadata_says_what_the_authorizer_enforces() -> None:
    settings = settings_for(AUTHORIZER_RESOURCE=RESOURCE, AUTHORIZER_RULES=RULES,
                            AUTHORIZER_ROLES_CLAIMS="roles", JWT_REQUIRED_SCOPES="mcp")  # fmt: skip
    assert metadata_document(settings) == {
        "resource": RESOURCE,
        "authorization_servers": ["https://idp.example"],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["mcp", "orders:admin", "orders:read", "orders:write"],
    }
    dpop = settings_for(AUTHORIZER_RESOURCE=RESOURCE, JWT_SENDER_CONSTRAINT="dpop",
                        AUTHORIZER_DPOP_ALGORITHMS="ES256")  # fmt: skip
    document = metadata_document(dpop)
    assert document["dpop_signing_alg_values_supported"] == ["ES256"]
    assert document["dpop_bound_access_tokens_required"] is True
    assert "scopes_supported" not in document  # no rule asks for one
    with pytest.raises(ConfigError, match="AUTHORIZER_RESOURCE is required to serve"):
        metadata_document(settings_for(JWT_AUDIENCE="api://x"))


@pytest.mark.parametrize("kind", ["rest_request", "http_v1", "http_v2"])
def test_the_metadata_route_answers_get_on_both_well_known_forms(kind: str) -> None:
    server = MetadataServer(settings_for(AUTHORIZER_RESOURCE=RESOURCE))
    for path in ("/.well-known/oauth-protected-resource",
                 "/.well-known/oauth-protected-resource/mcp"):  # fmt: skip
        response = server.answer(proxy_event(kind, "GET", path))
        assert response["statusCode"] == 200
        assert json.loads(response["body"])["resource"] == RESOURCE
        assert response["headers"] == {"Content-Type": "application/json",
                                       "Cache-Control": "public, max-age=3600"}  # fmt: skip
    head = server.answer(proxy_event(kind, "HEAD", "/.well-known/oauth-protected-resource"))
    assert (head["statusCode"], head["body"]) == (200, "")
    post = server.answer(proxy_event(kind, "POST", "/.well-known/oauth-protected-resource"))
    assert (post["statusCode"], post["headers"]["Allow"]) == (405, "GET, HEAD")
    other = server.answer(proxy_event(kind, "GET", "/.well-known/openid-configuration"))
    assert other["statusCode"] == 404


def proxy_event(kind: str, method: str, path: str) -> dict[str, Any]:
    """A proxy integration's event, as API Gateway sends it for ``method path``."""
    if kind == "http_v2":
        return {"version": "2.0", "rawPath": path, "requestContext": {"http": {"method": method}}}
    version = {"version": "1.0"} if kind == "http_v1" else {}
    return {**version, "httpMethod": method, "path": path, "requestContext": {"path": path}}


def test_the_authorizer_function_serves_its_metadata_beside_its_decisions(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    # An API attached to the function routes its well-known path to it as a proxy
    # integration: one process answers the metadata, then decides, then answers again.
    env = {"JWT_ISSUER": issuer.issuer, "AUTHORIZER_RESOURCE": RESOURCE,
           "JWT_REQUIRED_SCOPES": "tools:call"}  # fmt: skip
    token = issuer.mint({"aud": RESOURCE, "scope": "tools:call"})
    well_known = proxy_event("http_v2", "GET", "/.well-known/oauth-protected-resource/mcp")
    process = run_handler(env, [well_known, make_event("rest_token", f"Bearer {token}"),
                                proxy_event("rest_request", "GET", "/orders")])  # fmt: skip
    served, decided, other = results(process)
    assert served["response"]["statusCode"] == 200
    document = json.loads(served["response"]["body"])
    assert document["resource"] == RESOURCE and document["scopes_supported"] == ["tools:call"]
    assert decided["response"]["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert other["response"]["statusCode"] == 404
    lines = [line for line in process.stdout.splitlines() if "authorization decision" in line]
    assert len(lines) == 1  # the metadata requests are no decisions: no line, no metric


# --- the integration's own challenges -------------------------------------------------------


@pytest.mark.parametrize("kind", ["rest_request", "http_v1", "http_v2"])
def test_an_integration_challenges_with_the_metadata_the_authorizer_passed(
    issuer: DevIssuer, clock: FakeClock, kind: str
) -> None:
    authorizer = build_authorizer(issuer, clock, env=AS_RESOURCE)
    token = mint(issuer, clock, aud=RESOURCE, scope="tools:call")
    context = answer(authorizer, make_event(kind, f"Bearer {token}")).response["context"]
    assert context["resourceMetadata"] == METADATA
    event = downstream_event(kind, context)
    assert "resourceMetadata" not in claims_from_event(event)  # not a claim
    assert challenge(event, scopes=["tools:call", "tools:admin", "tools:call"]) == {
        "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="tools:call tools:admin", '
        f'resource_metadata="{METADATA}"'
    }


def test_without_a_resource_an_integration_challenges_without_metadata(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock)
    context = answer(authorizer, make_event("http_v2", f"Bearer {mint(issuer, clock)}")).response
    event = downstream_event("http_v2", context["context"])
    assert challenge(event) == {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}
    assert challenge({}, scopes=["a"]) == {
        "WWW-Authenticate": 'Bearer error="insufficient_scope", scope="a"'
    }


def downstream_event(kind: str, context: dict[str, Any]) -> dict[str, Any]:
    """The integration's event for an allowed request, as API Gateway passes the context."""
    if kind == "http_v2":
        return {"requestContext": {"authorizer": {"lambda": context}}}
    stringified = {k: v if isinstance(v, str) else json.dumps(v) for k, v in context.items()}
    return {"requestContext": {"authorizer": stringified}}


def test_the_metadata_entry_point_serves_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from authorizer import wellknown

    monkeypatch.setattr(wellknown, "_SERVER", None)
    for name in [name for name in os.environ if name.startswith(("JWT_", "AUTHORIZER_"))]:
        monkeypatch.delenv(name)  # what the suite's own process set for the app module
    monkeypatch.setenv("JWT_ISSUER", "https://idp.example")
    monkeypatch.setenv("AUTHORIZER_RESOURCE", RESOURCE)
    event = proxy_event("http_v2", "GET", "/.well-known/oauth-protected-resource")
    answered = wellknown.lambda_handler(event, None)
    assert json.loads(answered["body"])["resource"] == RESOURCE
    monkeypatch.delenv("AUTHORIZER_RESOURCE")  # built once: the environment's first server stays
    assert wellknown.lambda_handler(event, None)["statusCode"] == 200


def test_the_metadata_function_fails_its_cold_start_without_a_resource() -> None:
    # In a Lambda runtime the server is built at import, as the runtime initialises.
    probe = "import authorizer.wellknown"
    env = {**clean_environment(), "PYTHONPATH": str(ROOT), "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
           "JWT_ISSUER": "https://idp.example", "JWT_AUDIENCE": "api"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          check=False, timeout=60)  # fmt: skip
    assert done.returncode != 0
    assert "AUTHORIZER_RESOURCE is required to serve the resource's metadata" in done.stderr
