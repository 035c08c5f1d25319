"""The authorizer with APIs defined with the AWS CDK (Python): two stacks, two ways.

``ProtectedApis`` attaches to an authorizer stack deployed from template.yaml: a REST API
with a TOKEN authorizer and a REQUEST authorizer, and an HTTP API with a Lambda authorizer
(payload 2.0, simple responses), all pointing at the function the authorizer's stack
exports; each grants API Gateway the permission to invoke it.

``OrdersWithRules`` deploys the published application itself (a nested SAM application),
its route rules in an SSM parameter this stack creates from ``rules/example.toml``; the
application's function may read exactly that parameter. Change the rules by updating the
parameter: new cold starts read it (or every ``ConfigRefreshSeconds``).

Synthesised by `make examples` (`cdk synth` without an AWS account).

    AUTHORIZER_STACK=oidc-authorizer AUTHORIZER_APPLICATION_ID=arn:aws:serverlessrepo:... \
        python app.py
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigatewayv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sam as sam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

ROOT = Path(__file__).resolve().parents[2]
#: Where OrdersWithRules keeps its route rules; the application reads exactly this parameter.
RULES_PARAMETER = "/orders-api/authorizer-rules"


def whoami_code() -> lambda_.Code:
    """examples/whoami/app.py and the claims reader it uses (authorizer.claims: stdlib only).

    The same files the template's WhoAmIFunction is built from; authorizer.claims restores
    each claim's type for every API kind (REST, HTTP API 1.0 and 2.0, WebSocket).
    """
    staged = Path(tempfile.mkdtemp(prefix="whoami-"))
    (staged / "authorizer").mkdir()
    for name in ("__init__.py", "claims.py"):
        shutil.copy(ROOT / "authorizer" / name, staged / "authorizer" / name)
    shutil.copy(ROOT / "examples" / "whoami" / "app.py", staged / "whoami.py")
    return lambda_.Code.from_asset(str(staged))


class ProtectedApis(cdk.Stack):
    def __init__(self, scope: Construct, name: str, authorizer_stack: str) -> None:
        super().__init__(scope, name)
        authorizer = lambda_.Function.from_function_attributes(
            self,
            "Authorizer",
            function_arn=cdk.Fn.import_value(f"{authorizer_stack}-AuthorizerFunctionArn"),
            same_environment=True,  # lets the authorizers below add their invoke permissions
        )
        whoami = lambda_.Function(
            self,
            "WhoAmI",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="whoami.lambda_handler",
            code=whoami_code(),
        )
        rest = apigateway.RestApi(self, "RestApi")
        token = apigateway.TokenAuthorizer(
            self, "Token", handler=authorizer, results_cache_ttl=cdk.Duration.minutes(5)
        )
        rest.root.add_resource("whoami").add_method(
            "GET", apigateway.LambdaIntegration(whoami), authorizer=token
        )
        request = apigateway.RequestAuthorizer(
            self,
            "Request",
            handler=authorizer,
            # The route in the cache key: route rules answer route by route.
            identity_sources=[
                apigateway.IdentitySource.header("Authorization"),
                apigateway.IdentitySource.context("resourcePath"),
                apigateway.IdentitySource.context("httpMethod"),
            ],
        )
        rest.root.add_resource("orders").add_method(
            "GET", apigateway.LambdaIntegration(whoami), authorizer=request
        )
        http = apigatewayv2.HttpApi(self, "HttpApi")
        http.add_routes(
            path="/whoami",
            methods=[apigatewayv2.HttpMethod.GET],
            integration=integrations.HttpLambdaIntegration("WhoAmI", whoami),
            authorizer=authorizers.HttpLambdaAuthorizer(
                "Oidc",
                authorizer,
                response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
                identity_source=["$request.header.Authorization", "$context.routeKey"],
            ),
        )


class OrdersWithRules(cdk.Stack):
    def __init__(self, scope: Construct, name: str, application_id: str) -> None:
        super().__init__(scope, name)
        rules = ssm.StringParameter(
            self,
            "Rules",
            parameter_name=RULES_PARAMETER,
            string_value=(ROOT / "rules" / "example.toml").read_text(encoding="utf-8"),
            tier=ssm.ParameterTier.STANDARD,  # up to 4 KiB; ADVANCED holds up to 8 KiB
        )
        authorizer = sam.CfnApplication(
            self,
            "Authorizer",
            location=sam.CfnApplication.ApplicationLocationProperty(
                application_id=application_id, semantic_version="0.1.0"
            ),
            parameters={
                "CreateExampleApis": "false",
                "Provider": "authgear",
                "Issuer": "https://myproject.authgear.cloud",
                "Audience": "https://orders.example.com",
                "RulesFile": f"ssm:{RULES_PARAMETER}",  # a name, not a token: a condition checks it
                "RolesClaims": "roles",
                "SimpleResponseCache": "route",  # the HTTP API below caches by $context.routeKey
            },
        )
        authorizer.node.add_dependency(rules)  # the rules exist before the function can read them
        function = lambda_.Function.from_function_attributes(
            self,
            "AuthorizerFunction",
            function_arn=authorizer.get_att("Outputs.AuthorizerFunctionArn").to_string(),
            same_environment=True,
        )
        orders = apigatewayv2.HttpApi(self, "OrdersApi")
        orders.add_routes(
            path="/orders/{id}",
            methods=[apigatewayv2.HttpMethod.GET, apigatewayv2.HttpMethod.DELETE],
            integration=integrations.HttpLambdaIntegration(
                "WhoAmI",
                lambda_.Function(
                    self,
                    "WhoAmI",
                    runtime=lambda_.Runtime.PYTHON_3_13,
                    handler="whoami.lambda_handler",
                    code=whoami_code(),
                ),
            ),
            authorizer=authorizers.HttpLambdaAuthorizer(
                "Oidc",
                function,
                response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
                identity_source=["$request.header.Authorization", "$context.routeKey"],
            ),
        )


app = cdk.App()
ProtectedApis(app, "ProtectedApis", os.environ.get("AUTHORIZER_STACK", "oidc-authorizer"))
OrdersWithRules(
    app,
    "OrdersWithRules",
    os.environ.get(
        "AUTHORIZER_APPLICATION_ID",
        "arn:aws:serverlessrepo:us-east-1:123456789012:applications/apigw-oidc-authorizer",
    ),
)
app.synth()
