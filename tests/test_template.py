"""The shipped template, presets and rules work together, as `template.yaml` configures them."""

from __future__ import annotations

from pathlib import Path

import pytest

from authorizer.errors import ConfigError
from authorizer.settings import load_settings
from authorizer_tools.templateconfig import environment, read

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = read(ROOT / "template.yaml")
ISSUER = {"Issuer": "https://idp.example.com", "Audience": "api"}


def test_the_template_defaults_give_a_configuration_the_authorizer_accepts() -> None:
    env = environment(TEMPLATE, ISSUER)
    settings = load_settings(env)
    assert [issuer.issuer for issuer in settings.issuers] == ["https://idp.example.com"]
    assert "AUTHORIZER_ROLES_CLAIMS" not in env and "JWT_JWKS_URI" not in env


def test_the_example_rules_need_a_roles_claim_and_the_template_can_name_one() -> None:
    with pytest.raises(ConfigError, match="RolesClaims"):
        load_settings(environment(TEMPLATE, {**ISSUER, "RulesFile": "rules/example.toml"}))
    env = environment(
        TEMPLATE, {**ISSUER, "RulesFile": "rules/example.toml", "RolesClaims": "roles"}
    )
    assert env["AUTHORIZER_ROLES_CLAIMS"] == "roles"
    settings = load_settings(env)
    assert settings.route_rules is not None and settings.issuers[0].role_claims == (("roles",),)


def test_a_rules_file_can_own_the_issuers_when_the_issuer_parameter_is_empty(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "issuers.toml"
    rules.write_text(
        '[[issuer]]\nissuer = "https://a.example"\nprovider = "authgear"\n'
        '[[issuer]]\nissuer = "https://b.example"\naudiences = ["api"]\n'
    )
    env = environment(TEMPLATE, {"RulesFile": str(rules)})
    assert not {"JWT_ISSUER", "JWT_PROVIDER", "JWT_AUDIENCE", "JWT_ALGORITHMS"} & set(env)
    settings = load_settings(env)
    assert [issuer.issuer for issuer in settings.issuers] == [
        "https://a.example",
        "https://b.example",
    ]


def test_the_template_refuses_to_deploy_without_issuers() -> None:
    (assertion,) = TEMPLATE["Rules"]["IssuersAreConfigured"]["Assertions"]
    assert "Issuer" in str(assertion["Assert"]) and "RulesFile" in str(assertion["Assert"])
    with pytest.raises(ConfigError, match="JWT_ISSUER is required"):
        load_settings(environment(TEMPLATE, {}))
