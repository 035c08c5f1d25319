"""The key cache against a real loopback issuer, with time moved by the test."""

from __future__ import annotations

import pytest

from authorizer.errors import FetchError, KeysUnavailable, UnknownKid
from authorizer.keys.cache import IssuerKeySource, KeyCache, RefreshOutcome
from authorizer.keys.fetch import HttpFetcher
from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from tests.conftest import FakeClock

FRESH, COOLDOWN, STALE = 600, 30, 3600


def cache_for(
    issuer: DevIssuer,
    clock: FakeClock,
    *,
    jwks_uri: str | None = None,
    max_stale: int = STALE,
    outcomes: list[RefreshOutcome] | None = None,
) -> KeyCache:
    source = IssuerKeySource.create(
        issuer.issuer, issuer.discovery_uri, HttpFetcher(timeout=1), jwks_uri
    )
    sink = outcomes if outcomes is not None else []
    return KeyCache(
        source,
        fresh_seconds=FRESH,
        cooldown_seconds=COOLDOWN,
        max_stale_seconds=max_stale,
        clock=clock,
        on_refresh=sink.append,
    )


def fail_everything(issuer: DevIssuer) -> None:
    issuer.responder = lambda path: Reply(503, b"down")


def test_one_fetch_serves_many_lookups_while_fresh(issuer: DevIssuer, clock: FakeClock) -> None:
    kid = next(iter(issuer.keys))
    cache = cache_for(issuer, clock)
    for _ in range(50):
        assert cache.get(kid).kid == kid
        clock.advance(10)
    assert issuer.fetches("/jwks") == 1
    assert issuer.fetches("/.well-known/openid-configuration") == 1


