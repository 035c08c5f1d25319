"""The examples of attaching the authorizer agree with what the authorizer and its template accept.

`make examples` lints each template and synthesises the CDK app; these tests check what
linting cannot: that the examples name real parameters, handlers and artifacts, and scope
every permission. The Terraform example is parsed, not validated: there is no Terraform here.
"""

from __future__ import annotations

from typing import Any

import hcl2

from authorizer import __version__
from authorizer_tools.local.runtime import HANDLERS
from authorizer_tools.local.template import evaluate, parameters, read
from tests import ROOT

# The deployment artefacts: checked once (make unit), not again on each Python (unit-py313).

TEMPLATE = read(ROOT / "template.yaml")


def _cfn(path: str) -> dict[str, Any]:
    from authorizer_tools.local.cfnyaml import load

    document: dict[str, Any] = load((ROOT / path).read_text())
    return document


def test_the_nested_application_passes_parameters_the_template_accepts() -> None:
    resources = _cfn("examples/sam-application/template.yaml")["Resources"]
    application = resources["Authorizer"]["Properties"]
    assert application["Location"]["SemanticVersion"] == __version__
    given = {k: v for k, v in application["Parameters"].items() if isinstance(v, str)}
    # The rules come from the stack's own SSM parameter, which the template grants alone.
    default = _cfn("examples/sam-application/template.yaml")["Parameters"]["RulesParameter"]
    rules = application["Parameters"]["RulesFile"]
    assert rules == {"Fn::Sub": "ssm:${RulesParameter}"}
    given["RulesFile"] = f"ssm:{default['Default']}"
    values = parameters(TEMPLATE, given)  # raises for a parameter or value the template refuses
    function = TEMPLATE["Resources"]["AuthorizerFunction"]["Properties"]
    grants = [evaluate(TEMPLATE, values, policy, "Policies") for policy in function["Policies"]]
    assert [g["Statement"][0]["Resource"] for g in grants if g is not None] == [
        "arn:aws:ssm:us-east-1:123456789012:parameter/orders-api/authorizer-rules"
    ]
    assert values["CreateExampleApis"] == "false"
    assert set(application["Parameters"]) <= set(TEMPLATE["Parameters"])
    outputs = resources["Api"]["Properties"]["Auth"]["Authorizers"]["Oidc"]["FunctionArn"]
    assert outputs == {"Fn::GetAtt": ["Authorizer", "Outputs.AuthorizerFunctionArn"]}
    assert "AuthorizerFunctionArn" in TEMPLATE["Outputs"]


