"""AWS's APIs on loopback: moto's server (from ``.venv-moto``, ``make unit`` installs it).

Tests point boto3 at it with ``AWS_ENDPOINT_URL``: SSM Parameter Store and S3 answer
over HTTP as AWS does, and nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator

import boto3

from authorizer_tools.local.template import read
from tests import ROOT
from tests.ports import child_port

MOTO = ROOT / ".venv-moto" / "bin" / "moto_server"
#: DynamoDB's API, in memory: ``make unit`` installs it (tests/dynalite, locked).
DYNALITE = ROOT / "tests" / "dynalite" / "node_modules" / "dynalite" / "cli.js"
#: What boto3 needs besides the endpoint; moto accepts any key.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def dynalite_server() -> Iterator[str]:
    """dynalite on a free loopback port, answering: DynamoDB's API, kept-alive connections."""
    port = child_port()
    # Tables ready at once (dynalite otherwise mimics DynamoDB's seconds of CREATING).
    at_once = ["--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"]
    command = ["node", str(DYNALITE), "--port", str(port), "--host", "127.0.0.1", *at_once]
    with _serving(command, port, dict(os.environ), "dynalite") as endpoint:
        yield endpoint


@contextlib.contextmanager
def moto_server(unchecked_calls: int | None = None) -> Iterator[str]:
    """moto's server on a free loopback port, answering; its endpoint URL.

    With ``unchecked_calls``, moto enforces IAM after that many calls: the first
    ones set up users and data, every later one is allowed or refused by policy.
    """
    port = child_port()
    env = dict(os.environ)
    if unchecked_calls is not None:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(unchecked_calls)
    command = [str(MOTO), "-H", "127.0.0.1", "-p", str(port)]
    with _serving(command, port, env, "moto's server") as endpoint:
        yield endpoint


@contextlib.contextmanager
def _serving(command: list[str], port: int, env: dict[str, str], what: str) -> Iterator[str]:
    """``command`` running until the block ends, once it accepts connections on ``port``."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{what} did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def make_table(name: str, *, ttl: bool = True) -> None:
    """The DPoP replay table as template.yaml's ``DpopProofs`` defines it, where boto3 points.

    ``ttl=False`` for dynalite, which has no TTL API (nor deletes expired items: what
    the store's own expiry condition is there for).
    """
    table = read(ROOT / "template.yaml")["Resources"]["DpopProofs"]["Properties"]
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        BillingMode=table["BillingMode"],
        AttributeDefinitions=table["AttributeDefinitions"],
        KeySchema=table["KeySchema"],
    )
    if ttl:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification=table["TimeToLiveSpecification"]
        )
