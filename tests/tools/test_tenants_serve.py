"""A multi-tenant deployment through `serve`: the template's parameters, the Lambda runtime, HTTP.

The dev issuer signs for several tenants (``<issuer>/<tenant>/v2.0``) with one key
set; the template is deployed with the issuer as a template, a tenant list and the
tenant claim, as a user would type them, and the example REST API answers each
tenant's token, passes the tenant downstream, and refuses the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.local.server import Served, serving
from authorizer_tools.local.template import read
from tests import ROOT
from tests.conftest import AUDIENCE
from tests.processes import run

pytestmark = pytest.mark.runtime_emulator

HTTP = urllib3.PoolManager(retries=False, timeout=30)


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer() as running:
        yield running


@pytest.fixture(scope="module")
def served(issuer: DevIssuer) -> Iterator[Served]:
    parameters = {
        "Issuer": f"{issuer.issuer}/{{tenant}}/v2.0",
        "Tenants": "contoso,fabrikam",
        "TenantClaim": "tid",
        "JwksUri": f"{issuer.issuer}/jwks",
        "Audience": AUDIENCE,
    }
    with serving(
        read(ROOT / "template.yaml"), parameters, {}, port=0, log=lambda line: None
    ) as running:
        yield running


def whoami(served: Served, api: str, token: str) -> urllib3.BaseHTTPResponse:
    return HTTP.request(
        "GET", f"{served.url(api)}/whoami", headers={"Authorization": f"Bearer {token}"}
    )


@pytest.mark.parametrize("api", ["RestApi", "HttpApi"])
def test_each_tenant_reaches_the_function_and_the_others_are_refused(
    served: Served, issuer: DevIssuer, api: str
) -> None:
    for tenant in ("contoso", "fabrikam"):
        token = issuer.mint(
            {"aud": AUDIENCE, "iss": f"{issuer.issuer}/{tenant}/v2.0", "tid": tenant}
        )
        answered = whoami(served, api, token)
        assert answered.status == 200
        assert json.loads(answered.data)["tenant"] == tenant
    outsider = issuer.mint(
        {"aud": AUDIENCE, "iss": f"{issuer.issuer}/initech/v2.0", "tid": "initech"}
    )
    assert whoami(served, api, outsider).status == 401
    spliced = issuer.mint(
        {"aud": AUDIENCE, "iss": f"{issuer.issuer}/contoso/v2.0", "tid": "fabrikam"}
    )
    assert whoami(served, api, spliced).status == 401


def test_invoke_takes_the_template_parameters_of_a_multi_tenant_deployment(
    issuer: DevIssuer, tmp_path: Path
) -> None:
    parameters = [f"Issuer={issuer.issuer}/{{tenant}}/v2.0", "Tenants=contoso", "TenantClaim=tid",
                  f"JwksUri={issuer.issuer}/jwks", f"Audience={AUDIENCE}"]  # fmt: skip
    flags = [part for item in parameters for part in ("--parameter", item)]
    for tenant, tid, expected in (("contoso", "contoso", "ALLOW"),
                                  ("contoso", "fabrikam", "UNAUTHORIZED"),
                                  ("initech", "initech", "UNAUTHORIZED")):  # fmt: skip
        token = issuer.mint({"aud": AUDIENCE, "iss": f"{issuer.issuer}/{tenant}/v2.0", "tid": tid})
        event = tmp_path / f"{tenant}-{tid}.json"
        assert run("event", "rest_request", f"--token={token}", "-o", str(event)).returncode == 0
        invoked = run("invoke", str(event), *flags)
        assert invoked.stdout.startswith(expected), invoked.stdout + invoked.stderr
        if expected == "UNAUTHORIZED":
            reason = "tenant_mismatch" if tenant != tid else "unknown_tenant"
            assert reason in invoked.stdout
