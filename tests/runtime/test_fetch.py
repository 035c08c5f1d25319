"""The fetcher against a real loopback server: what it accepts, refuses and how long it waits."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from authorizer.errors import FetchError
from authorizer.keys.fetch import USER_AGENT, HttpFetcher, tls_context
from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from authorizer_tools.devissuer.tls import make_tls


def test_fetches_a_json_document_with_the_expected_request_headers(issuer: DevIssuer) -> None:
    document = HttpFetcher(timeout=2).get_json(issuer.discovery_uri)
    assert document["issuer"] == issuer.issuer
    sent = issuer.request_headers[-1]
    assert sent["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("apigw-oidc-authorizer/")
    assert sent["Accept"] == "application/json"
    assert sent["Accept-Encoding"] == "identity"


def test_https_is_verified_against_the_trust_store(tmp_path: Path) -> None:
    context, ca_file = make_tls(tmp_path)
    with DevIssuer(tls=context) as secure:
        assert secure.issuer.startswith("https://127.0.0.1:")
        trusted = HttpFetcher(timeout=2, ca_file=str(ca_file)).get_json(secure.jwks_uri)
        assert len(trusted["keys"]) == 1
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED|certificate"):
            HttpFetcher(timeout=2).get_json(secure.jwks_uri)


def test_every_https_fetch_with_one_trust_store_shares_one_tls_context(tmp_path: Path) -> None:
    """The CA bundle is loaded once per environment, not once per connection."""
    context, ca_file = make_tls(tmp_path)
    tls_context.cache_clear()
    with DevIssuer(tls=context) as secure:
        fetcher = HttpFetcher(timeout=2, ca_file=str(ca_file))
        for url in (secure.discovery_uri, secure.jwks_uri, secure.jwks_uri):
            fetcher.get_json(url)
        other = HttpFetcher(timeout=2, ca_file=str(ca_file))  # a second issuer's fetcher
        other.get_json(secure.jwks_uri)
    assert tls_context.cache_info().misses == 1
    assert tls_context.cache_info().hits == 1  # the second fetcher; the first kept its connection


@pytest.mark.parametrize("status", [201, 204, 304, 404, 429, 500, 503])
def test_any_status_but_200_is_a_failure(issuer: DevIssuer, status: int) -> None:
    issuer.responder = lambda path: Reply(status, b'{"keys": []}')
    with pytest.raises(FetchError, match=f"HTTP {status}"):
        HttpFetcher(timeout=2).get_json(issuer.jwks_uri)


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "/jwks", "https://evil.example/jwks"]
)
def test_redirects_are_never_followed(issuer: DevIssuer, target: str) -> None:
    issuer.responder = lambda path: (
        Reply(302, b"", {"Location": target}) if path == "/moved" else None
    )
    with pytest.raises(FetchError, match="HTTP 302.*not followed"):
        HttpFetcher(timeout=2).get_json(f"{issuer.issuer}/moved")
    assert issuer.requests == ["/moved"]


def test_a_declared_oversized_body_is_refused_before_reading(issuer: DevIssuer) -> None:
    big = b"[" + b"1," * 200_000 + b"1]"
    issuer.responder = lambda path: Reply(200, big)
    with pytest.raises(FetchError, match="over the 1024 cap"):
        HttpFetcher(timeout=2, max_bytes=1024).get_json(issuer.jwks_uri)


def test_an_undeclared_oversized_body_is_cut_off_at_the_cap(issuer: DevIssuer) -> None:
    big = b'{"keys": "' + b"x" * 100_000 + b'"}'
    issuer.responder = lambda path: Reply(200, big, declare_length=False)
    fetcher = HttpFetcher(timeout=2, max_bytes=4096)
    with pytest.raises(FetchError, match="cap"):
        fetcher.get_json(issuer.jwks_uri)


def test_compressed_bodies_are_refused(issuer: DevIssuer) -> None:
    bomb = gzip.compress(b'{"keys":[' + b" " * 5_000_000 + b"]}")
    issuer.responder = lambda path: Reply(200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="Content-Encoding 'gzip'"):
        HttpFetcher(timeout=2).get_json(issuer.jwks_uri)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>login</html>", "not valid JSON"),
        (b'["not", "an", "object"]', "not a JSON object"),
        (b'{"keys": [], "keys": [1]}', "duplicate"),
        (b'{"n": NaN}', "NaN"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_bodies_that_are_not_one_strict_json_object_are_refused(
    issuer: DevIssuer, body: bytes, why: str
) -> None:
    issuer.responder = lambda path: Reply(200, body)
    with pytest.raises(FetchError, match=why):
        HttpFetcher(timeout=2, max_bytes=200_000).get_json(issuer.jwks_uri)


def test_a_closed_port_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="failed"):
        HttpFetcher(timeout=2).get_json("http://127.0.0.1:9/jwks")
    assert time.monotonic() - started < 1.5


def test_a_server_that_never_answers_is_abandoned_at_the_deadline(issuer: DevIssuer) -> None:
    issuer.responder = lambda path: Reply(200, b"{}", delay=3)
    started = time.monotonic()
    with pytest.raises(FetchError):
        HttpFetcher(timeout=0.5).get_json(issuer.jwks_uri)
    assert time.monotonic() - started < 1.5


def test_a_drip_feeding_server_cannot_hold_the_fetch_past_the_deadline(issuer: DevIssuer) -> None:
    # 2 KiB at one byte per 20 ms would take 40 s; each recv succeeds quickly,
    # so only a wall-clock deadline stops it.
    body = json.dumps({"keys": [], "pad": "x" * 2048}).encode()
    issuer.responder = lambda path: Reply(200, body, drip=0.02)
    started = time.monotonic()
    with pytest.raises(FetchError, match="deadline"):
        HttpFetcher(timeout=0.6).get_json(issuer.jwks_uri)
    assert time.monotonic() - started < 1.5


def test_non_http_urls_are_refused_without_a_request() -> None:
    with pytest.raises(FetchError, match="not an http"):
        HttpFetcher().get_json("file:///etc/passwd")


def test_numbers_that_overflow_to_infinity_are_refused(issuer: DevIssuer) -> None:
    issuer.responder = lambda path: Reply(200, b'{"keys": [], "n": 1e999}')
    with pytest.raises(FetchError, match="overflows"):
        HttpFetcher(timeout=2).get_json(issuer.jwks_uri)


def test_discovery_and_the_key_set_on_one_host_cost_one_tls_handshake(tmp_path: Path) -> None:
    context, ca_file = make_tls(tmp_path)
    with DevIssuer(tls=context) as secure:
        fetcher = HttpFetcher(timeout=2, ca_file=str(ca_file))
        jwks_uri = fetcher.get_json(secure.discovery_uri)["jwks_uri"]
        fetcher.get_json(jwks_uri)
        fetcher.get_json(jwks_uri)  # a refresh, soon after, on the same connection
        assert (secure.connections, len(secure.requests)) == (1, 3)


def test_a_connection_idle_for_longer_than_a_few_seconds_is_not_reused(issuer: DevIssuer) -> None:
    # Frozen between requests, an environment's idle connection may have been dropped silently.
    now = [100.0]
    fetcher = HttpFetcher(timeout=2, clock=lambda: now[0])
    fetcher.get_json(issuer.jwks_uri)
    now[0] += 4
    fetcher.get_json(issuer.jwks_uri)
    assert issuer.connections == 1
    now[0] += 6
    fetcher.get_json(issuer.jwks_uri)
    assert issuer.connections == 2


def test_a_failed_answer_leaves_no_connection_to_reuse(issuer: DevIssuer) -> None:
    fetcher = HttpFetcher(timeout=2)
    issuer.responder = lambda path: Reply(503, b"{}")
    with pytest.raises(FetchError, match="HTTP 503"):
        fetcher.get_json(issuer.jwks_uri)
    issuer.responder = None
    fetcher.get_json(issuer.jwks_uri)
    fetcher.get_json(issuer.jwks_uri)
    assert issuer.connections == 2  # the 503's was closed; the 200's was kept


class ClosingServer:
    """Answers one request per connection, keep-alive promised, then drops the connection:
    at once when it gets the next request (``unanswered``), or while idle."""

    def __init__(self, *, unanswered: bool) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/jwks"
        self.connections = 0
        self.unanswered = unanswered
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        body = b'{"keys": []}'
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
                if self.unanswered:
                    conn.recv(65536)  # the next request arrives: closed unanswered


def test_a_kept_connection_the_server_closed_is_replaced_without_a_failure() -> None:
    for unanswered in (False, True):
        server = ClosingServer(unanswered=unanswered)
        fetcher = HttpFetcher(timeout=2)
        assert fetcher.get_json(server.url) == {"keys": []}
        time.sleep(0.1)
        assert fetcher.get_json(server.url) == {"keys": []}
        assert server.connections == 2
        server.listener.close()
