"""Opaque access tokens, introspected at a real provider (panva/oidc-provider, RFC 7662).

The provider issues opaque tokens for https://api.example.test/opaque and answers
introspection for the "introspector" client, whose secret the authorizer reads
from SSM Parameter Store (moto's server on loopback), as it would at a cold start
in Lambda. Time is the provider's and the wall clock's: the cache's bounds are
checked with the authorizer's own clock moved on.
"""

from __future__ import annotations

import socket
import threading
import time

import boto3
import pytest
from aws_lambda_powertools import Logger, Metrics

from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError
from authorizer.pipeline import Authorizer
from authorizer_tools.eventgen import make_event
from tests.answers import answer
from tests.conftest import FakeClock
from tests.oidc import Provider

OPAQUE = "https://api.example.test/opaque"
SECRET = "introspector-secret-for-loopback-tests"


def settings_env(provider: Provider, **overrides: str) -> dict[str, str]:
    return {
        "JWT_ISSUER": provider.issuer,
        "JWT_AUDIENCE": OPAQUE,
        "JWT_INTROSPECTION_CLIENT_ID": "introspector",
        "JWT_INTROSPECTION_CLIENT_SECRET": "ssm:/orders-api/introspection",
        "AUTHORIZER_PRINCIPAL_CLAIMS": "sub,client_id",
        **overrides,
    }


def introspecting(provider: Provider, clock: FakeClock, **overrides: str) -> Authorizer:
    boto3.client("ssm").put_parameter(
        Name="/orders-api/introspection", Value=SECRET, Type="SecureString", Overwrite=True
    )
    return Authorizer(
        load_settings(settings_env(provider, **overrides)),
        logger=Logger(service="introspection-tests"),
        metrics=Metrics(namespace="AuthorizerTests"),
        clock=clock,
        monotonic=clock,
    )


def decide(authorizer: Authorizer, token: str) -> tuple[int, str]:
    event = make_event("rest_request", f"Bearer {token}")
    return answer(authorizer, event).status, authorizer.decide(event).reason


def requests(authorizer: Authorizer) -> int:
    opaque = authorizer._opaque
    assert opaque is not None
    return opaque[1].requests


def test_an_opaque_token_is_introspected_once_and_its_claims_decide(
    aws: str, provider: Provider
) -> None:
    clock = FakeClock(time.time())
    authorizer = introspecting(provider, clock, JWT_REQUIRED_SCOPES="read:orders")
    token = provider.token(OPAQUE, "read:orders")
    assert "." not in token  # opaque, as the provider issues them for this resource
    answered = answer(authorizer, make_event("rest_request", f"Bearer {token}"))
    assert answered.status == 200
    assert answered.response["context"]["client_id"] == "m2m-client"
    for _ in range(5):
        assert decide(authorizer, token)[0] == 200
    assert requests(authorizer) == 1  # asked once, then answered from its digest
    narrow = provider.token(OPAQUE, "write:orders")
    assert decide(authorizer, narrow) == (403, "insufficient_scope")


def test_a_revoked_token_is_refused_once_its_kept_answer_expires(
    aws: str, provider: Provider
) -> None:
    clock = FakeClock(time.time())
    authorizer = introspecting(provider, clock, AUTHORIZER_INTROSPECTION_CACHE_SECONDS="30")
    token = provider.token(OPAQUE)
    assert decide(authorizer, token)[0] == 200
    provider.revoke(token)
    assert decide(authorizer, token)[0] == 200  # the kept answer, for at most 30 s
    clock.advance(31)
    assert decide(authorizer, token) == (401, "inactive_token")
    asked = requests(authorizer)
    clock.advance(5)
    assert decide(authorizer, token)[1] == "inactive_token"
    assert requests(authorizer) == asked  # a refusal is kept briefly too
    clock.advance(6)
    decide(authorizer, token)
    assert requests(authorizer) == asked + 1


