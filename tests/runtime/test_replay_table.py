"""The shared DPoP replay store on DynamoDB, against two implementations of its API on loopback.

moto's server and dynalite (independent implementations: the condition expression
must mean the same to both, as to DynamoDB).

The table is made as ``template.yaml`` makes it (its key and TTL attribute are read
from the template); the store's client is the one the cold start makes, pointed at
moto by ``AWS_ENDPOINT_URL`` as boto3 in Lambda would be pointed at DynamoDB.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from authorizer.binding.replaytable import EXPIRES, KEY, dynamodb_replay_store
from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError, ReplayStoreUnavailable
from authorizer_tools.local.template import read
from tests import ROOT
from tests.aws import CREDENTIALS, dynalite_server, make_table, moto_server

NOW = 1_800_000_000.0


@pytest.fixture(scope="module", params=["moto", "dynalite"])
def dynamodb_api(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """Which implementation, and its endpoint, for the tests of this module."""
    with moto_server() if request.param == "moto" else dynalite_server() as endpoint:
        yield request.param, endpoint


@pytest.fixture
def table(
    dynamodb_api: tuple[str, str], request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    kind, endpoint = dynamodb_api
    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    name = f"proofs-{request.node.name[:40]}".replace("[", "-").replace("]", "")
    make_table(name, ttl=kind == "moto")
    yield name
    boto3.client("dynamodb").delete_table(TableName=name)


def key(jti: str) -> bytes:
    return hashlib.sha256(f"thumbprint\0{jti}".encode()).digest()


def test_the_template_keys_the_table_and_expires_items_by_the_stores_attributes() -> None:
    table = read(ROOT / "template.yaml")["Resources"]["DpopProofs"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": KEY, "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": EXPIRES, "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_a_proof_is_accepted_once_and_its_item_holds_a_digest_and_an_expiry(table: str) -> None:
    store = dynamodb_replay_store(table, "AUTHORIZER_DPOP_REPLAY_TABLE")
    assert store.first_use(key("a"), NOW + 60, NOW) is True
    assert store.first_use(key("a"), NOW + 60, NOW + 1) is False
    assert store.first_use(key("b"), NOW + 60, NOW + 1) is True
    (item, _) = boto3.client("dynamodb").scan(TableName=table)["Items"]
    assert set(item) == {KEY, EXPIRES}  # nothing of the proof but its digest
    assert len(item[KEY]["B"]) == 32 and int(item[EXPIRES]["N"]) > NOW + 60


def test_an_expired_item_not_yet_deleted_lets_its_key_be_used_again(table: str) -> None:
    # DynamoDB's TTL deletes late: the write's condition reads the expiry itself.
    store = dynamodb_replay_store(table, "AUTHORIZER_DPOP_REPLAY_TABLE")
    assert store.first_use(key("a"), NOW + 60, NOW) is True
    assert store.first_use(key("a"), NOW + 60, NOW + 60) is False  # still within its second
    assert store.first_use(key("a"), NOW + 200, NOW + 62) is True
    assert store.first_use(key("a"), NOW + 200, NOW + 63) is False


def test_of_sixteen_concurrent_uses_of_one_proof_exactly_one_is_first(table: str) -> None:
    stores = [dynamodb_replay_store(table, "AUTHORIZER_DPOP_REPLAY_TABLE") for _ in range(16)]
    start = threading.Barrier(len(stores))
    answers: list[bool] = []

    def use(store: Any) -> None:
        start.wait()
        answers.append(store.first_use(key("raced"), NOW + 60, NOW))

    threads = [threading.Thread(target=use, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False] * 15 + [True]


def test_a_missing_table_is_unavailable_not_a_first_use(table: str) -> None:
    store = dynamodb_replay_store(f"{table}-not", "AUTHORIZER_DPOP_REPLAY_TABLE")
    with pytest.raises(ReplayStoreUnavailable, match="ResourceNotFoundException"):
        store.first_use(key("a"), NOW + 60, NOW)


def test_a_table_that_does_not_answer_is_unavailable_within_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A listener that accepts and never answers: the read timeout, once retried.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        store = dynamodb_replay_store("proofs", "AUTHORIZER_DPOP_REPLAY_TABLE")
        started = time.monotonic()
        with pytest.raises(ReplayStoreUnavailable, match="did not answer"):
            store.first_use(key("a"), NOW + 60, NOW)
        assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "table", ["ab", "proofs table", "proofs/x", "arn:aws:dynamodb:us-east-1:123:table/p"]
)
def test_a_malformed_table_fails_the_cold_start_naming_the_setting(table: str) -> None:
    with pytest.raises(ConfigError, match="^AUTHORIZER_DPOP_REPLAY_TABLE must be a DynamoDB"):
        dynamodb_replay_store(table, "AUTHORIZER_DPOP_REPLAY_TABLE")


BASE = {"JWT_ISSUER": "https://idp.example", "JWT_AUDIENCE": "api"}


def test_the_table_needs_dpop_and_excludes_another_shared_store() -> None:
    with pytest.raises(ConfigError, match="^AUTHORIZER_DPOP_REPLAY_TABLE is set, but no issuer"):
        load_settings({**BASE, "AUTHORIZER_DPOP_REPLAY_TABLE": "proofs"})
    both = {**BASE, "JWT_SENDER_CONSTRAINT": "either", "AUTHORIZER_DPOP_REPLAY_TABLE": "proofs",
            "AUTHORIZER_DPOP_REPLAY_STORE": "mystore:make"}  # fmt: skip
    with pytest.raises(ConfigError, match="^AUTHORIZER_DPOP_REPLAY_TABLE and AUTHORIZER_DPOP_RE"):
        load_settings(both)
