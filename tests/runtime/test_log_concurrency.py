"""Every line the authorizer writes is one whole JSON object, whatever runs at once.

At cold start the key sets of all issuers are fetched by concurrent threads, each
of which logs its fetch and counts it as a metric. A line two threads wrote into
each other is lost to CloudWatch (it parses neither), and with it the counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from authorizer_tools.devissuer.issuer import DevIssuer
from tests import ROOT

ISSUERS = 8
COLD_STARTS = 12


@pytest.fixture(scope="module")
def issuers() -> Iterator[list[DevIssuer]]:
    with ExitStack() as stack:
        yield [stack.enter_context(DevIssuer()) for _ in range(ISSUERS)]


def cold_start(issuers: list[DevIssuer]) -> str:
    env = {
        **os.environ,
        "JWT_ISSUER": ",".join(issuer.issuer for issuer in issuers),
        "JWT_AUDIENCE": "https://api.example.test",
        "POWERTOOLS_SERVICE_NAME": "oidc-authorizer",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "JWKS_PREFETCH": "true",
        "POWERTOOLS_METRICS_DISABLED": "false",
        "POWERTOOLS_METRICS_NAMESPACE": "OidcAuthorizer",
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.run(
        [sys.executable, "-c", "import authorizer.app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return process.stdout


def test_concurrent_key_fetches_write_whole_lines_and_count_each_fetch_once(
    issuers: list[DevIssuer],
) -> None:
    for run in range(COLD_STARTS):
        output = cold_start(issuers)
        assert output.endswith("\n")
        lines = output[:-1].split("\n")
        records = []
        for line in lines:
            assert line.strip(), f"cold start {run}: an empty line in {output!r}"
            records.append(json.loads(line))  # one whole object: never two, never half
        fetched = [r for r in records if r.get("message") == "issuer keys fetched"]
        assert sorted(r["issuer"] for r in fetched) == sorted(i.issuer for i in issuers)
        # Powertools writes a metric's values as a list; a decision line as a number.
        values = [r["JwksFetches"] for r in records if "JwksFetches" in r]
        counted = sum(sum(v) if isinstance(v, list) else v for v in values)
        assert counted == ISSUERS, f"cold start {run}: {counted} fetches counted"
