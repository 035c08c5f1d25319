"""Route rules end to end: a rules file, a real issuer, every API kind, and the cached policy.

The policy a token gets for one route is what API Gateway caches and applies
to the token's next requests on any route, so the central property is checked
directly: for every pair of routes, the policy returned for the first,
evaluated by IAM's rules (``tests/iam.py``) for the second, gives the same
answer as a fresh evaluation of the second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authorizer.access import routes
from authorizer.access.routes import Coverage, coverage, route_key_steps, rule_steps
from authorizer.pipeline import Authorizer
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event, method_arn
from authorizer_tools.local.apis import Route
from authorizer_tools.local.gateway import status_of
from tests.answers import status
from tests.conftest import FakeClock, build_authorizer, mint

RULES = """
default = "deny"

[[route]]
name = "read orders"
match = ["GET /orders", "GET /orders/{id}"]
scopes_any = ["orders:read", "orders:admin"]

[[route]]
match = "POST /orders"
scopes_all = ["orders:write", "orders:read"]

[[route]]
match = "DELETE /orders/{id}"
roles_any = ["admin"]
max_auth_age = 300

[[route]]
match = "ANY /admin/*"
roles_all = ["admin", "staff"]

[[route]]
match = "GET /tenants/{tenant}/reports"
claims = [
  { claim = "tenant_tier", in = ["gold", "silver"] },
  { claim = ["org", "verified"], equals = true },
]

