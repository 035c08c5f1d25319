"""``lambda_handler``, the function Lambda calls, at one configuration, against the floor.

    python -m benchmarks.entry_point CONFIGURATION --out FILE.json [--iterations N]

Runs in a fresh process because the handler reads its configuration once, at
import. The environment is the template's, for a loopback dev issuer:
``defaults`` keeps the template's logging (INFO) and metrics (on);
``quiet`` sets ``LogLevel=WARNING`` and ``POWERTOOLS_METRICS_DISABLED``. Log
and metric lines go to ``/dev/null`` through the stream Lambda's would be
(stdout), so writing them is measured. Four kinds of request, REST ``TOKEN``
events:

* ``first_seen``: a valid token never seen before (the signature is checked);
* ``seen_before``: a valid token again (the verified-token cache answers);
* ``junk``: a value that is not a JWT;
* ``random_kid``: a well-formed token naming a key the issuer never had (a
  flood meant to make the authorizer hammer the issuer; the fetch count is noted).

``dpop`` is the defaults with ``SenderConstraint=either`` (and the API Gateway
cache off, as the template requires), HTTP API 2.0 events:

* ``dpop_new_proof``: a DPoP-bound token seen before, each request with a new
  ES256 proof (what every warm request of a DPoP client costs: one proof check);
* ``dpop_replayed``: one proof sent again and again (refused as a replay);
* ``bearer_seen_before``: a plain bearer token seen before, under the same policy.

``dpop_shared`` is ``dpop`` with the replay store every environment shares
(``DpopReplayTable``: the table on dynalite on loopback), the same requests.

``opaque`` is the defaults with the issuer introspecting opaque tokens (the
template's ``Introspection*`` parameters; the client's secret a SecureString in
SSM, moto's server on loopback, read once at the cold start), REST ``TOKEN`` events:

* ``opaque_first_seen``: an opaque token never seen before (one introspection
  request, over a kept-alive loopback connection, and the answer's checks);
* ``opaque_seen_before``: the same opaque token again (its kept answer).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from authorizer_tools.dpopclient import DpopKey
from authorizer_tools.eventgen import dpop_event, make_event, request_url
from authorizer_tools.local.context import local_context
from authorizer_tools.local.template import environment as template_environment
from authorizer_tools.local.template import read
from benchmarks.issuer import AUDIENCE, RemoteIssuer
from benchmarks.measure import Figure, Floor, against_floor, write_figures
from tests.aws import CREDENTIALS, dynalite_server, make_table, moto_server

ROOT = Path(__file__).resolve().parent.parent
SECRET = "ssm:/bench/introspection"
REPLAY_TABLE = "bench-dpop-proofs"
CONFIGURATIONS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    # name: (template parameters, extra environment)
    "defaults": ({}, {}),
    "quiet": ({"LogLevel": "WARNING"}, {"POWERTOOLS_METRICS_DISABLED": "true"}),
    "dpop": ({"SenderConstraint": "either", "AuthorizerCacheSeconds": "0"}, {}),
    "opaque": ({"IntrospectionClientId": "bench", "IntrospectionClientSecret": SECRET}, {}),
    "dpop_shared": ({"SenderConstraint": "either", "AuthorizerCacheSeconds": "0",
                     "DpopReplayTable": REPLAY_TABLE}, {}),
}  # fmt: skip
#: What needs AWS's APIs on loopback: a secret in SSM (moto), or a table (dynalite).
ON_AWS = ("opaque", "dpop_shared")
DPOP_URL = request_url()  # what each DPoP proof names


def environment(
    issuer: str, configuration: str, more: dict[str, str] | None = None
) -> dict[str, str]:
    """What the template gives the function, for ``issuer`` and ``configuration``."""
    parameters, extra = CONFIGURATIONS[configuration]
    overrides = {"Issuer": issuer, "Audience": AUDIENCE, **parameters, **(more or {})}
    return {**template_environment(read(ROOT / "template.yaml"), overrides), **extra}


def unsigned_with_random_kid(issuer: str) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = {"alg": "RS256", "typ": "at+jwt", "kid": os.urandom(8).hex()}
    payload = {"iss": issuer, "sub": "someone", "aud": AUDIENCE, "iat": 1, "exp": 4102444800}
    parts = (json.dumps(header).encode(), json.dumps(payload).encode(), os.urandom(256))
    return ".".join(b64(part) for part in parts)


def measure(configuration: str, iterations: int, rounds: int) -> list[Figure]:
    if configuration in ON_AWS:
        # The table on dynalite: it keeps connections alive, as DynamoDB does (moto's server
        # closes each one, and a new connection per write would be most of the figure).
        server = dynalite_server() if configuration == "dpop_shared" else moto_server()
        with server as aws_apis:
            return _measure(configuration, iterations, rounds, aws_apis)
    return _measure(configuration, iterations, rounds, None)


def _measure(
    configuration: str, iterations: int, rounds: int, aws_apis: str | None
) -> list[Figure]:
    issuer = RemoteIssuer()
    more = (
        {"IntrospectionEndpoint": issuer.introspection_endpoint}
        if configuration == "opaque"
        else {}
    )
    os.environ.update(environment(issuer.issuer, configuration, more))
    if aws_apis is not None:
        _on_aws(aws_apis, configuration)
    # Before the import: Powertools' logger and metrics write to the stdout they find.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    from authorizer.app import lambda_handler  # noqa: PLC0415 - reads the environment above

    context = local_context("bench")
    floor = Floor()

    def events(tokens: Sequence[str]) -> list[dict[str, Any]]:
        return [make_event("rest_token", f"Bearer {token}") for token in tokens]

    def invoke_all(batch: Sequence[dict[str, Any]]) -> int:
        for event in batch:
            try:
                lambda_handler(event, context)
            except Exception:  # noqa: BLE001, S112 - a refusal raises "Unauthorized", as in Lambda
                continue
        return len(batch)

    if configuration in ("dpop", "dpop_shared", "opaque"):
        make = _opaque_scenarios if configuration == "opaque" else _dpop_scenarios
        scenarios = make(issuer, invoke_all, iterations, rounds)
        asked_before = issuer.introspections()
        figures = [
            against_floor(f"{configuration}.{name}", run, floor, rounds) for name, run in scenarios
        ]
        if configuration == "opaque":
            asked = issuer.introspections() - asked_before
            note = f"{rounds * iterations + 1} distinct tokens: {asked} introspection request(s)"
            figures[0] = replace(figures[0], note=note)
        issuer.stop()
        return figures
    fresh = iter([events(issuer.mint({"aud": AUDIENCE}, iterations)) for _ in range(rounds)])
    again = events(issuer.mint({"aud": AUDIENCE}, 1)) * iterations
    junk = events([f"{os.urandom(24).hex()}.{os.urandom(8).hex()}"] * iterations)
    flood = events([unsigned_with_random_kid(issuer.issuer) for _ in range(iterations)])
    invoke_all(again[:10])  # warm: the first request of a container is not what this measures
    fetches = issuer.fetches()
    scenarios = [
        ("first_seen", lambda: invoke_all(next(fresh))),
        ("seen_before", lambda: invoke_all(again)),
        ("junk", lambda: invoke_all(junk)),
        ("random_kid", lambda: invoke_all(flood)),
    ]
    figures = [
        against_floor(f"{configuration}.{name}", run, floor, rounds) for name, run in scenarios
    ]
    refetches = issuer.fetches() - fetches
    figures[-1] = replace(
        figures[-1], note=f"{rounds * iterations} tokens, {refetches} key-set fetch(es)"
    )
    issuer.stop()
    return figures


Scenario = tuple[str, Callable[[], int]]


def _dpop_scenarios(
    issuer: RemoteIssuer,
    invoke_all: Callable[[Sequence[dict[str, Any]]], int],
    iterations: int,
    rounds: int,
) -> list[Scenario]:
    """The DPoP requests: proofs are made beforehand, a new one for every request."""
    key = DpopKey.generate("ES256")
    (bound,) = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}}, 1)
    (plain,) = issuer.mint({"aud": AUDIENCE}, 1)

    def dpop_events(proofs: Sequence[str]) -> list[dict[str, Any]]:
        return [dpop_event(bound, proof) for proof in proofs]

    def new_proofs() -> list[str]:
        return [key.proof("GET", DPOP_URL, bound) for _ in range(iterations)]

    batches = iter([dpop_events(new_proofs()) for _ in range(rounds + 1)])
    invoke_all(next(batches)[:10])  # warm, and the token is in the verified-token cache
    replayed = dpop_events([key.proof("GET", DPOP_URL, bound)]) * iterations
    bearer = [make_event("http_v2", f"Bearer {plain}")] * iterations
    return [
        ("dpop_new_proof", lambda: invoke_all(next(batches))),
        ("dpop_replayed", lambda: invoke_all(replayed)),
        ("bearer_seen_before", lambda: invoke_all(bearer)),
    ]


def _opaque_scenarios(
    issuer: RemoteIssuer,
    invoke_all: Callable[[Sequence[dict[str, Any]]], int],
    iterations: int,
    rounds: int,
) -> list[Scenario]:
    """Opaque tokens: each first-seen one costs one introspection request."""

    def opaque(count: int) -> list[dict[str, Any]]:
        return [make_event("rest_token", f"Bearer {os.urandom(24).hex()}") for _ in range(count)]

    fresh = iter([opaque(iterations) for _ in range(rounds + 1)])
    invoke_all(next(fresh)[:10])  # warm: the endpoint's connection is open
    again = opaque(1) * iterations
    return [
        ("opaque_first_seen", lambda: invoke_all(next(fresh))),
        ("opaque_seen_before", lambda: invoke_all(again)),
    ]


def _on_aws(aws_apis: str, configuration: str) -> None:
    """The introspection client's secret in SSM, or the replay table, as the template names them."""
    os.environ.update({**CREDENTIALS, "AWS_ENDPOINT_URL": aws_apis})
    if configuration == "dpop_shared":
        make_table(REPLAY_TABLE, ttl=False)
        return
    import boto3  # noqa: PLC0415 - only this configuration needs it

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=SECRET.removeprefix("ssm:"), Type="SecureString",
                      Value="bench-secret", Overwrite=True)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.entry_point", description=__doc__)
    parser.add_argument("configuration", choices=sorted(CONFIGURATIONS))
    parser.add_argument("--out", type=Path, required=True, help="where to write the figures (JSON)")
    parser.add_argument("--iterations", type=int, default=400, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the best one counts")
    args = parser.parse_args(argv)
    write_figures(args.out, measure(args.configuration, args.iterations, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