def test_discovery_is_skipped_when_jwks_uri_is_configured(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    cache = cache_for(issuer, clock, jwks_uri=issuer.jwks_uri)
    cache.get(next(iter(issuer.keys)))
    assert issuer.fetches("/.well-known/openid-configuration") == 0
    assert issuer.fetches("/jwks") == 1


def test_keys_are_refetched_once_fresh_time_runs_out(issuer: DevIssuer, clock: FakeClock) -> None:
    kid = next(iter(issuer.keys))
    cache = cache_for(issuer, clock)
    cache.get(kid)
    clock.advance(FRESH - 1)
    cache.get(kid)
    assert issuer.fetches() == 1
    clock.advance(1)
    cache.get(kid)
    assert issuer.fetches() == 2
    # The discovered jwks_uri is remembered: discovery ran once.
    assert issuer.fetches("/.well-known/openid-configuration") == 1


def test_a_flood_of_unknown_kids_causes_at_most_one_fetch_per_cooldown(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    known = next(iter(issuer.keys))
    cache = cache_for(issuer, clock)
    cache.get(known)
    for round_ in range(3):
        for index in range(200):
            with pytest.raises(UnknownKid):
                cache.get(f"forged-{round_}-{index}")
            assert cache.get(known).kid == known  # cached keys keep working
            clock.advance(0.1)
        clock.advance(COOLDOWN)
    # The cold fetch; round 0 starts inside its cooldown, so no refetch; rounds
    # 1 and 2 each start after a cooldown and allow exactly one refetch.
    assert issuer.fetches() == 3


def test_a_new_kid_from_rotation_is_picked_up_with_one_refetch(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    old = next(iter(issuer.keys))
    cache = cache_for(issuer, clock)
    cache.get(old)
    clock.advance(COOLDOWN)
    new = issuer.add_key("RS256")
    assert cache.get(new).kid == new
    assert issuer.fetches() == 2


def test_a_refresh_replaces_the_set_so_removed_keys_stop_working(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    old = next(iter(issuer.keys))
    cache = cache_for(issuer, clock)
    cache.get(old)
    new = issuer.rotate()
    clock.advance(FRESH)
    assert cache.get(new).kid == new
    with pytest.raises(UnknownKid):
        cache.get(old)


def test_a_failed_refresh_keeps_serving_the_last_good_set_until_max_stale(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    kid = next(iter(issuer.keys))
    outcomes: list[RefreshOutcome] = []
    cache = cache_for(issuer, clock, outcomes=outcomes)
    loaded_at = clock.now
    cache.get(kid)
    fail_everything(issuer)
    clock.advance(FRESH)
    assert cache.get(kid).kid == kid  # refresh failed, stale key served
    assert [(o.ok, o.trigger) for o in outcomes] == [(True, "cold"), (False, "expired")]
    clock.advance(COOLDOWN - 1)
    cache.get(kid)
    assert len(outcomes) == 2  # no retry inside the cooldown
    clock.advance(1)
    cache.get(kid)
    assert len(outcomes) == 3  # one retry per cooldown
    clock.now = loaded_at + FRESH + STALE - 1
    assert cache.get(kid).kid == kid
    clock.now = loaded_at + FRESH + STALE
    with pytest.raises(KeysUnavailable, match="too old"):
        cache.get(kid)
    assert not outcomes[-1].ok


def test_the_issuer_recovering_ends_the_stale_period(issuer: DevIssuer, clock: FakeClock) -> None:
    kid = next(iter(issuer.keys))
    cache = cache_for(issuer, clock)
    cache.get(kid)
    fail_everything(issuer)
    clock.advance(FRESH)
    cache.get(kid)
    issuer.responder = None
    clock.advance(COOLDOWN)
    cache.get(kid)
    clock.advance(FRESH + STALE - 1)  # measured from the recovery fetch
    fail_everything(issuer)
    assert cache.get(kid).kid == kid


def test_max_stale_zero_fails_closed_as_soon_as_keys_expire(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    kid = next(iter(issuer.keys))
    cache = cache_for(issuer, clock, max_stale=0)
    cache.get(kid)
    fail_everything(issuer)
    clock.advance(FRESH)
    with pytest.raises(KeysUnavailable):
        cache.get(kid)


def test_no_keys_at_all_is_keys_unavailable_not_unknown_kid(clock: FakeClock) -> None:
    with DevIssuer() as issuer:
        fail_everything(issuer)
        cache = cache_for(issuer, clock)
        with pytest.raises(KeysUnavailable, match="HTTP 503"):
            cache.get("anything")
        # Within the cooldown a cold cache does not retry on every request.
        with pytest.raises(KeysUnavailable):
            cache.get("anything")
        assert issuer.fetches("/.well-known/openid-configuration") == 1


def test_prefetch_reports_failure_without_raising(clock: FakeClock) -> None:
    outcomes: list[RefreshOutcome] = []
    with DevIssuer() as issuer:
        fail_everything(issuer)
        cache = cache_for(issuer, clock, outcomes=outcomes)
        assert cache.prefetch() is False
        assert outcomes[0].trigger == "prefetch" and not outcomes[0].ok
        issuer.responder = None
        clock.advance(COOLDOWN)
        kid = next(iter(issuer.keys))
        assert cache.get(kid).kid == kid
        assert outcomes[-1].ok and outcomes[-1].trigger == "cold" and outcomes[-1].key_count == 1


def test_discovery_must_name_the_configured_issuer(issuer: DevIssuer) -> None:
    issuer.responder = lambda path: (
        Reply(200, b'{"issuer": "https://evil.example", "jwks_uri": "https://evil.example/k"}')
        if path.startswith("/.well-known")
        else None
    )
    source = IssuerKeySource.create(issuer.issuer, issuer.discovery_uri, HttpFetcher(), None)
    with pytest.raises(FetchError, match="advertises issuer 'https://evil.example'"):
        source.load()
    assert issuer.fetches("/jwks") == 0


@pytest.mark.parametrize(
    "jwks_uri", ["http://169.254.169.254/keys", "file:///etc/passwd", 42, None]
)
def test_discovery_must_give_a_safe_jwks_uri(issuer: DevIssuer, jwks_uri: object) -> None:
    import json

    body = json.dumps({"issuer": issuer.issuer, "jwks_uri": jwks_uri}).encode()
    issuer.responder = lambda path: Reply(200, body) if path.startswith("/.well-known") else None
    source = IssuerKeySource.create(issuer.issuer, issuer.discovery_uri, HttpFetcher(), None)
    with pytest.raises(FetchError, match="jwks_uri"):
        source.load()


def test_a_failing_jwks_uri_is_rediscovered_next_time(issuer: DevIssuer) -> None:
    source = IssuerKeySource.create(issuer.issuer, issuer.discovery_uri, HttpFetcher(), None)
    source.load()
    issuer.responder = lambda path: Reply(500, b"") if path == "/jwks" else None
    with pytest.raises(FetchError):
        source.load()
    issuer.responder = None
    source.load()
    assert issuer.fetches("/.well-known/openid-configuration") == 2


def test_a_configured_jwks_uri_is_never_replaced_by_discovery(issuer: DevIssuer) -> None:
    source = IssuerKeySource.create(
        issuer.issuer, issuer.discovery_uri, HttpFetcher(), issuer.jwks_uri
    )
    issuer.responder = lambda path: Reply(500, b"") if path == "/jwks" else None
    with pytest.raises(FetchError):
        source.load()
    issuer.responder = None
    source.load()
    assert issuer.fetches("/.well-known/openid-configuration") == 0