[[route]]
match = "$connect"
scopes_all = ["chat"]
"""


def write_rules(tmp_path: Path, text: str, name: str = "rules.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def rules_env(tmp_path: Path) -> dict[str, str]:
    # Simple responses answer for their own request: the API's authorizer cache is off.
    return {
        "AUTHORIZER_RULES": write_rules(tmp_path, RULES),
        "AUTHORIZER_ROLES_CLAIMS": "roles",
        "AUTHORIZER_SIMPLE_RESPONSE_CACHE": "off",
    }


def answer(authorizer: Authorizer, kind: str, token: str, method: str, path: str) -> int:
    """What API Gateway would answer: 200, 401 or 403."""
    return status(authorizer, make_event(kind, f"Bearer {token}", method=method, path=path))


KINDS = ["rest_token", "rest_request", "http_v1", "http_v2", "http_v2_iam"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("claims", "method", "path", "expected"),
    [
        ({"scope": "orders:read"}, "GET", "/orders", 200),
        ({"scope": "orders:admin"}, "GET", "/orders/42", 200),
        ({"scope": "profile"}, "GET", "/orders/42", 403),
        ({"scope": "orders:read orders:write"}, "POST", "/orders", 200),
        ({"scope": "orders:write"}, "POST", "/orders", 403),
        ({"roles": ["admin"], "auth_time": "fresh"}, "DELETE", "/orders/42", 200),
        ({"roles": ["admin"], "auth_time": "stale"}, "DELETE", "/orders/42", 403),
        ({"roles": ["admin"]}, "DELETE", "/orders/42", 403),
        ({"roles": ["staff"], "auth_time": "fresh"}, "DELETE", "/orders/42", 403),
        ({"roles": ["admin", "staff"]}, "PUT", "/admin/users/7", 200),
        ({"roles": ["admin"]}, "PUT", "/admin/users/7", 403),
        ({"roles": "admin"}, "GET", "/admin/x", 403),
        ({"tenant_tier": "gold", "org": {"verified": True}}, "GET", "/tenants/t1/reports", 200),
        ({"tenant_tier": ["bronze", "silver"], "org": {"verified": True}}, "GET",
         "/tenants/t1/reports", 200),
        ({"tenant_tier": "bronze", "org": {"verified": True}}, "GET", "/tenants/t1/reports",
         403),
        ({"tenant_tier": "gold", "org": {"verified": 1}}, "GET", "/tenants/t1/reports", 403),
        ({"tenant_tier": "gold"}, "GET", "/tenants/t1/reports", 403),
        ({"scope": "orders:read"}, "GET", "/unlisted", 403),
        ({"scope": "orders:read"}, "PATCH", "/orders", 403),
    ],
)  # fmt: skip
def test_every_rule_kind_on_every_api_kind(  # noqa: PLR0917 - pytest passes them by position
    issuer: DevIssuer,
    clock: FakeClock,
    rules_env: dict[str, str],
    kind: str,
    claims: dict[str, Any],
    method: str,
    path: str,
    expected: int,
) -> None:
    if kind == "http_v2_iam":  # HTTP API payload 2.0 answered with IAM policies
        rules_env = {**rules_env, "AUTHORIZER_HTTP_API_RESPONSE": "iam"}
        kind = "http_v2"
    authorizer = build_authorizer(issuer, clock, env=rules_env)
    ages = {"fresh": clock.now - 60, "stale": clock.now - 301}
    if "auth_time" in claims:
        claims = {**claims, "auth_time": int(ages[claims["auth_time"]])}
    token = mint(issuer, clock, **claims)
    assert answer(authorizer, kind, token, method, path) == expected


def test_websocket_connect_routes_are_matched_by_route_key(
    issuer: DevIssuer, clock: FakeClock, rules_env: dict[str, str]
) -> None:
    authorizer = build_authorizer(issuer, clock, env=rules_env)
    assert answer(authorizer, "websocket", mint(issuer, clock, scope="chat"), "GET", "") == 200
    assert answer(authorizer, "websocket", mint(issuer, clock, scope="x"), "GET", "") == 403


def test_a_denied_route_still_gets_the_whole_policy_with_its_context(
    issuer: DevIssuer, clock: FakeClock, rules_env: dict[str, str]
) -> None:
    authorizer = build_authorizer(issuer, clock, env=rules_env)
    token = mint(issuer, clock, scope="orders:read")
    event = make_event("rest_token", f"Bearer {token}", method="POST", path="/orders")
    decision = authorizer.decide(event)
    assert (decision.outcome, decision.reason) == ("deny", "insufficient_scope")
    response = authorizer.handle(event)
    prefix = method_arn("", "")
    allow, deny = response["policyDocument"]["Statement"]
    assert (allow["Effect"], deny["Effect"]) == ("Allow", "Deny")
    assert allow["Resource"] == [prefix + "GET/orders", prefix + "GET/orders/*"]
    assert prefix + "POST/orders" in deny["Resource"]
    assert prefix + "*/admin/*" in deny["Resource"]
    assert response["context"]["sub"] == "user-123"  # the cached policy allows GET /orders


def test_max_auth_age_is_checked_again_as_time_passes_even_for_a_cached_token(
    issuer: DevIssuer, clock: FakeClock, rules_env: dict[str, str]
) -> None:
    authorizer = build_authorizer(issuer, clock, env=rules_env)
    token = mint(issuer, clock, roles=["admin"], auth_time=int(clock.now) - 200)
    assert answer(authorizer, "rest_token", token, "DELETE", "/orders/1") == 200
    clock.advance(101)  # the token is still valid; its authentication is now 301 s old
    assert answer(authorizer, "rest_token", token, "DELETE", "/orders/1") == 403
    decision = authorizer.decide(make_event("rest_token", f"Bearer {token}", method="DELETE"))
    assert decision.reason in ("authentication_too_old", "no_matching_route")


def test_with_default_allow_unlisted_routes_need_only_a_valid_token(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    rules = 'default = "allow"\n[[route]]\nmatch = "ANY /admin/*"\nroles_any = ["admin"]\n'
    env = {"AUTHORIZER_RULES": write_rules(tmp_path, rules), "AUTHORIZER_ROLES_CLAIMS": "roles"}
    authorizer = build_authorizer(issuer, clock, env=env)
    token = mint(issuer, clock)
    assert answer(authorizer, "rest_token", token, "GET", "/anything") == 200
    assert answer(authorizer, "rest_token", token, "GET", "/admin/x") == 403
    admin = mint(issuer, clock, roles=["admin"])
    assert answer(authorizer, "rest_token", admin, "GET", "/admin/x") == 200


def test_an_issuer_wide_failure_denies_the_whole_stage(
    issuer: DevIssuer, clock: FakeClock, rules_env: dict[str, str]
) -> None:
    authorizer = build_authorizer(issuer, clock, env={**rules_env, "JWT_REQUIRED_SCOPES": "api"})
    token = mint(issuer, clock, scope="orders:read")
    response = authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    assert response["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": method_arn("", "") + "*"}
    ]
    assert "context" not in response


def test_rules_written_as_json_behave_like_toml(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    document = {"route": [{"match": "GET /orders", "scopes_all": ["orders:read"]}]}
    path = write_rules(tmp_path, json.dumps(document), "rules.json")
    authorizer = build_authorizer(
        issuer, clock, AUTHORIZER_RULES=path, AUTHORIZER_SIMPLE_RESPONSE_CACHE="off"
    )
    assert answer(authorizer, "http_v2", mint(issuer, clock, scope="orders:read"), "GET",
                  "/orders") == 200  # fmt: skip
    assert answer(authorizer, "http_v2", mint(issuer, clock), "GET", "/orders") == 403


# --- the cached-policy property ----------------------------------------------------------

REQUESTS = [
    ("GET", "/"),
    ("GET", "/orders"),
    ("GET", "/orders/42"),
    ("GET", "/orders/42/items"),
    ("POST", "/orders"),
    ("DELETE", "/orders/42"),
    ("GET", "/admin/users"),
    ("PUT", "/admin/users/7"),
    ("PATCH", "/profile"),
]
PATTERNS = [
    "GET /",
    "GET /orders",
    "GET /orders/{id}",
    "GET /orders/{id}/items",
    "POST /orders",
    "DELETE /orders/{id}",
    "ANY /admin/*",
    "GET /admin/users",
    "* /orders/*",
    "ANY /{proxy+}",
]
#: HTTP API route keys, as API Gateway sends them: each serves the requests it matches.
ROUTE_KEYS = [
    "$default",
    "ANY /{proxy+}",
    "ANY /orders/{id}",
    "GET /orders/{id}",
    "DELETE /orders/{id}",
    "ANY /orders",
    "GET /orders/{id}/items",
    "ANY /admin/{proxy+}",
    "PUT /admin/users/{id}",
]


def serves(route_key: str, method: str, path: str) -> bool:
    """Whether an HTTP API route with this key serves ``method path`` (as API Gateway would)."""
    if route_key == "$default":
        return True
    route_method, _, template = route_key.partition(" ")
    return Route(route_method, template, "function").matches(method, path) is not None


REQUIREMENTS = [
    "",
    'scopes_all = ["a"]',
    'scopes_all = ["a", "b"]',
    'scopes_any = ["b", "c"]',
    'roles_any = ["admin"]',
    'roles_all = ["admin", "staff"]',
    'claims = [{ claim = "tenant", equals = "acme" }]',
    'claims = [{ claim = "tier", in = ["gold", "silver"] }]',
    "max_auth_age = 300",
]

rule_sets = st.tuples(
    st.sampled_from(["deny", "allow"]),
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3, unique=True),
            # At most one requirement of each kind (a TOML table has each key once).
            st.lists(
                st.sampled_from(REQUIREMENTS), max_size=2, unique_by=lambda r: r.split(" ")[0]
            ),
        ),
        min_size=1,
        max_size=6,
    ),
)
subjects = st.fixed_dictionaries(
    {
        "scope": st.lists(st.sampled_from(["a", "b", "c"]), unique=True).map(" ".join),
        "roles": st.lists(st.sampled_from(["admin", "staff"]), unique=True),
        "tenant": st.sampled_from(["acme", "other", None]),
        "tier": st.sampled_from(["gold", "bronze", None]),
        "auth_age": st.sampled_from([None, 10, 1000]),
    }
)


def rules_text(default: str, routes: list[tuple[list[str], list[str]]]) -> str:
    lines = [f'default = "{default}"']
    for patterns, requirements in routes:
        lines.append("[[route]]")
        lines.append(f"match = {json.dumps(patterns)}")
        lines.extend(requirement for requirement in requirements if requirement)
    return "\n".join(lines) + "\n"


@given(rule_set=rule_sets, subject=subjects)
def test_a_cached_policy_answers_every_route_like_a_fresh_evaluation(
    tmp_path_factory: pytest.TempPathFactory,
    shared_issuer: DevIssuer,
    rule_set: tuple[str, list[tuple[list[str], list[str]]]],
    subject: dict[str, Any],
) -> None:
    clock = FakeClock()
    directory = tmp_path_factory.mktemp("rules")
    env = {
        "AUTHORIZER_RULES": write_rules(directory, rules_text(*rule_set)),
        "AUTHORIZER_ROLES_CLAIMS": "roles",
    }
    authorizer = build_authorizer(
        shared_issuer, clock, env={**env, "AUTHORIZER_SIMPLE_RESPONSE_CACHE": "off"}
    )
    by_route = build_authorizer(
        shared_issuer, clock, env={**env, "AUTHORIZER_SIMPLE_RESPONSE_CACHE": "route"}
    )
    by_api = build_authorizer(shared_issuer, clock, env=env)  # the default: "api"
    age = subject.pop("auth_age")
    claims = {**subject, "auth_time": None if age is None else int(clock.now) - age}
    token = mint(shared_issuer, clock, **claims)
    fresh = {
        request: authorizer.decide(make_event("rest_token", f"Bearer {token}", method=request[0],
                                              path=request[1])).outcome == "allow"
        for request in REQUESTS
    }  # fmt: skip
    for cached_for in REQUESTS:
        policy = authorizer.handle(
            make_event("rest_token", f"Bearer {token}", method=cached_for[0], path=cached_for[1])
        )
        for request, allowed in fresh.items():
            allows = status_of(policy, method_arn(*request)) == 200
            assert allows is allowed, (cached_for, request)
        # HTTP API simple responses evaluate the requested route the same way (no cache).
        simple = authorizer.handle(
            make_event("http_v2", f"Bearer {token}", method=cached_for[0], path=cached_for[1])
        )
        assert simple["isAuthorized"] is fresh[cached_for]
        # Cached by route key (or for the whole API), a simple response is reused for every
        # request the key serves: it allows only when each of them would be allowed.
        for route_key in ROUTE_KEYS:
            served = [request for request in REQUESTS if serves(route_key, *request)]
            if cached_for not in served:
                continue
            event = make_event("http_v2", f"Bearer {token}", method=cached_for[0],
                               path=cached_for[1], route_key=route_key)  # fmt: skip
            if by_route.handle(event)["isAuthorized"]:
                assert all(fresh[request] for request in served), (route_key, cached_for)
        plain = make_event("http_v2", f"Bearer {token}", method=cached_for[0], path=cached_for[1])
        if by_api.handle(plain)["isAuthorized"]:
            assert all(fresh.values()), cached_for


@pytest.fixture(scope="module")
def shared_issuer() -> Any:
    with DevIssuer() as running:
        yield running


def test_a_route_key_serves_exactly_the_requests_api_gateway_routes_to_it() -> None:
    example = [
        rule_steps(suffix)
        for suffix in ("GET/whoami", "GET/orders", "GET/orders/*", "POST/orders", "DELETE/orders/*")
    ]
    # One method per route: one rule each, and nothing left over.
    assert coverage(route_key_steps("GET /orders/{id}"), tuple(example)) == Coverage(
        frozenset({2}), gap=False
    )
    assert coverage(route_key_steps("POST /orders"), tuple(example)) == Coverage(
        frozenset({3}), gap=False
    )
    # ANY /orders/{id}: GET and DELETE, and PUT, which no rule matches.
    assert coverage(route_key_steps("ANY /orders/{id}"), tuple(example)) == Coverage(
        frozenset({2, 4}), gap=True
    )
    # {id} is one segment: /orders/{id} never reaches a rule for /orders/7/items ...
    items = (rule_steps("GET/orders/*/items"),)
    assert coverage(route_key_steps("GET /orders/{id}"), items) == Coverage(frozenset(), True)
    # ... and {proxy+} does; $default, an unknown or a missing route key serve everything.
    assert coverage(route_key_steps("GET /orders/{proxy+}"), items).reached == {0}
    for key in ("$default", "not a route key", None):
        assert coverage(route_key_steps(key), tuple(example)) == Coverage(
            frozenset(range(5)), gap=True
        )


def test_a_coverage_question_too_big_to_answer_is_answered_strictly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(routes, "MAX_COVERAGE_STATES", 3)
    patterns = (rule_steps("GET/a/*"), rule_steps("GET/b/*"))
    assert coverage(route_key_steps("GET /a/{id}"), patterns) == Coverage(frozenset({0, 1}), True)


@pytest.mark.parametrize("cache", ["route", "api"])
def test_a_shared_simple_response_answers_for_its_strictest_request_and_says_why_once(
    issuer: DevIssuer,
    clock: FakeClock,
    rules_env: dict[str, str],
    cache: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    authorizer = build_authorizer(
        issuer, clock, env={**rules_env, "AUTHORIZER_SIMPLE_RESPONSE_CACHE": cache}
    )
    reader = mint(issuer, clock, scope="orders:read")

    def allowed(method: str, route_key: str) -> bool:
        event = make_event(
            "http_v2", f"Bearer {reader}", method=method, path="/orders/7", route_key=route_key
        )
        return bool(authorizer.handle(event)["isAuthorized"])

    # GET is allowed on its own route (when the route key is the cache key) ...
    assert allowed("GET", "GET /orders/{id}") is (cache == "route")
    # ... never where the same answer would also serve DELETE.
    assert not allowed("GET", "ANY /orders/{id}")
    assert not allowed("DELETE", "ANY /orders/{id}")
    warnings = [r for r in caplog.records if getattr(r, "reason", "") == "shared_simple_response"]
    assert len(warnings) == 1  # once per route key (the whole API counts as one under "api")
    assert "strictest" in warnings[0].getMessage()


def test_without_route_rules_or_with_iam_responses_nothing_is_shared(
    issuer: DevIssuer, clock: FakeClock, rules_env: dict[str, str]
) -> None:
    env = {k: v for k, v in rules_env.items() if k != "AUTHORIZER_SIMPLE_RESPONSE_CACHE"}
    iam = build_authorizer(issuer, clock, env={**env, "AUTHORIZER_HTTP_API_RESPONSE": "iam"})
    reader = mint(issuer, clock, scope="orders:read")
    event = make_event(
        "http_v2", f"Bearer {reader}", path="/orders/7", route_key="ANY /orders/{id}"
    )
    # The IAM policy names each route: API Gateway evaluates it per request.
    assert status(iam, event) == 200
    plain = build_authorizer(issuer, clock)
    assert plain.handle(event)["isAuthorized"] is True
