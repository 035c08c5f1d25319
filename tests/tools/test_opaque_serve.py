"""An opaque-token deployment end to end: the template's parameters, `serve` and `invoke`.

panva/oidc-provider issues opaque access tokens and answers introspection; the
introspection client's secret is a SecureString in SSM Parameter Store (moto's
server on loopback), named by the template's ``IntrospectionClientSecret`` as a user
would; the authorizer runs in the Lambda runtime behind the local APIs, and in
`invoke`, reading the secret at its cold start.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import urllib3

from authorizer_tools.local.server import Served, serving
from authorizer_tools.local.template import read
from tests import ROOT
from tests.aws import CREDENTIALS
from tests.oidc import Provider
from tests.processes import run

pytestmark = pytest.mark.runtime_emulator

OPAQUE = "https://api.example.test/opaque"
HTTP = urllib3.PoolManager(retries=False, timeout=30)
PARAMETERS = {
    "Audience": OPAQUE,
    "IntrospectionClientId": "introspector",
    "IntrospectionClientSecret": "ssm:/orders-api/introspection",
    "PrincipalClaims": "sub,client_id",
}


def put_secret(aws_apis: str) -> None:
    """The introspection client's secret, where the parameters say it is (each test its own)."""
    ssm = boto3.client("ssm", endpoint_url=aws_apis, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    ssm.put_parameter(Name="/orders-api/introspection", Type="SecureString", Overwrite=True,
                      Value="introspector-secret-for-loopback-tests")  # fmt: skip


@pytest.fixture(scope="module")
def served(provider: Provider, aws_apis: str) -> Iterator[Served]:
    put_secret(aws_apis)
    aws = {**CREDENTIALS, "AWS_ENDPOINT_URL": aws_apis}
    with serving(
        read(ROOT / "template.yaml"), {"Issuer": provider.issuer, **PARAMETERS}, aws,
        port=0, log=lambda line: None,
    ) as running:  # fmt: skip
        yield running


@pytest.mark.parametrize("api", ["RestApi", "HttpApi"])
def test_an_opaque_token_reaches_the_function_with_its_introspected_claims(
    served: Served, provider: Provider, api: str
) -> None:
    token = provider.token(OPAQUE)
    headers = {"Authorization": f"Bearer {token}"}
    answered = HTTP.request("GET", f"{served.url(api)}/whoami", headers=headers)
    assert answered.status == 200
    claims = json.loads(answered.data)["claims"]
    assert claims["client_id"] == "m2m-client" and claims["aud"] == OPAQUE
    unknown = {"Authorization": "Bearer not-a-token-it-knows"}
    refused = HTTP.request("GET", f"{served.url(api)}/whoami", headers=unknown)
    assert refused.status == 401


def test_invoke_introspects_an_opaque_token_at_its_cold_start(
    provider: Provider, aws_apis: str, tmp_path: Path
) -> None:
    put_secret(aws_apis)
    event = tmp_path / "event.json"
    # --token=... : an opaque token may begin with "-", which argparse takes for an option
    made = run("event", "rest_request", f"--token={provider.token(OPAQUE)}", "-o", str(event))
    assert made.returncode == 0, made.stderr
    settings = [f"Issuer={provider.issuer}", *(f"{k}={v}" for k, v in PARAMETERS.items())]
    environment = {**CREDENTIALS, "AWS_ENDPOINT_URL": aws_apis}
    flags = [part for item in settings for part in ("--parameter", item)]
    flags += [part for name, value in environment.items() for part in ("--env", f"{name}={value}")]
    invoked = run("invoke", str(event), *flags)
    assert invoked.returncode == 0, invoked.stdout + invoked.stderr
    assert invoked.stdout.startswith("ALLOW")
