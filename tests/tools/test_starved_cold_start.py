"""A cold start starved of CPU, in the runtime emulator: the keys still arrive at init.

At 128 MB Lambda gives a function about 7% of a core, and the imports of a cold
start take seconds. The head start fetches the issuer's documents during them,
with less CPU still (the imports hold most of it), so its fetches may outlast the
key fetch's own deadline; the prefetch must get its keys all the same, and the
first request must be answered without another request to the issuer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.devissuer.tls import hash_folder, make_tls
from authorizer_tools.eventgen import make_event
from authorizer_tools.local.runtime import (
    LambdaRuntime,
    build_artifact,
    find_python,
    runtime_python,
)
from authorizer_tools.local.template import environment, read
from benchmarks.cpushare import CpuShare, unavailable
from tests import ROOT

pytestmark = pytest.mark.runtime_emulator

AUDIENCE = "https://api.example.test"


@pytest.fixture
def distant_issuer(tmp_path: Path) -> Iterator[tuple[DevIssuer, dict[str, str]]]:
    context, ca_file = make_tls(tmp_path)
    with DevIssuer(tls=context) as issuer:
        issuer.latency = 0.2  # another continent: each connection and answer waits this long
        yield issuer, {"SSL_CERT_DIR": str(hash_folder(ca_file))}


def test_a_cold_start_at_128_mb_from_a_distant_issuer_has_its_keys_at_init(
    distant_issuer: tuple[DevIssuer, dict[str, str]],
) -> None:
    assert unavailable() is None, unavailable()  # root and a cgroup CPU controller: CI has both
    issuer, trust = distant_issuer
    parameters = {"Issuer": issuer.issuer, "Audience": AUDIENCE, "JwksFetchTimeoutSeconds": "1"}
    env = {**environment(read(ROOT / "template.yaml"), parameters), **trust}
    env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "128"
    artifact = build_artifact("AuthorizerFunction")
    python = runtime_python(find_python(None))
    event = make_event("rest_token", f"Bearer {issuer.mint({'aud': AUDIENCE})}")
    with (
        CpuShare(128) as share,
        LambdaRuntime("AuthorizerFunction", artifact, env, python=python) as runtime,
    ):
        assert runtime.pid is not None
        share.add(runtime.pid)  # the runtime the emulator starts inherits the quota
        answer = runtime.invoke(event)
    assert answer.init_ms is not None and answer.init_ms > 1000  # starved, as at 128 MB
    assert answer.payload["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    fetched = [line for line in answer.logs if "issuer keys fetched" in line]
    assert len(fetched) == 1 and '"trigger":"prefetch"' in fetched[0]
    assert issuer.requests == ["/.well-known/openid-configuration", "/jwks"]
