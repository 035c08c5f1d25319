"""The rules file and route patterns: what they accept, and one clear error for the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authorizer.access.routes import MAX_SUFFIX_LENGTH, parse_route
from authorizer.access.rules import (
    ClaimEquals,
    ClaimIn,
    IssuerIn,
    MaxAuthAge,
    RolesAll,
    RolesAny,
    ScopesAll,
    ScopesAny,
)
from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError
from tests import ROOT

BASE = {"JWT_ISSUER": "https://idp.example.com", "JWT_AUDIENCE": "api"}


def load(tmp_path: Path, text: str, name: str = "rules.toml", **env: str):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text)
    return load_settings({**BASE, "AUTHORIZER_RULES": str(path), **env})


@pytest.mark.parametrize(
    ("pattern", "suffix"),
    [
        ("GET /orders", "GET/orders"),
        ("get /orders/{id}", "GET/orders/*"),
        ("ANY /{proxy+}", "*/*"),
        ("* /a/*/b", "*/a/*/b"),
        ("DELETE /a/{x}{y}", "DELETE/a/*"),
        ("GET /", "GET/"),
        ("$connect", "$connect"),
    ],
)
def test_patterns_become_the_iam_resource_suffix(pattern: str, suffix: str) -> None:
    assert parse_route(pattern, "here").suffix == suffix


@pytest.mark.parametrize(
    ("pattern", "route", "matches"),
    [
        ("GET /orders", "GET/orders", True),
        ("GET /orders", "GET/orders/1", False),
        ("GET /orders", "POST/orders", False),
        ("GET /orders/{id}", "GET/orders/1", True),
        ("GET /orders/{id}", "GET/orders/1/items", True),  # IAM's * crosses "/"
        ("GET /orders/{id}", "GET/orders", False),
        ("ANY /x", "PATCH/x", True),
        ("$connect", "$connect", True),
        ("$connect", "GET/$connect", False),
        ("GET /a.b", "GET/aXb", False),  # literal characters are literal
    ],
)
def test_matching_is_iam_glob_matching(pattern: str, route: str, matches: bool) -> None:
    assert parse_route(pattern, "here").matches(route) is matches


@pytest.mark.parametrize(
    "pattern",
    ["", "/orders", "FETCH /orders", "GET orders", "GET /a?b", "GET /a b", "GET /{1x}", "$"],
)
def test_bad_patterns_are_refused_naming_the_place(pattern: str) -> None:
    with pytest.raises(ConfigError, match="^route 3: route"):
        parse_route(pattern, "route 3")


def test_a_pattern_too_long_for_an_iam_resource_is_refused() -> None:
    with pytest.raises(ConfigError, match="too long for an IAM Resource"):
        parse_route("GET /" + "a" * MAX_SUFFIX_LENGTH, "here")


def test_every_requirement_kind_is_read(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
[[route]]
match = "GET /x"
issuers = ["https://idp.example.com"]
scopes_all = ["a"]
scopes_any = ["b", "c"]
roles_all = ["r1"]
roles_any = ["r2"]
claims = [{ claim = "t", equals = 1 }, { claim = ["o", "p"], in = ["x", true] }]
max_auth_age = 60
""",
        AUTHORIZER_ROLES_CLAIMS="roles",
    )
    assert settings.route_rules is not None
    (route,) = settings.route_rules.routes
    assert route.requirements == (
        IssuerIn(frozenset({"https://idp.example.com"})),
        ScopesAll(frozenset({"a"})),
        ScopesAny(frozenset({"b", "c"})),
        RolesAll(frozenset({"r1"})),
        RolesAny(frozenset({"r2"})),
        ClaimEquals(("t",), 1),
        ClaimIn(("o", "p"), ("x", True)),
        MaxAuthAge(60),
    )
    assert settings.route_rules.default_allow is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[route]]\nmatch = 'GET /x'\nscope = ['a']\n", "route 1: unknown key 'scope'"),
        ("[[route]]\nmatch = 'GET /x'\nscope = ['a']\n", "did you mean scopes_a"),
        ("[[route]]\nscopes_all = ['a']\n", "route 1: match must be"),
        ("[[route]]\nmatch = []\n", "route 1: match must be"),
        ("[[route]]\nmatch = 'GET x'\n", "route 1: route 'GET x' needs a path"),
        ("[[route]]\nname = 'n'\nmatch = 'GET /x'\nscopes_all = []\n", "route 1 (n): scopes_all"),
        ("[[route]]\nmatch = 'GET /x'\nscopes_any = 'a'\n", "scopes_any must be a non-empty list"),
        ("[[route]]\nmatch = 'GET /x'\nmax_auth_age = 0\n", "max_auth_age must be seconds"),
        ("[[route]]\nmatch = 'GET /x'\nmax_auth_age = true\n", "max_auth_age must be seconds"),
        ("[[route]]\nmatch = 'GET /x'\nclaims = [{ claim = 't' }]\n", "one of equals or in"),
        ("[[route]]\nmatch = 'GET /x'\nclaims = [{ claim = 't', in = [] }]\n", "in must be"),
        ("[[route]]\nmatch = 'GET /x'\nclaims = [{ claim = '', equals = 1 }]\n", "claim must be"),
        ("[[route]]\nmatch = 'GET /x'\nclaims = [{ claim = 't', equals = 1979-05-27 }]\n",
         "is not a JSON value"),
        ("default = 'maybe'\n", "default must be"),
        ("version = 2\n", "version must be 1"),
        ("rout = []\n", "unknown key 'rout' (did you mean route?)"),
        ("route = 'x'\n", "route must be a non-empty list"),
        ("[[route]\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_mistakes_fail_the_cold_start_naming_file_and_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert str(caught.value).startswith(f"AUTHORIZER_RULES ({tmp_path}/rules.toml): ")
    assert message in str(caught.value)


def test_a_missing_file_or_an_unknown_format_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AUTHORIZER_RULES .*cannot read the file"):
        load_settings({**BASE, "AUTHORIZER_RULES": str(tmp_path / "absent.toml")})
    with pytest.raises(ConfigError, match=r"must end in \.toml or \.json"):
        load(tmp_path, "x", name="rules.yaml")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load(tmp_path, "{", name="rules.json")
    with pytest.raises(ConfigError, match="must hold a table"):
        load(tmp_path, "[]", name="rules.json")


def test_relative_paths_start_at_the_function_root() -> None:
    root = ROOT
    settings = load_settings(
        {**BASE, "AUTHORIZER_RULES": "rules/example.toml", "AUTHORIZER_ROLES_CLAIMS": "roles"}
    )
    assert (root / "rules" / "example.toml").is_file()
    assert settings.route_rules is not None


def test_a_rule_set_whose_policy_could_overflow_fails_at_cold_start(tmp_path: Path) -> None:
    many = "".join(f'[[route]]\nmatch = "GET /resource-{i}"\n' for i in range(40))
    with pytest.raises(ConfigError, match="could reach .* bytes, over the 6144-byte budget"):
        load(tmp_path, many)
    few = "".join(f'[[route]]\nmatch = "GET /resource-{i}"\n' for i in range(10))
    assert load(tmp_path, few).route_rules is not None


def test_too_many_routes_or_a_huge_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at most 200 are allowed"):
        load(tmp_path, "".join('[[route]]\nmatch = "GET /x"\n' for _ in range(201)))
    with pytest.raises(ConfigError, match="larger than"):
        load(tmp_path, "#" * (256 * 1024 + 1))


# Any document at all: the parser answers with a ConfigError or a rule set, never a crash.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
ROUTE_KEYS = ("scopes_all", "scopes_any", "roles_any", "roles_all", "claims", "max_auth_age")
route_tables = st.fixed_dictionaries(
    {"match": st.one_of(st.text(max_size=20), st.lists(st.text(max_size=20), max_size=3))},
    optional=dict.fromkeys((*ROUTE_KEYS, "issuers", "name"), json_values),
)
documents = st.dictionaries(
    st.sampled_from(["version", "default", "route", "issuer", "context", "other"]),
    st.one_of(json_values, st.lists(route_tables, max_size=3)),
    max_size=4,
)


@given(document=documents)
def test_any_rules_document_gets_a_rule_set_or_one_config_error(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, object]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "rules.json"
    path.write_text(json.dumps(document))
    try:
        settings = load_settings({**BASE, "AUTHORIZER_RULES": str(path)})
    except ConfigError as exc:
        assert str(exc).startswith(("AUTHORIZER_RULES", "JWT_"))
        assert "\n" not in str(exc)
    else:
        assert settings.issuers


@pytest.mark.parametrize(
    "text",
    [
        "",
        "version = 1\n",
        'default = "deny"\n',
        'default = "deny"\n# [[route]]\n# match = "GET /orders"\n',
        '{"default": "deny"}',
        "{}",
    ],
)
def test_a_file_that_denies_by_default_but_has_no_route_fails_the_cold_start(
    tmp_path: Path, text: str
) -> None:
    name = "rules.json" if text.startswith("{") else "rules.toml"
    with pytest.raises(ConfigError, match="AUTHORIZER_RULES") as caught:
        load(tmp_path, text, name)
    assert "[[route]]" in str(caught.value)


def test_a_file_of_issuers_only_or_default_allow_has_no_route_rules(tmp_path: Path) -> None:
    issuers = '[[issuer]]\nissuer = "https://idp.example.com"\naudiences = ["api"]\n'
    only_issuers = tmp_path / "issuers.toml"
    only_issuers.write_text(issuers)
    assert load_settings({"AUTHORIZER_RULES": str(only_issuers)}).route_rules is None
    assert load(tmp_path, 'default = "allow"\n').route_rules is None
    with pytest.raises(ConfigError, match='default = "deny" but there is no'):
        only_issuers.write_text('default = "deny"\n' + issuers)
        load_settings({"AUTHORIZER_RULES": str(only_issuers)})


ROLE_RULE = '[[route]]\nmatch = "DELETE /orders/{id}"\nroles_any = ["admin"]\n'


def test_a_rule_that_needs_roles_fails_the_cold_start_where_no_roles_claim_is_read(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, ROLE_RULE)
    message = str(caught.value)
    assert (
        "route 1 needs roles" in message and "https://idp.example.com (generic preset)" in message
    )
    assert "AUTHORIZER_ROLES_CLAIMS" in message and "RolesClaims" in message
    assert load(tmp_path, ROLE_RULE, AUTHORIZER_ROLES_CLAIMS="roles").route_rules is not None
    assert load(tmp_path, ROLE_RULE, JWT_PROVIDER="okta").route_rules is not None  # groups


def test_roles_are_required_only_of_the_issuers_a_rule_applies_to(tmp_path: Path) -> None:
    issuers = (
        '[[issuer]]\nissuer = "https://a.example"\naudiences = ["api"]\nrole_claims = ["roles"]\n'
        '[[issuer]]\nissuer = "https://b.example"\naudiences = ["api"]\n'
    )
    limited = ROLE_RULE + 'issuers = ["https://a.example"]\n'
    path = tmp_path / "rules.toml"
    path.write_text(issuers + limited)
    assert load_settings({"AUTHORIZER_RULES": str(path)}).route_rules is not None
    path.write_text(issuers + ROLE_RULE)
    with pytest.raises(ConfigError, match="issuer https://b.example"):
        load_settings({"AUTHORIZER_RULES": str(path)})
    path.write_text(
        issuers
        + '[[issuer]]\nissuer = "https://c.example"\naudiences = ["api"]\nroles_any = ["x"]\n'
    )
    with pytest.raises(ConfigError, match="issuer https://c.example needs roles"):
        load_settings({"AUTHORIZER_RULES": str(path)})
