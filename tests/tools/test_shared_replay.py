"""DPoP proofs across execution environments: the template's shared replay table, end to end.

Several runtimes (the emulator and ``awslambdaric`` each, the built artifact, the
template's environment with ``DpopReplayTable``) share one table on moto's server,
as Lambda's concurrent environments share the table the stack creates. With the
in-memory store a proof replayed to another environment is accepted there; with
the table it is refused, and a table that stops answering gives errors (500s),
never an Allow.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.dpopclient import DpopKey
from authorizer_tools.eventgen import dpop_event, request_url
from authorizer_tools.local.runtime import (
    Invocation,
    LambdaRuntime,
    build_artifact,
    find_python,
    runtime_python,
)
from authorizer_tools.local.template import environment, read
from tests import ROOT
from tests.aws import CREDENTIALS, make_table, moto_server

pytestmark = pytest.mark.runtime_emulator

AUDIENCE = "https://api.example.test"
TABLE = "orders-dpop-proofs"


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer() as running:
        yield running


@contextlib.contextmanager
def environments(
    issuer: DevIssuer, aws_apis: str, count: int, table: str = TABLE
) -> Iterator[list[LambdaRuntime]]:
    """``count`` execution environments of the authorizer, configured by the template."""
    parameters = {"Issuer": issuer.issuer, "Audience": AUDIENCE, "SenderConstraint": "dpop",
                  "AuthorizerCacheSeconds": "0", "DpopReplayTable": table}  # fmt: skip
    env = {**environment(read(ROOT / "template.yaml"), parameters), **CREDENTIALS,
           "AWS_ENDPOINT_URL": aws_apis}  # fmt: skip
    artifact = build_artifact("AuthorizerFunction")
    python = runtime_python(find_python(None))
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(LambdaRuntime("AuthorizerFunction", artifact, env, python=python))
            for _ in range(count)
        ]


@contextlib.contextmanager
def table_on_moto() -> Iterator[tuple[str, contextlib.ExitStack]]:
    """moto's server with the template's table; closing the stack stops the server."""
    with contextlib.ExitStack() as server:
        aws_apis = server.enter_context(moto_server())
        with pytest.MonkeyPatch.context() as patch:
            for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": aws_apis}.items():
                patch.setenv(name, value)
            make_table(TABLE)
        yield aws_apis, server


def outcome(answer: Invocation) -> str:
    """``allow``, or the refusal's reason (a 401/403's, or a 500's) from the decision line."""
    decision = answer.decision()
    if isinstance(answer.payload, dict) and answer.payload.get("isAuthorized") is True:
        assert decision.get("decision") == "allow", decision
        return "allow"
    return str(decision.get("reason", "no decision line"))


class Client:
    """A DPoP client: its key, a bound token, and a new proof on request."""

    def __init__(self, issuer: DevIssuer) -> None:
        self.key = DpopKey.generate("ES256")
        self.token = issuer.mint({"aud": AUDIENCE, "sub": "alice",
                                  "cnf": {"jkt": self.key.thumbprint}})  # fmt: skip

    def event(self) -> dict[str, Any]:
        """A request with a new proof."""
        return dpop_event(self.token, self.key.proof("GET", request_url(), self.token))


@pytest.fixture(scope="module")
def shared(issuer: DevIssuer) -> Iterator[tuple[str, list[LambdaRuntime]]]:
    """Three environments sharing the table, on a moto server of this module's."""
    with table_on_moto() as (aws_apis, _), environments(issuer, aws_apis, 3) as running:
        yield aws_apis, running


def test_a_proof_replayed_to_another_environment_is_refused(
    shared: tuple[str, list[LambdaRuntime]], issuer: DevIssuer
) -> None:
    _, (first, second, third) = shared
    client = Client(issuer)
    event = client.event()
    assert outcome(first.invoke(event)) == "allow"
    assert outcome(second.invoke(event)) == "dpop_replay"
    assert outcome(third.invoke(event)) == "dpop_replay"
    assert outcome(first.invoke(event)) == "dpop_replay"
    assert outcome(second.invoke(client.event())) == "allow"  # a new proof: a new request


def test_the_in_memory_store_is_per_environment_which_is_the_gap_the_table_closes(
    issuer: DevIssuer, shared: tuple[str, list[LambdaRuntime]]
) -> None:
    aws_apis, _ = shared
    event = Client(issuer).event()
    with environments(issuer, aws_apis, 2, table="") as (first, second):
        assert outcome(first.invoke(event)) == "allow"
        assert outcome(first.invoke(event)) == "dpop_replay"
        assert outcome(second.invoke(event)) == "allow"  # the replay another environment takes


def test_of_sixteen_concurrent_uses_of_one_proof_across_environments_one_is_allowed(
    shared: tuple[str, list[LambdaRuntime]], issuer: DevIssuer
) -> None:
    _, running = shared
    client = Client(issuer)
    for runtime in running:  # warm: every environment has verified the token once
        assert outcome(runtime.invoke(client.event())) == "allow"
    event = client.event()
    targets = [running[index % len(running)] for index in range(16)]
    with concurrent.futures.ThreadPoolExecutor(len(targets)) as pool:
        outcomes = list(pool.map(lambda runtime: outcome(runtime.invoke(event)), targets))
    assert sorted(outcomes) == ["allow"] + ["dpop_replay"] * 15


def test_a_table_that_stops_answering_gives_errors_and_never_an_allow(issuer: DevIssuer) -> None:
    client = Client(issuer)
    with table_on_moto() as (aws_apis, server), environments(issuer, aws_apis, 2) as running:
        assert [outcome(runtime.invoke(client.event())) for runtime in running] == ["allow"] * 2
        server.close()  # moto's server stops: nothing answers on its port
        gone = [runtime.invoke(client.event()) for runtime in running]
        again = running[0].invoke(client.event())
    assert [outcome(answer) for answer in [*gone, again]] == ["replay_store_unavailable"] * 3
    # Raised, not answered: API Gateway turns an authorizer's error into a 500.
    assert all(answer.error_type is not None for answer in [*gone, again])
    assert all(answer.duration_ms is not None and answer.duration_ms < 3000 for answer in gone)
