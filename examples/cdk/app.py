"""The authorizer, deployed by template.yaml, attached to APIs defined with the AWS CDK (Python).

A REST API with a TOKEN authorizer and a REQUEST authorizer, and an HTTP API with a Lambda
authorizer (payload 2.0, simple responses), all pointing at the function the authorizer's
stack exports; each grants API Gateway the permission to invoke it. Synthesised by
`make examples` (`cdk synth` without an AWS account).

    AUTHORIZER_STACK=oidc-authorizer python app.py
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
from constructs import Construct

ROOT = Path(__file__).resolve().parents[2]


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


app = cdk.App()
ProtectedApis(app, "ProtectedApis", os.environ.get("AUTHORIZER_STACK", "oidc-authorizer"))
app.synth()
