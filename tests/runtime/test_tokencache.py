"""The verified-token cache: faster for tokens seen before, never laxer."""

from __future__ import annotations

import pytest

from authorizer.errors import TokenError
from authorizer.tokens.cache import VerifiedTokenCache
from authorizer_tools.devissuer.issuer import DevIssuer
from tests.conftest import FakeClock, build_authorizer, mint
from tests.tokens import counted


def test_a_token_seen_before_skips_the_signature_check(issuer: DevIssuer, clock: FakeClock) -> None:
    authorizer = build_authorizer(issuer, clock)
    counter = counted(authorizer)
    token = mint(issuer, clock)
    first = authorizer.issuers[0].verifier.verify(token)
    for _ in range(10):
        assert authorizer.issuers[0].verifier.verify(token) is first
    assert counter.calls == 1


def test_a_different_token_is_never_served_from_the_cache(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock)
    counter = counted(authorizer)
    token = mint(issuer, clock)
    authorizer.issuers[0].verifier.verify(token)
    head, payload, signature = token.split(".")
    # Another signature, still canonical base64url (256 bytes end in A, Q, g or w).
    tail = "AQ" if signature.endswith("AA") else "AA"
    forged = f"{head}.{payload}.{signature[:-2]}{tail}"
    with pytest.raises(TokenError):
        authorizer.issuers[0].verifier.verify(forged)
    assert counter.calls == 2


def test_a_cached_token_still_expires(issuer: DevIssuer, clock: FakeClock) -> None:
    authorizer = build_authorizer(issuer, clock, JWT_LEEWAY_SECONDS="10")
    token = mint(issuer, clock)  # exp = now + 300
    authorizer.issuers[0].verifier.verify(token)
    clock.advance(309)
    assert authorizer.issuers[0].verifier.verify(token)
    clock.advance(1)
    with pytest.raises(TokenError) as caught:
        authorizer.issuers[0].verifier.verify(token)
    assert caught.value.reason == "expired"


def test_a_cached_token_dies_with_its_key(issuer: DevIssuer, clock: FakeClock) -> None:
    authorizer = build_authorizer(issuer, clock, JWKS_CACHE_SECONDS="60")
    token = mint(issuer, clock)
    authorizer.issuers[0].verifier.verify(token)
    issuer.rotate()
    clock.advance(60)  # the key set expires; the next lookup refreshes it
    with pytest.raises(TokenError) as caught:
        authorizer.issuers[0].verifier.verify(token)
    assert caught.value.reason == "unknown_kid"


def test_a_cached_token_is_refused_once_the_keys_are_too_stale(clock: FakeClock) -> None:
    with DevIssuer() as issuer:
        authorizer = build_authorizer(
            issuer, clock, JWKS_CACHE_SECONDS="60", JWKS_MAX_STALE_SECONDS="60"
        )
        token = issuer.mint({"aud": "https://api.example.test"}, now=clock.now, lifetime=3600)
        authorizer.issuers[0].verifier.verify(token)
    clock.advance(120)  # the issuer is gone and the cached set is past its stale limit
    with pytest.raises(Exception, match="too old"):
        authorizer.issuers[0].verifier.verify(token)


def test_the_cache_is_bounded_and_evicts_the_least_recently_used(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock, AUTHORIZER_TOKEN_CACHE_SIZE="3")
    counter = counted(authorizer)
    tokens = [mint(issuer, clock, sub=f"user-{i}") for i in range(4)]
    for token in tokens[:3]:
        authorizer.issuers[0].verifier.verify(token)
    authorizer.issuers[0].verifier.verify(tokens[0])  # now the most recently used
    authorizer.issuers[0].verifier.verify(tokens[3])  # evicts tokens[1]
    assert len(authorizer.issuers[0].verifier._cache) == 3
    before = counter.calls
    authorizer.issuers[0].verifier.verify(tokens[0])
    assert counter.calls == before
    authorizer.issuers[0].verifier.verify(tokens[1])
    assert counter.calls == before + 1


def test_size_zero_disables_the_cache(issuer: DevIssuer, clock: FakeClock) -> None:
    authorizer = build_authorizer(issuer, clock, AUTHORIZER_TOKEN_CACHE_SIZE="0")
    counter = counted(authorizer)
    token = mint(issuer, clock)
    for _ in range(3):
        authorizer.issuers[0].verifier.verify(token)
    assert counter.calls == 3


def test_the_cache_keys_by_digest_not_by_token() -> None:
    cache: VerifiedTokenCache[object] = VerifiedTokenCache(2)
    assert len(VerifiedTokenCache.digest("a.b.c")) == 32
    assert VerifiedTokenCache.digest("a.b.c") != VerifiedTokenCache.digest("a.b.d")
    assert cache.get(VerifiedTokenCache.digest("a.b.c"), 0.0) is None
