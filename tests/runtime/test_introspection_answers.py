"""Every introspection answer the checks must refuse, from a scripted endpoint on loopback.

A real HTTP server answers what each test scripts (the provider's own answers are
tested against panva/oidc-provider in ``test_introspection``), and records what the
authorizer sent it: the client's authentication, the form fields.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from authorizer.errors import TokenError
from authorizer.keys.fetch import HttpFetcher
from authorizer.tokens.introspect import IntrospectionSettings, Introspector

NOW = 1_800_000_000.0
GOOD = {"active": True, "exp": NOW + 600, "aud": "api", "sub": "alice", "scope": "a b",
        "iss": "https://idp.example", "token_type": "Bearer"}  # fmt: skip


class Endpoint:
    """An introspection endpoint (and a discovery document) answering what a test scripts."""

    def __init__(self) -> None:
        self.answer: Any = GOOD
        self.discovery: dict[str, Any] = {}
        self.seen: list[tuple[str, dict[str, list[str]], str | None]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the discovery document
                self._json(endpoint.discovery)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                fields = parse_qs(self.rfile.read(length).decode())
                endpoint.seen.append((self.path, fields, self.headers.get("Authorization")))
                self._json(endpoint.answer)

            def _json(self, document: Any) -> None:
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        serve = functools.partial(self.server.serve_forever, poll_interval=0.02)
        threading.Thread(target=serve, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    running = Endpoint()
    yield running
    running.server.shutdown()
    running.server.server_close()


def introspector(server: Endpoint, **overrides: Any) -> Introspector:
    settings = {
        "issuer": "https://idp.example", "endpoint": f"{server.url}/introspect",
        "discovery_uri": f"{server.url}/.well-known/openid-configuration",
        "client_id": "orders api", "client_secret": "s3cr:t", "audiences": frozenset({"api"}),
        "leeway": 0, "cache_size": 2, **overrides,
    }  # fmt: skip
    return Introspector(IntrospectionSettings(**settings), HttpFetcher(timeout=2), lambda: NOW)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({**GOOD, "active": False}, "inactive_token"),
        ({"active": "true"}, "inactive_token"),  # only true is true
        ({**GOOD, "exp": None}, "invalid_claims"),
        ({**GOOD, "exp": True}, "invalid_claims"),
        ({**GOOD, "exp": NOW - 1}, "expired"),
        ({**GOOD, "iss": "https://other.example"}, "wrong_issuer"),
        ({**GOOD, "token_type": "refresh_token"}, "wrong_token_type"),
        ({**GOOD, "aud": ["other", 7]}, "wrong_audience"),
        ({key: value for key, value in GOOD.items() if key != "aud"}, "wrong_audience"),
        ({**GOOD, "sub": ""}, "invalid_claims"),
    ],
)
def test_an_answer_that_does_not_vouch_for_the_token_refuses_it(
    endpoint: Endpoint, answer: dict[str, Any], reason: str
) -> None:
    endpoint.answer = answer
    with pytest.raises(TokenError) as caught:
        introspector(endpoint).verify("opaque-token")
    assert caught.value.reason == reason


def test_the_claims_are_the_answers_and_the_issuer_is_named(endpoint: Endpoint) -> None:
    endpoint.answer = {key: value for key, value in GOOD.items() if key != "iss"}
    verified = introspector(endpoint).verify("opaque-token")
    assert verified.claims["iss"] == "https://idp.example" and "active" not in verified.claims
    assert (verified.kid, verified.alg) == ("introspected", "introspected")


def test_the_client_authenticates_as_configured(endpoint: Endpoint) -> None:
    introspector(endpoint).verify("token-one")
    _, fields, authorization = endpoint.seen[-1]
    assert fields == {"token": ["token-one"], "token_type_hint": ["access_token"]}
    assert authorization is not None
    # RFC 6749 section 2.3.1: id and secret form-encoded inside the Basic pair.
    assert base64.b64decode(authorization.removeprefix("Basic ")) == b"orders%20api:s3cr%3At"
    introspector(endpoint, auth_method="client_secret_post").verify("token-two")
    _, fields, authorization = endpoint.seen[-1]
    assert authorization is None
    assert fields["client_id"] == ["orders api"] and fields["client_secret"] == ["s3cr:t"]


def test_the_endpoint_comes_from_discovery_once(endpoint: Endpoint) -> None:
    endpoint.discovery = {"introspection_endpoint": f"{endpoint.url}/from-discovery"}
    checker = introspector(endpoint, endpoint=None)
    checker.verify("token-one")
    checker.verify("token-two")
    assert [path for path, _, _ in endpoint.seen] == ["/from-discovery", "/from-discovery"]


@pytest.mark.parametrize("discovered", [{}, {"introspection_endpoint": "ftp://x/y"}])
def test_a_discovery_document_without_a_usable_endpoint_is_a_500(
    endpoint: Endpoint, discovered: dict[str, Any]
) -> None:
    endpoint.discovery = discovered
    with pytest.raises(Exception, match="introspection_endpoint is") as caught:
        introspector(endpoint, endpoint=None).verify("token")
    assert getattr(caught.value, "reason", None) == "introspection_unavailable"


def test_the_kept_answers_are_bounded_by_count(endpoint: Endpoint) -> None:
    checker = introspector(endpoint)  # keeps 2
    for token in ("one", "two", "three", "one"):
        checker.verify(f"token-{token}")
    assert checker.requests == 4  # "one" was let go when "three" came
    started = time.monotonic()
    checker.verify("token-three")
    assert checker.requests == 4 and time.monotonic() - started < 0.05
