"""The template as a protected resource: its challenges and metadata say what the authorizer does.

The template writes the 401's challenge itself (a gateway response cannot ask the
authorizer), so each parameter set here is evaluated twice: through the gateway
response, and through the authorizer's own settings; the two must agree. The
metadata function reads a subset of the authorizer's settings; the document it
serves must be the one the authorizer's full settings give.
"""

from __future__ import annotations

from typing import Any

import pytest

from authorizer.config.resource import WELL_KNOWN
from authorizer.config.settings import load_settings
from authorizer.gateway.challenges import CONTEXT_KEY
from authorizer.wellknown import metadata_document
from authorizer.wiring import challenges
from authorizer_tools.local.template import deployed as is_deployed
from authorizer_tools.local.template import environment, evaluate, parameters, read
from tests import ROOT

TEMPLATE = read(ROOT / "template.yaml")
RESOURCE = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
ELSEWHERE = f"{RESOURCE}/x/.well-known/oauth-protected-resource"
BASE = {"Issuer": "https://idp.example.com", "Resource": RESOURCE, "CreateExampleApis": "true"}
UNCACHED = {"AuthorizerCacheSeconds": "0"}

CASES = {
    "bearer": BASE,
    "a metadata URL": {**BASE, "ResourceMetadataUrl": ELSEWHERE},
    "either, every algorithm": {**BASE, **UNCACHED, "SenderConstraint": "either"},
    "dpop, two algorithms": {**BASE, **UNCACHED, "SenderConstraint": "dpop",
                             "DpopAlgorithms": "ES256,EdDSA"},
    "with rules": {**BASE, "RulesFile": "rules/example.toml", "RolesClaims": "roles"},
}  # fmt: skip


def gateway_response(overrides: dict[str, str], kind: str) -> str:
    values = parameters(TEMPLATE, overrides)
    responses = TEMPLATE["Resources"]["RestApi"]["Properties"]["GatewayResponses"]
    header = responses[kind]["ResponseParameters"]["Headers"]["WWW-Authenticate"]
    text = evaluate(TEMPLATE, values, header, f"{kind} WWW-Authenticate")
    assert isinstance(text, str)
    return text


def static(mapping: str) -> str:
    """The value of a static mapping expression (``'...'``, API Gateway's quoting)."""
    assert mapping.startswith("'") and mapping.endswith("'"), mapping
    assert "'" not in mapping[1:-1]
    return mapping[1:-1]


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_the_401_gateway_response_says_what_the_authorizer_would(
    overrides: dict[str, str],
) -> None:
    settings = load_settings(environment(TEMPLATE, overrides))
    expected = challenges(settings)
    assert expected is not None
    assert static(gateway_response(overrides, "UNAUTHORIZED")) == expected.unauthorized()


def test_the_403_gateway_response_maps_the_challenge_the_policy_carries() -> None:
    assert gateway_response(BASE, "ACCESS_DENIED") == f"context.authorizer.{CONTEXT_KEY}"


def test_without_a_resource_the_gateway_responses_still_challenge_as_rfc_6750_says() -> None:
    plain = {"Issuer": "https://idp.example.com", "Audience": "api", "CreateExampleApis": "true"}
    assert static(gateway_response(plain, "UNAUTHORIZED")) == "Bearer"
    assert static(gateway_response(plain, "ACCESS_DENIED")) == 'Bearer error="insufficient_scope"'


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_the_metadata_function_serves_the_document_of_the_authorizers_settings(
    overrides: dict[str, str],
) -> None:
    authorizer = environment(TEMPLATE, overrides)
    served = environment(TEMPLATE, overrides, "ResourceMetadataFunction")
    assert {name: authorizer[name] for name in served} == served  # the same values
    document = metadata_document(load_settings(served, bundled_keys=False))
    assert document == metadata_document(load_settings(authorizer))


def test_the_metadata_function_may_read_the_rules_the_authorizer_reads() -> None:
    overrides = {**BASE, "RulesFile": "ssm:/orders-api/rules"}
    values = parameters(TEMPLATE, overrides)

    def grants(function: str) -> list[Any]:
        policies = TEMPLATE["Resources"][function]["Properties"]["Policies"]
        evaluated = [evaluate(TEMPLATE, values, policy, function) for policy in policies]
        return [policy for policy in evaluated if policy is not None]

    ssm = [g for g in grants("AuthorizerFunction") if "ssm:GetParameter" in str(g)]
    assert grants("ResourceMetadataFunction") == ssm


def test_the_example_apis_metadata_routes_exist_for_a_protected_resource_and_need_no_token() -> (
    None
):
    examples = {"Issuer": "https://idp.example.com", "Audience": "api", "CreateExampleApis": "true"}
    assert not is_deployed(TEMPLATE, parameters(TEMPLATE, examples), "ResourceMetadataFunction")
    assert is_deployed(TEMPLATE, parameters(TEMPLATE, BASE), "ResourceMetadataFunction")
    off = {**BASE, "CreateExampleApis": "false"}
    assert not is_deployed(TEMPLATE, parameters(TEMPLATE, off), "ResourceMetadataFunction")
    events = TEMPLATE["Resources"]["ResourceMetadataFunction"]["Properties"]["Events"]
    assert {event["Type"] for event in events.values()} == {"Api", "HttpApi"}
    for event in events.values():
        assert event["Properties"]["Path"].startswith(WELL_KNOWN)
        assert event["Properties"]["Method"] == "GET"
        assert event["Properties"]["Auth"] == {"Authorizer": "NONE"}