def test_every_shape_the_handler_answers_has_an_api_in_the_example() -> None:
    resources = _cfn("examples/all-shapes.yaml")["Resources"]
    rest = {
        name: r["Properties"]["Auth"]["Authorizers"]["Oidc"]
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Api"
    }
    assert sorted(a["FunctionPayloadType"] for a in rest.values()) == ["REQUEST", "TOKEN"]
    request = next(a for a in rest.values() if a["FunctionPayloadType"] == "REQUEST")
    assert request["Identity"]["Context"] == ["resourcePath", "httpMethod"]
    http = [
        r["Properties"]["Auth"]["Authorizers"]["Oidc"]
        for r in resources.values()
        if r["Type"] == "AWS::Serverless::HttpApi"
    ]
    assert sorted(a["EnableSimpleResponses"] for a in http) == [False, True]
    # One function answers HTTP APIs in one shape: the IAM API has its own authorizer stack.
    stacks = {
        a["EnableSimpleResponses"]: a["FunctionArn"]["Fn::ImportValue"]["Fn::Sub"] for a in http
    }
    assert stacks == {
        True: "${AuthorizerStack}-AuthorizerFunctionArn",
        False: "${IamAuthorizerStack}-AuthorizerFunctionArn",
    }
    (connect,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"]
    assert connect["Properties"]["RouteKey"] == "$connect"
    assert connect["Properties"]["AuthorizationType"] == "CUSTOM"
    (socket,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    assert socket["Properties"]["ProtocolType"] == "WEBSOCKET"
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Permission":
            assert "SourceArn" in resource["Properties"], name
    for output in ("AuthorizerFunctionArn", "AuthorizerInvokeRoleArn"):
        assert output in TEMPLATE["Outputs"] and "Export" in TEMPLATE["Outputs"][output]


def _unquote(value: Any) -> Any:
    return value.strip('"') if isinstance(value, str) else value


def _data(document: dict[str, Any], name: str) -> dict[str, Any]:
    kind, _, label = name.partition(".")
    for block in document["data"]:
        for found_kind, named in block.items():
            for found_name, body in named.items():
                if (_unquote(found_kind), _unquote(found_name)) == (kind, label):
                    return dict(body)
    raise AssertionError(f"no data block {name}")


def test_the_terraform_example_runs_the_packaged_zip_and_scopes_each_permission() -> None:
    document = hcl2.loads((ROOT / "examples/terraform/main.tf").read_text())
    resources: dict[str, dict[str, Any]] = {}
    for block in document["resource"]:
        for kind, named in block.items():
            for name, body in named.items():
                resources[f"{_unquote(kind)}.{_unquote(name)}"] = body
    function = resources["aws_lambda_function.authorizer"]
    assert _unquote(function["handler"]) == HANDLERS["AuthorizerFunction"]
    assert _unquote(function["runtime"]) == "python3.13"
    variables = {_unquote(k): v for block in document["variable"] for k, v in block.items()}
    package = _unquote(variables["package"]["default"])
    assert package == f"../../dist/apigw-oidc-authorizer-{__version__}-arm64.zip"
    assert {"aws_api_gateway_authorizer.oidc", "aws_apigatewayv2_authorizer.oidc"} <= set(resources)
    permissions = [
        body for key, body in resources.items() if key.startswith("aws_lambda_permission.")
    ]
    authorizer_permissions = [p for p in permissions if "authorizer" in p["function_name"]]
    assert len(authorizer_permissions) == 2
    for permission in authorizer_permissions:
        assert "/authorizers/" in permission["source_arn"]
    # The authorizer protects a REST method and an HTTP API route, not just exists.
    method = resources["aws_api_gateway_method.whoami"]
    assert _unquote(method["authorization"]) == "CUSTOM"
    assert "aws_api_gateway_authorizer.oidc.id" in method["authorizer_id"]
    route = resources["aws_apigatewayv2_route.whoami"]
    assert _unquote(route["authorization_type"]) == "CUSTOM"
    assert "aws_apigatewayv2_authorizer.oidc.id" in route["authorizer_id"]
    assert _unquote(route["route_key"]) == "GET /whoami"  # one method per route
    # Its functions read the claims with the project's reader, from the layer.
    whoami = resources["aws_lambda_function.whoami"]
    assert "aws_lambda_layer_version.claims.arn" in str(whoami["layers"])
    assert "claims_from_event" in (ROOT / "examples/whoami/app.py").read_text()
    layer = _unquote(variables["layer_package"]["default"])
    assert layer == f"../../dist/apigw-oidc-authorizer-layer-{__version__}-arm64.zip"
    env = function["environment"][0]["variables"]
    assert _unquote(env["AUTHORIZER_SIMPLE_RESPONSE_CACHE"]) == "route"
    # The rules object: named in the environment, and the only thing the role may read.
    rules = _unquote(env["AUTHORIZER_RULES"])
    assert rules == "s3://${var.config_bucket}/authorizer/rules.toml"
    (statement,) = _data(document, "aws_iam_policy_document.rules")["statement"]
    assert [_unquote(action) for action in statement["actions"]] == ["s3:GetObject"]
    resources_read = [_unquote(resource) for resource in statement["resources"]]
    assert resources_read == ["arn:aws:s3:::" + rules.removeprefix("s3://")]