def test_a_jwt_is_never_introspected_and_an_opaque_token_never_reaches_the_jwt_checks(
    aws: str, provider: Provider
) -> None:
    clock = FakeClock(time.time())
    authorizer = introspecting(
        provider, clock, JWT_AUDIENCE=f"{OPAQUE},https://api.example.test/RS256"
    )
    jwt_token = provider.token("https://api.example.test/RS256")
    assert decide(authorizer, jwt_token)[0] == 200
    assert decide(authorizer, "a.b.c")[1] == "malformed"  # JWT-shaped: the JWT checks' code
    assert requests(authorizer) == 0
    assert decide(authorizer, "not-a-token-the-provider-knows") == (401, "inactive_token")
    assert requests(authorizer) == 1


def test_a_token_for_another_api_is_refused_by_its_audience(aws: str, provider: Provider) -> None:
    clock = FakeClock(time.time())
    authorizer = introspecting(provider, clock, JWT_AUDIENCE="https://api.example.test/other")
    assert decide(authorizer, provider.token(OPAQUE)) == (401, "wrong_audience")


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9/introspect", "slow"])
def test_an_endpoint_that_fails_or_stalls_is_a_500_never_an_allow(
    aws: str, provider: Provider, endpoint: str
) -> None:
    clock = FakeClock(time.time())
    accepted: list[socket.socket] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        if endpoint == "slow":  # accepts, then says nothing until the deadline passes
            endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}/introspect"
            threading.Thread(
                target=lambda: accepted.append(listener.accept()[0]), daemon=True
            ).start()
        authorizer = introspecting(
            provider, clock, JWT_INTROSPECTION_ENDPOINT=endpoint, JWKS_FETCH_TIMEOUT_SECONDS="0.5"
        )
        started = time.monotonic()
        assert decide(authorizer, provider.token(OPAQUE)) == (500, "introspection_unavailable")
        assert time.monotonic() - started < 5
        for connection in accepted:
            connection.close()


def test_the_secret_must_be_named_never_given(provider: Provider) -> None:
    with pytest.raises(ConfigError, match="must name where the secret is"):
        load_settings(settings_env(provider, JWT_INTROSPECTION_CLIENT_SECRET=SECRET))


def test_the_client_can_authenticate_with_its_private_key(aws: str, provider: Provider) -> None:
    # private_key_jwt (RFC 7523): the provider made the client's key; its private half, PEM,
    # is the "secret" in SSM, and every request carries an assertion signed with it.
    boto3.client("ssm").put_parameter(Name="/orders-api/introspection-key", Type="SecureString",
                                      Value=provider.introspector_key, Overwrite=True)  # fmt: skip
    clock = FakeClock(time.time())
    authorizer = Authorizer(
        load_settings(settings_env(
            provider, JWT_INTROSPECTION_CLIENT_ID="introspector-jwt",
            JWT_INTROSPECTION_AUTH="private_key_jwt",
            JWT_INTROSPECTION_CLIENT_SECRET="ssm:/orders-api/introspection-key",
        )),
        logger=Logger(service="introspection-tests"),
        metrics=Metrics(namespace="AuthorizerTests"),
        clock=clock,
        monotonic=clock,
    )  # fmt: skip
    assert decide(authorizer, provider.token(OPAQUE)) == (200, "allowed")


def test_a_private_key_that_is_none_fails_the_cold_start(aws: str, provider: Provider) -> None:
    boto3.client("ssm").put_parameter(Name="/orders-api/not-a-key", Type="SecureString",
                                      Value="s3cr3t", Overwrite=True)  # fmt: skip
    env = settings_env(provider, JWT_INTROSPECTION_AUTH="private_key_jwt",
                       JWT_INTROSPECTION_CLIENT_SECRET="ssm:/orders-api/not-a-key")  # fmt: skip
    with pytest.raises(ConfigError, match="the secret is the client's private key"):
        load_settings(env)
