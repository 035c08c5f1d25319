"""Tokens from a real, independently written OpenID provider (panva/oidc-provider) on loopback.

The provider issues RFC 9068 JWT access tokens with the client_credentials grant and
resource indicators, signed with RS256, PS256, ES256 and EdDSA; the authorizer finds
its keys through discovery. `make setup` installs it from the lock file with `npm ci`.
"""

from __future__ import annotations

import time

import pytest
from aws_lambda_powertools import Logger, Metrics

from authorizer.app import Authorizer
from authorizer.config.settings import load_settings
from authorizer_tools.eventgen import make_event
from tests.answers import answer, status
from tests.conftest import FakeClock
from tests.oidc import ALGORITHMS, RESOURCES, Provider


def authorizer_for(
    provider: Provider,
    clock: FakeClock,
    scopes: str = "read:orders",
    audiences: tuple[str, ...] = tuple(RESOURCES),
) -> Authorizer:
    settings = load_settings(
        {
            "JWT_ISSUER": provider.issuer,
            "JWT_AUDIENCE": ",".join(audiences),
            "JWT_ALGORITHMS": ",".join(ALGORITHMS),
            "JWT_REQUIRED_SCOPES": scopes,
            "JWT_LEEWAY_SECONDS": "5",
        }
    )
    return Authorizer(
        settings,
        logger=Logger(service="oidc-provider-tests"),
        metrics=Metrics(namespace="AuthorizerTests"),
        clock=clock,
        monotonic=clock,
    )


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_provider_tokens_of_every_algorithm_are_allowed(provider: Provider, alg: str) -> None:
    clock = FakeClock(time.time())
    authorizer = authorizer_for(provider, clock)
    token = provider.token(f"https://api.example.test/{alg}")
    event = make_event("rest_request", f"Bearer {token}")
    answered = answer(authorizer, event)
    assert answered.status == 200
    response = answered.response
    assert response["principalId"] == "m2m-client"
    assert response["context"]["client_id"] == "m2m-client"
    assert response["context"]["aud"] == f"https://api.example.test/{alg}"
    simple = authorizer.handle(make_event("http_v2", f"Bearer {token}"))
    assert simple["isAuthorized"] is True


def test_a_provider_token_without_the_required_scope_is_denied(provider: Provider) -> None:
    clock = FakeClock(time.time())
    authorizer = authorizer_for(provider, clock, scopes="read:orders write:orders")
    token = provider.token(RESOURCES[0], scope="read:orders")
    assert status(authorizer, make_event("rest_token", f"Bearer {token}")) == 403


def test_a_provider_token_for_another_resource_is_refused(provider: Provider) -> None:
    clock = FakeClock(time.time())
    authorizer = authorizer_for(provider, clock, audiences=("https://api.example.test/ES256",))
    token = provider.token("https://api.example.test/RS256")
    assert authorizer.decide(make_event("rest_token", f"Bearer {token}")).reason == "wrong_audience"
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handle(make_event("rest_token", f"Bearer {token}"))


def test_key_rotation_at_the_provider_while_the_authorizer_is_warm(provider: Provider) -> None:
    clock = FakeClock(time.time())
    authorizer = authorizer_for(provider, clock)
    old_token = provider.token(RESOURCES[2])
    assert status(authorizer, make_event("rest_token", f"Bearer {old_token}")) == 200
    provider.restart()  # every signing key replaced
    new_token = provider.token(RESOURCES[2])
    clock.advance(authorizer.settings.jwks_refresh_cooldown_seconds)
    # The unknown kid triggers one refetch; the new key verifies.
    assert status(authorizer, make_event("rest_token", f"Bearer {new_token}")) == 200
    # The refresh replaced the set: the withdrawn key no longer verifies anything.
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handle(make_event("rest_token", f"Bearer {old_token}"))
