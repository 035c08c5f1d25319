"""A failing issuer on loopback: every fault ends closed, fast, and with few fetches.

Each case measures the time a request waits and the number of requests the
issuer sees; the fetch deadline is 0.5 s here.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import io
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics

from authorizer.config.settings import load_settings
from authorizer.pipeline import Authorizer
from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from authorizer_tools.eventgen import make_event
from tests.attacks import refuse
from tests.conftest import FakeClock, build_authorizer, mint
from tests.tokens import signed

TIMEOUT = 0.5
SLACK = 0.5  # scheduling noise on a shared machine

FAULTS: dict[str, Callable[[DevIssuer], Reply | None]] = {
    "http-500": lambda issuer: Reply(500, b"oops"),
    "http-503": lambda issuer: Reply(503, b"maintenance"),
    "http-429": lambda issuer: Reply(429, b"slow down", {"Retry-After": "3600"}),
    "html-login-page": lambda issuer: Reply(
        200, b"<html><body>Sign in</body></html>", {"Content-Type": "text/html"}
    ),
    "redirect-link-local": lambda issuer: Reply(302, b"", {"Location": "http://169.254.169.254/"}),
    "redirect-same-host": lambda issuer: Reply(301, b"", {"Location": f"{issuer.issuer}/jwks"}),
    "hang": lambda issuer: Reply(200, b"{}", delay=3),
    "drip": lambda issuer: Reply(200, b'{"keys":[' + b" " * 4096 + b"]}", drip=0.01),
    "50-mb-body": lambda issuer: Reply(
        200, b'{"keys":"' + b"x" * 50_000_000 + b'"}', declare_length=False
    ),
    "gzip-bomb": lambda issuer: Reply(
        200, gzip.compress(b'{"keys":[' + b" " * 20_000_000 + b"]}"), {"Content-Encoding": "gzip"}
    ),
    "empty-key-set": lambda issuer: Reply(200, b'{"keys": []}'),
    "keys-not-a-list": lambda issuer: Reply(200, b'{"keys": {"kid": "x"}}'),
    "only-junk-keys": lambda issuer: Reply(
        200,
        json.dumps(
            {
                "keys": [
                    {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
                    {"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"},
                    "nope",
                    None,
                ]
            }
        ).encode(),
    ),
}


def discovery_faults(issuer: DevIssuer) -> dict[str, Reply]:
    return {
        "discovery-wrong-issuer": Reply(
            200,
            json.dumps({"issuer": "https://evil.example", "jwks_uri": issuer.jwks_uri}).encode(),
        ),
        "discovery-plain-http-jwks": Reply(
            200,
            json.dumps({"issuer": issuer.issuer, "jwks_uri": "http://jwks.example/keys"}).encode(),
        ),
        "discovery-no-jwks-uri": Reply(200, json.dumps({"issuer": issuer.issuer}).encode()),
    }


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("via", ["discovery", "jwks"])
def test_a_faulty_issuer_at_cold_start_fails_closed_within_the_deadline(
    clock: FakeClock, fault: str, via: str
) -> None:
    with DevIssuer() as issuer:
        token = mint(issuer, clock)
        reply = FAULTS[fault](issuer)
        target = "/.well-known/openid-configuration" if via == "discovery" else "/jwks"
        issuer.responder = lambda path: reply if path == target else None
        log = io.StringIO()
        authorizer = build_authorizer(
            issuer, clock, log=log, JWKS_FETCH_TIMEOUT_SECONDS=str(TIMEOUT)
        )
        first = refuse(authorizer, log, make_event("rest_token", f"Bearer {token}"))
        assert (first.status, first.reason) == (500, "jwks_unavailable")
        assert first.seconds < TIMEOUT + SLACK, first
        seen = list(issuer.requests)
        # A second request inside the cooldown does not try again, and does not wait.
        second = refuse(authorizer, log, make_event("http_v2", f"Bearer {token}"))
        assert second.status == 500 and second.seconds < 0.1
        assert issuer.requests == seen
        assert len(seen) <= 2  # discovery and at most one key-set fetch
        assert "169.254.169.254" not in "".join(seen)


@pytest.mark.parametrize(
    "fault", ["discovery-wrong-issuer", "discovery-plain-http-jwks", "discovery-no-jwks-uri"]
)
def test_a_discovery_document_that_cannot_be_trusted_fails_closed(
    clock: FakeClock, fault: str
) -> None:
    with DevIssuer() as issuer:
        token = mint(issuer, clock)
        reply = discovery_faults(issuer)[fault]
        issuer.responder = lambda path: reply if path.startswith("/.well-known") else None
        log = io.StringIO()
        authorizer = build_authorizer(issuer, clock, log=log)
        refusal = refuse(authorizer, log, make_event("rest_token", f"Bearer {token}"))
        assert refusal.status == 500
        assert issuer.fetches("/jwks") == 0


def test_a_closed_port_at_cold_start_fails_closed_at_once(clock: FakeClock) -> None:
    with DevIssuer() as issuer:
        token = mint(issuer, clock)
    # The issuer has stopped: its port now refuses connections.
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log)
    refusal = refuse(authorizer, log, make_event("rest_token", f"Bearer {token}"))
    assert refusal.status == 500 and refusal.seconds < 0.5


def test_the_cold_start_recovers_after_the_cooldown(clock: FakeClock) -> None:
    with DevIssuer() as issuer:
        token = mint(issuer, clock)
        issuer.responder = lambda path: Reply(503, b"")
        log = io.StringIO()
        authorizer = build_authorizer(issuer, clock, log=log, JWKS_REFRESH_COOLDOWN_SECONDS="30")
        assert authorizer.prefetch() is False
        issuer.responder = None
        clock.advance(29)
        assert refuse(authorizer, log, make_event("rest_token", f"Bearer {token}")).status == 500
        clock.advance(1)
        allowed = authorizer.handle(make_event("rest_token", f"Bearer {token}"))
        assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_a_warm_cache_serves_stale_keys_up_to_the_limit_then_fails_closed(
    clock: FakeClock,
) -> None:
    with DevIssuer() as issuer:
        log = io.StringIO()
        authorizer = build_authorizer(
            issuer,
            clock,
            log=log,
            JWKS_CACHE_SECONDS="60",
            JWKS_MAX_STALE_SECONDS="120",
            JWKS_REFRESH_COOLDOWN_SECONDS="10",
            JWT_LEEWAY_SECONDS="0",
        )
        assert authorizer.prefetch()
        loaded = clock.now
        issuer.responder = lambda path: Reply(503, b"")

        def request() -> dict[str, object] | int:
            token = mint(issuer, clock)
            try:
                return authorizer.handle(make_event("rest_token", f"Bearer {token}"))
            except Exception as exc:
                return 500 if type(exc).__name__ == "AuthorizerUnavailable" else 401

        clock.now = loaded + 61
        assert isinstance(request(), dict)  # expired, refresh failed: stale keys serve
        clock.now = loaded + 60 + 120 - 1
        assert isinstance(request(), dict)
        attempts = len(issuer.requests)
        assert attempts <= 1 + (120 // 10) + 1  # one try per cooldown at most
        clock.now = loaded + 60 + 120
        assert request() == 500  # past the limit: fail closed
        issuer.responder = None
        clock.advance(10)
        assert isinstance(request(), dict)  # the issuer is back: fresh keys


def test_unknown_kids_while_the_issuer_is_slow_do_not_delay_cached_keys(
    clock: FakeClock,
) -> None:
    with DevIssuer() as issuer:
        log = io.StringIO()
        authorizer = build_authorizer(
            issuer,
            clock,
            log=log,
            JWKS_FETCH_TIMEOUT_SECONDS="1",
            JWKS_REFRESH_COOLDOWN_SECONDS="30",
        )
        assert authorizer.prefetch()
        clock.advance(30)  # past the prefetch's cooldown: the first unknown kid may refetch
        issuer.responder = lambda path: Reply(200, json.dumps(issuer.jwks()).encode(), delay=0.4)
        good = mint(issuer, clock)
        forged_header = {"alg": "RS256", "kid": "forged", "typ": "at+jwt"}
        forged = signed(
            issuer,
            forged_header,
            {
                "iss": issuer.issuer,
                "sub": "x",
                "aud": "https://api.example.test",
                "iat": int(clock.now),
                "exp": int(clock.now) + 60,
            },
        )
        waits = []
        good_waits = []
        for _ in range(50):
            started = time.perf_counter()
            refuse(authorizer, log, make_event("rest_token", f"Bearer {forged}"))
            waits.append(time.perf_counter() - started)
            started = time.perf_counter()
            authorizer.handle(make_event("rest_token", f"Bearer {good}"))
            good_waits.append(time.perf_counter() - started)
            clock.advance(0.2)  # 10 s in all, inside one cooldown
        assert issuer.fetches() == 2  # the prefetch and one refetch for the first forged kid
        assert waits[0] >= 0.35  # the first forged kid waited on the slow issuer...
        # ...and no other request did: a wait on the issuer takes at least 0.4 s, so
        # 0.25 s separates the two with room for a busy machine's pauses.
        assert max(waits[1:]) < 0.25
        assert max(good_waits) < 0.25  # requests with a cached kid never wait


# --- several issuers, one deadline; single-flight ------------------------------------


def test_hanging_issuers_are_prefetched_together_within_one_deadline(
    clock: FakeClock, tmp_path: Path
) -> None:
    issuers = [DevIssuer().start() for _ in range(4)]
    try:
        for issuer in issuers:
            issuer.responder = lambda path: Reply(200, b"{}", delay=3.0)
        tables = "".join(
            f'[[issuer]]\nissuer = "{issuer.issuer}"\naudiences = ["api"]\n' for issuer in issuers
        )
        rules = tmp_path / "issuers.toml"
        rules.write_text(tables)
        settings = load_settings(
            {"AUTHORIZER_RULES": str(rules), "JWKS_FETCH_TIMEOUT_SECONDS": "1"}
        )
        authorizer = Authorizer(
            settings,
            logger=Logger(service="faults", logger_handler=logging.StreamHandler(io.StringIO())),
            metrics=Metrics(namespace="AuthorizerTests"),
            clock=clock,
            monotonic=clock,
        )
        started = time.perf_counter()
        assert authorizer.prefetch() is False
        # Four issuers that each hang for the whole 1 s deadline: together, not one after
        # another (4 s), so that no number of issuers can exceed Lambda's init limit.
        assert time.perf_counter() - started < 2.0
    finally:
        for issuer in issuers:
            issuer.stop()


def test_a_prefetch_past_its_budget_is_waited_for_by_the_first_request(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    slow = {"first": True}

    def responder(path: str) -> Reply | None:
        if path == "/.well-known/openid-configuration" and slow.pop("first", False):
            return Reply(200, json.dumps(issuer.discovery()).encode(), delay=1.0)
        return None

    issuer.responder = responder
    authorizer = build_authorizer(issuer, clock)
    started = time.perf_counter()
    assert authorizer.prefetch(budget=0.2) is False  # gave up waiting; the fetch goes on
    assert time.perf_counter() - started < 0.6
    response = authorizer.handle(make_event("rest_token", f"Bearer {mint(issuer, clock)}"))
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert issuer.fetches() == 1 and issuer.fetches("/.well-known/openid-configuration") == 1


@pytest.mark.parametrize("kind", ["rest_token", "http_v2"])
def test_concurrent_first_requests_share_one_fetch_and_all_get_an_answer(
    issuer: DevIssuer, clock: FakeClock, kind: str
) -> None:
    issuer.responder = lambda path: (
        Reply(200, json.dumps(issuer.jwks()).encode(), delay=0.5) if path == "/jwks" else None
    )
    authorizer = build_authorizer(issuer, clock, JWT_JWKS_URI=issuer.jwks_uri)
    tokens = [mint(issuer, clock, sub=f"user-{n}") for n in range(8)]
    barrier = threading.Barrier(len(tokens))

    def request(token: str) -> dict[str, Any]:
        barrier.wait()
        return authorizer.handle(make_event(kind, f"Bearer {token}"))

    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        answers = list(pool.map(request, tokens))
    for n, answer in enumerate(answers):
        assert answer["context"]["sub"] == f"user-{n}"  # none got a 500 for want of keys
    assert issuer.fetches() == 1
