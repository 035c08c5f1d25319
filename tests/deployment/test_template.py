"""The shipped template, presets and rules work together, as `template.yaml` configures them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from authorizer import __version__
from authorizer.config.settings import KNOWN_VARIABLES, TEMPLATE_PARAMETERS, load_settings
from authorizer.errors import ConfigError
from authorizer_tools.local.template import TemplateError, environment, evaluate, parameters, read
from authorizer_tools.local.template import deployed as is_deployed
from tests import ROOT

TEMPLATE = read(ROOT / "template.yaml")
ISSUER = {"Issuer": "https://idp.example.com", "Audience": "api"}


def test_the_template_defaults_give_a_configuration_the_authorizer_accepts() -> None:
    env = environment(TEMPLATE, ISSUER)
    settings = load_settings(env)
    assert [issuer.issuer for issuer in settings.issuers] == ["https://idp.example.com"]
    # Unset parameters reach the function as '' (a plain Ref, which sam local resolves too).
    assert not env["AUTHORIZER_ROLES_CLAIMS"] and not env["JWT_JWKS_URI"]


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
    issuer_variables = {"JWT_ISSUER", "JWT_PROVIDER", "JWT_AUDIENCE", "JWT_ALGORITHMS"}
    assert not {name for name in issuer_variables if env.get(name)}
    settings = load_settings(env)
    assert [issuer.issuer for issuer in settings.issuers] == [
        "https://a.example",
        "https://b.example",
    ]


def test_the_template_refuses_to_deploy_without_issuers() -> None:
    (assertion,) = TEMPLATE["Rules"]["IssuersAreConfigured"]["Assertions"]
    assert "Issuer" in str(assertion["Assert"]) and "RulesFile" in str(assertion["Assert"])
    with pytest.raises(TemplateError, match="rule IssuersAreConfigured: Set Issuer"):
        environment(TEMPLATE, {})


def test_sender_constrained_tokens_are_refused_with_api_gateways_cache_on() -> None:
    """A cached answer would let a replayed proof, or a bound token without its certificate, in."""
    for constraint in ("either", "dpop"):
        with pytest.raises(TemplateError, match="SenderConstrainedTokensAreNotCached"):
            environment(TEMPLATE, {**ISSUER, "SenderConstraint": constraint})
        env = environment(
            TEMPLATE, {**ISSUER, "SenderConstraint": constraint, "AuthorizerCacheSeconds": "0"}
        )
        assert env["JWT_SENDER_CONSTRAINT"] == constraint
        assert load_settings(env).issuers[0].binding.constraint == constraint
    assert load_settings(environment(TEMPLATE, ISSUER)).issuers[0].binding.constraint == "bearer"


#: A value for each parameter that differs from its default and passes its own checks.
NON_DEFAULTS = {
    "ConfigRefreshSeconds": "300",
    "Provider": "authgear",
    "JwksUri": "https://idp.example.com/keys",
    "Algorithms": "ES256",
    "RequiredScopes": "read",
    "RulesFile": "rules/example.toml",
    "RolesClaims": "roles",
    "KeysFile": "rules/other.json",
    "KeysFileFreshSeconds": "3600",
    "KeysFileMaxAgeSeconds": "86400",
    "AudienceClaim": "azp",
    "ScopeClaims": "scope",
    "RequiredTyp": "at+jwt",
    "RejectIdTokens": "false",
    "SenderConstraint": "either",
    "BoundTokensAsBearer": "true",
    "DpopAlgorithms": "ES256,EdDSA",
    "DpopMaxAgeSeconds": "30",
    "DpopReplayCacheSize": "100",
    "DpopReplayStore": "stores.dynamo:make_store",
    "DenyAnonymous": "true",
    "RequireVerified": "true",
    "TokenHeader": "X-Token",
    "TokenQueryParameter": "token",
    "HttpApiResponse": "iam",
    "PrincipalClaims": "sub,client_id",
    "UsageIdentifierClaim": "tenant",
    "ContextClaims": "sub,scope",
    "ContextExclude": "email",
    "ContextRename": "sub=user",
    "LeewaySeconds": "30",
    "MaxTokenBytes": "8192",
    "TokenCacheSize": "10",
    "JwksCacheSeconds": "60",
    "JwksRefreshCooldownSeconds": "10",
    "JwksMaxStaleSeconds": "0",
    "JwksFetchTimeoutSeconds": "1.5",
    "JwksPrefetch": "false",
    "LogLevel": "DEBUG",
}


def test_every_setting_the_authorizer_reads_is_a_template_parameter() -> None:
    """Set one parameter at a time: together they reach every variable the authorizer knows."""
    base = {
        **ISSUER,
        "CreateExampleApis": "false",
        "KeysFile": "rules/keys.json",
        "AuthorizerCacheSeconds": "0",  # SenderConstraint=either needs it
    }
    before = environment(TEMPLATE, base)
    reached = set(before)
    for name, value in NON_DEFAULTS.items():
        after = environment(TEMPLATE, {**base, name: value})
        changed = {key for key in after if after.get(key) != before.get(key)}
        assert changed, f"parameter {name} sets nothing"
        reached |= changed
    assert set(KNOWN_VARIABLES) - reached == set()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AudienceClaim", "sub"),
        ("RequiredTyp", "at+jwt, jwt"),
        ("RejectIdTokens", "yes please"),
        ("TokenHeader", "Bad Header"),
        ("PrincipalClaims", ""),
        ("ContextRename", "sub"),
        ("KeysFile", "keys.yaml"),
        ("KeysFileFreshSeconds", "an hour"),
        ("MaxTokenBytes", "100"),
        ("JwksCacheSeconds", "5"),
        ("JwksFetchTimeoutSeconds", "soon"),
        ("HttpApiResponse", "json"),
        ("ConfigRefreshSeconds", "30"),
        ("ConfigRefreshSeconds", "86401"),
        ("Provider", "google"),
    ],
)
def test_a_value_the_authorizer_would_refuse_fails_the_deployment(name: str, value: str) -> None:
    """The parameter's own check refuses it, so a typo stops `sam deploy`, not the first request."""
    with pytest.raises(TemplateError, match=f"parameter {name}"):
        environment(TEMPLATE, {**ISSUER, name: value})


def test_without_the_example_apis_only_the_authorizer_is_deployed() -> None:
    def deployed(overrides: dict[str, str]) -> set[str]:
        values = parameters(TEMPLATE, overrides)
        return {name for name in TEMPLATE["Resources"] if is_deployed(TEMPLATE, values, name)}

    assert deployed({**ISSUER, "CreateExampleApis": "false"}) == {
        "AuthorizerFunction",
        "AuthorizerLogGroup",
        "ClaimsLayer",
        "AuthorizerInvokeRole",
    }
    assert {"RestApi", "HttpApi", "WhoAmIFunction"} <= deployed(
        {**ISSUER, "CreateExampleApis": "true"}
    )
    # What `sam publish` ships deploys the authorizer alone unless asked for the examples.
    assert deployed(ISSUER) == deployed({**ISSUER, "CreateExampleApis": "false"})
    outputs = TEMPLATE["Outputs"]
    for name in ("AuthorizerFunctionArn", "AuthorizerInvokeRoleArn"):
        assert "Condition" not in outputs[name] and "Export" in outputs[name]


def test_the_example_http_api_needs_simple_responses() -> None:
    rule = TEMPLATE["Rules"]["ExampleApisUseSimpleResponses"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "CreateExampleApis"}, "true"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "HttpApiResponse"}, "simple"]}


def test_the_serverless_repository_metadata_matches_the_package() -> None:
    application = TEMPLATE["Metadata"]["AWS::ServerlessRepo::Application"]
    assert application["SemanticVersion"] == __version__
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert application["SpdxLicenseId"] == pyproject["project"]["license"]
    for key in ("LicenseUrl", "ReadmeUrl"):
        assert (ROOT / application[key]).is_file()
    groups = TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(TEMPLATE["Parameters"])


def test_a_misspelt_parameter_gets_a_did_you_mean_like_a_variable() -> None:
    with pytest.raises(TemplateError, match=r"no parameter 'Isuer' \(did you mean Issuer\?\)"):
        parameters(TEMPLATE, {"Isuer": "https://idp.example.com"})
    with pytest.raises(TemplateError, match=r"did you mean RulesFile\?"):
        parameters(TEMPLATE, {"RuleFile": "rules/example.toml"})


def test_messages_name_the_template_parameter_of_each_variable() -> None:
    """settings.TEMPLATE_PARAMETERS is what the template wires: each variable from its parameter."""
    variables = TEMPLATE["Resources"]["AuthorizerFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    wired = {}
    for variable, value in variables.items():
        if "Ref" in value and not value["Ref"].startswith("AWS::"):  # a pseudo parameter: ours
            wired[variable] = value["Ref"]
        elif "Fn::FindInMap" in value:
            wired[variable] = value["Fn::FindInMap"][2]["Ref"]
    assert wired == TEMPLATE_PARAMETERS
    assert set(TEMPLATE_PARAMETERS) == set(KNOWN_VARIABLES)


def test_simple_responses_answer_for_their_request_alone_only_with_the_cache_off() -> None:
    """SimpleResponseCache=off with a cached example HTTP API would reuse one request's answer."""
    examples = {**ISSUER, "CreateExampleApis": "true", "SimpleResponseCache": "off"}
    with pytest.raises(TemplateError, match="SimpleResponsesAreOnlyUncachedWithTheCacheOff"):
        environment(TEMPLATE, examples)
    env = environment(TEMPLATE, {**examples, "AuthorizerCacheSeconds": "0"})
    assert load_settings(env).simple_response_cache == "off"
    assert environment(TEMPLATE, {**ISSUER, "SimpleResponseCache": "off"})  # APIs elsewhere


@pytest.mark.parametrize(
    ("overrides", "grants"),
    [
        ({}, []),
        ({"RulesFile": "rules/example.toml", "RolesClaims": "roles"}, []),
        ({"RulesFile": "/opt/rules/api.toml"}, []),
        (
            {"RulesFile": "ssm:/orders-api/rules"},
            [("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/orders-api/rules")],
        ),
        (
            {"RulesFile": "s3://orders-config/authorizer/rules.toml",
             "KeysFile": "ssm:/orders-api/keys"},
            [("s3:GetObject", "arn:aws:s3:::orders-config/authorizer/rules.toml"),
             ("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/orders-api/keys")],
        ),
        (
            {"KeysFile": "s3://orders-config/keys.json"},
            [("s3:GetObject", "arn:aws:s3:::orders-config/keys.json")],
        ),
    ],
)  # fmt: skip
def test_the_function_may_read_exactly_the_parameter_or_object_it_is_given(
    overrides: dict[str, str], grants: list[tuple[str, str]]
) -> None:
    values = parameters(TEMPLATE, {**ISSUER, **overrides})
    properties = TEMPLATE["Resources"]["AuthorizerFunction"]["Properties"]
    policies = [evaluate(TEMPLATE, values, policy, "Policies") for policy in properties["Policies"]]
    granted = [
        (statement["Action"], statement["Resource"])
        for policy in policies
        if policy is not None
        for statement in policy["Statement"]
    ]
    assert granted == grants
    assert environment(TEMPLATE, {**ISSUER, **overrides}).get(
        "AUTHORIZER_RULES", ""
    ) == overrides.get("RulesFile", "")


DPOP = {**ISSUER, "SenderConstraint": "dpop", "AuthorizerCacheSeconds": "0"}


@pytest.mark.parametrize(
    ("table", "created", "granted"),
    [
        ("orders-proofs", True, "arn:aws:dynamodb:us-east-1:123456789012:table/orders-proofs"),
        ("arn:aws:dynamodb:eu-west-1:123456789012:table/shared", False,
         "arn:aws:dynamodb:eu-west-1:123456789012:table/shared"),
    ],
)  # fmt: skip
def test_a_replay_table_is_created_or_named_and_the_function_may_only_put_items_in_it(
    table: str, created: bool, granted: str
) -> None:
    values = parameters(TEMPLATE, {**DPOP, "DpopReplayTable": table})
    assert is_deployed(TEMPLATE, values, "DpopProofs") is created
    properties = TEMPLATE["Resources"]["AuthorizerFunction"]["Properties"]
    policies = [evaluate(TEMPLATE, values, policy, "Policies") for policy in properties["Policies"]]
    statements = [s for policy in policies if policy is not None for s in policy["Statement"]]
    assert [(s["Action"], s["Resource"]) for s in statements] == [("dynamodb:PutItem", granted)]
    env = environment(TEMPLATE, {**DPOP, "DpopReplayTable": table})
    assert load_settings(env).dpop.replay_table == table
    without = parameters(TEMPLATE, DPOP)
    assert is_deployed(TEMPLATE, without, "DpopProofs") is False
    assert environment(TEMPLATE, DPOP)["AUTHORIZER_DPOP_REPLAY_TABLE"] == ""


def test_the_replay_table_is_refused_without_dpop_and_its_name_is_checked() -> None:
    with pytest.raises(TemplateError, match="rule TheReplayTableIsForDpop: DpopReplayTable keeps"):
        environment(TEMPLATE, {**ISSUER, "DpopReplayTable": "orders-dpop-proofs"})
    with pytest.raises(TemplateError, match="parameter DpopReplayTable"):
        environment(TEMPLATE, {**DPOP, "DpopReplayTable": "orders proofs"})
    table = TEMPLATE["Resources"]["DpopProofs"]["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    assert table["TableName"] == {"Ref": "DpopReplayTable"}


@pytest.mark.parametrize(
    ("name", "value"),
    [("RulesFile", "ssm:orders-api/rules"), ("RulesFile", "s3://bucket-only"),
     ("RulesFile", "rules/api.yaml"), ("KeysFile", "ssm:/keys/"), ("KeysFile", "s3:/b/k")],
)  # fmt: skip
def test_a_malformed_source_fails_the_deployment(name: str, value: str) -> None:
    with pytest.raises(TemplateError, match=f"parameter {name}"):
        environment(TEMPLATE, {**ISSUER, name: value})


def test_extra_layers_reach_the_function_only_when_given() -> None:
    properties = TEMPLATE["Resources"]["AuthorizerFunction"]["Properties"]
    layers = "arn:aws:lambda:us-east-1:123456789012:layer:rules:3"
    given = parameters(TEMPLATE, {**ISSUER, "ExtraLayers": layers})
    assert evaluate(TEMPLATE, given, properties["Layers"], "Layers") == layers
    assert evaluate(TEMPLATE, parameters(TEMPLATE, ISSUER), properties["Layers"], "Layers") is None


def test_tracing_is_off_unless_asked_for_and_then_lambdas_own() -> None:
    properties = TEMPLATE["Resources"]["AuthorizerFunction"]["Properties"]
    default = parameters(TEMPLATE, ISSUER)
    assert evaluate(TEMPLATE, default, properties["Tracing"], "Tracing") == "PassThrough"
    active = parameters(TEMPLATE, {**ISSUER, "Tracing": "Active"})
    assert evaluate(TEMPLATE, active, properties["Tracing"], "Tracing") == "Active"
    with pytest.raises(TemplateError, match="parameter Tracing"):
        parameters(TEMPLATE, {**ISSUER, "Tracing": "On"})
