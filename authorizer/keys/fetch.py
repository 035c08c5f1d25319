"""The only module that talks HTTP: fetch one small JSON document, defensively.

A JSON fetch here is deliberately narrow, because the documents it reads (the
discovery document and the key set) decide which tokens are trusted:

* one GET, no redirects, no retries inside the call (the key cache decides
  when to try again), except once on a new connection when a kept-alive one
  turns out closed by the server before it answered;
* a connection that ended a complete 200 answer is kept, for a few seconds, for
  the next fetch from the same origin: discovery and the key set, on one host at
  a cold start, cost one TCP and TLS handshake, not two. Not longer: an
  environment is frozen between requests, and a connection idle for minutes may
  have been dropped on the way without a word, which would cost a deadline;
* a hard wall-clock deadline covering connect, headers and body, so that a
  server dripping one byte at a time cannot hold the invocation;
* a size cap on the body, no content-encoding (so no decompression bombs);
* only HTTP 200 whose body is a UTF-8 JSON object with no duplicate members.

Failures raise :class:`~authorizer.errors.FetchError`; nothing else escapes.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import urlsplit

from .. import __version__
from ..errors import FetchError
from ..strictjson import loads_object

# urllib3 and ssl are imported by the first fetch, not at cold start: an environment
# that never fetches (key prefetch off until a request needs keys) does not pay for them.
if TYPE_CHECKING:
    import ssl

    import urllib3
    from urllib3.connection import HTTPConnection

USER_AGENT = f"apigw-oidc-authorizer/{__version__} (urllib3)"
MAX_DOCUMENT_BYTES = 256 * 1024
_CHUNK = 16 * 1024
#: Kept-alive connections, one per origin, at most this many (issuers' hosts are few),
#: each reused for this long after its last answer (see the module docstring).
_KEPT_ORIGINS = 8
_KEPT_SECONDS = 5.0
Origin = tuple[str, str, int | None]


class JsonFetcher(Protocol):
    """What the key cache needs from the network: one JSON object per URL."""

    def get_json(self, url: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True, weakref_slot=True, eq=False)  # by identity: see _LIVE
class HttpFetcher:
    """Fetch JSON documents with urllib3 under a hard deadline.

    ``timeout`` bounds the whole exchange (connect, request, headers, body).
    ``ca_file`` overrides the system trust store (used by tests with a
    loopback certificate authority).
    """

    timeout: float = 3.0
    max_bytes: int = MAX_DOCUMENT_BYTES
    ca_file: str | None = None
    clock: Callable[[], float] = time.monotonic
    #: Idle connections by origin, each after a complete answer (see the module docstring).
    _kept: dict[Origin, tuple[HTTPConnection, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # A fetcher let go closes what it kept (its sockets would outlive it, unclosed).
        weakref.finalize(self, _close_all, self._kept)
        _LIVE.add(self)

    def get_json(self, url: str) -> dict[str, Any]:
        return self.get_json_dated(url)[0]

    def prepare(self, url: str) -> None:
        """Import now all a fetch of ``url`` needs, and make its TLS context.

        A fetch otherwise imports urllib3 (and makes the context) the first time it
        runs; a fetch in a thread begun while the main thread imports must not
        (see :mod:`.headstart`).
        """
        import encodings.idna  # noqa: F401, PLC0415 - ssl encodes each server name with it

        import urllib3  # noqa: F401, PLC0415
        from urllib3.connection import HTTPConnection  # noqa: F401, PLC0415

        if urlsplit(url).scheme == "https":
            tls_context(self.ca_file)
        else:
            import ipaddress  # noqa: F401, PLC0415 - what is_loopback_host judges http hosts with

    def get_json_dated(self, url: str) -> tuple[dict[str, Any], str | None]:
        """:meth:`get_json`, with the response's ``Date`` header (``doctor`` checks clocks)."""
        body, date = self._fetch(url)
        return parse_json_object(body, url), date

    def post_form(
        self, url: str, fields: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """POST ``fields`` form-encoded (token introspection), the same limits as a GET."""
        from urllib.parse import urlencode  # noqa: PLC0415 - introspection only

        body = urlencode(fields).encode()
        extra = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        answer, _ = self._fetch(url, method="POST", body=body, headers=extra)
        return parse_json_object(answer, url)

    def _fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[bytes, str | None]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"refusing to fetch {url!r}: not an http(s) URL")
        deadline = self.clock() + self.timeout
        origin: Origin = (parts.scheme, parts.hostname, parts.port)
        request = _Request(method, url, _path(parts.path, parts.query), body, headers or {})
        kept, since = self._kept.pop(origin, (None, 0.0))
        if kept is not None and self.clock() - since > _KEPT_SECONDS:
            kept.close()
        elif kept is not None:
            try:
                return self._over(kept, origin, request, deadline)
            except _Stale:
                pass  # closed by the server while idle: once more, on a new connection
        return self._over(self._connection(*origin), origin, request, deadline)

    def _over(
        self, conn: HTTPConnection, origin: Origin, request: _Request, deadline: float
    ) -> tuple[bytes, str | None]:
        """One exchange on ``conn``: kept afterwards if it ended a complete answer, else closed.

        Raises :class:`_Stale` for a reused connection the server had closed
        before any answer (safe to retry: nothing was processed).
        """
        import urllib3  # noqa: PLC0415 - see the imports: loaded by the first fetch

        reused = conn.sock is not None
        if reused and not conn.is_connected:
            conn.close()
            raise _Stale
        # The watchdog is what makes the deadline hard: socket timeouts only
        # bound each recv, and a drip-feeding server never lets one expire.
        watchdog = threading.Timer(self.timeout, _abort, (conn,))
        watchdog.daemon = True
        watchdog.start()
        keep = False
        try:
            answer, keep = self._exchange(conn, request, deadline)
            return answer
        except FetchError:
            raise
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if reused and isinstance(exc, _UNANSWERED) and self.clock() < deadline:
                raise _Stale from None
            if self.clock() >= deadline:
                raise FetchError(
                    f"{request.method} {request.url} exceeded the {self.timeout:g}s deadline"
                ) from None
            raise FetchError(
                f"{request.method} {request.url} failed: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            watchdog.cancel()
            if keep and len(self._kept) < _KEPT_ORIGINS:
                self._kept[origin] = (conn, self.clock())
            else:
                conn.close()

    def _connection(self, scheme: str, host: str, port: int | None) -> HTTPConnection:
        from urllib3.connection import HTTPConnection, HTTPSConnection  # noqa: PLC0415

        timeout = self.timeout  # per connect and per recv; the watchdog bounds the total
        if scheme == "https":
            context = tls_context(self.ca_file)
            return HTTPSConnection(host, port or 443, timeout=timeout, ssl_context=context)
        return HTTPConnection(host, port or 80, timeout=timeout)

    def _exchange(
        self, conn: HTTPConnection, request: _Request, deadline: float
    ) -> tuple[tuple[bytes, str | None], bool]:
        """The body and ``Date`` of a 200, and whether the connection may serve another request."""
        conn.request(
            request.method,
            request.path,
            body=request.body,
            headers={
                "Accept": "application/json",
                "Accept-Encoding": "identity",
                "User-Agent": USER_AGENT,
                **request.headers,
            },
            preload_content=False,
        )
        response = conn.getresponse()
        said = f"{request.method} {request.url}"
        if response.status != 200:
            where = response.headers.get("Location")
            detail = f" (redirect to {where!r} not followed)" if where else ""
            raise FetchError(f"{said} answered HTTP {response.status}{detail}")
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchError(f"{said} answered with Content-Encoding {encoding!r}")
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"{said} body is {declared} bytes, over the {self.max_bytes} cap")
        answer = self._read_body(response, said, deadline), response.headers.get("Date")
        closing = response.headers.get("Connection", "").strip().lower() == "close"
        return answer, response.version == 11 and not closing

    def _read_body(self, response: urllib3.BaseHTTPResponse, said: str, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = response.read1(_CHUNK, decode_content=False)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"{said} body exceeds the {self.max_bytes} byte cap")
            if self.clock() >= deadline:
                raise FetchError(f"{said} exceeded the {self.timeout:g}s deadline")
            chunks.append(chunk)


#: Every fetcher, for :func:`close_kept_connections` (weakly: a fetcher let go is gone).
_LIVE: weakref.WeakSet[HttpFetcher] = weakref.WeakSet()


def close_kept_connections() -> None:
    """Close every fetcher's kept connection: after a SnapStart restore, none may be reused.

    A connection in a snapshot is restored into every environment made from it,
    its TLS state with it: reusing one would be reusing that state in each.
    """
    for fetcher in list(_LIVE):
        _close_all(fetcher._kept)


def _close_all(kept: dict[Origin, tuple[HTTPConnection, float]]) -> None:
    while kept:
        kept.popitem()[1][0].close()


class _Stale(Exception):
    """A kept-alive connection the server had closed: no answer, nothing processed."""


#: What a request on a connection the server closed while idle fails with.
_UNANSWERED: tuple[type[BaseException], ...] = (ConnectionError,)


class _Request(NamedTuple):
    method: str
    url: str
    path: str  # what goes on the request line
    body: bytes | None
    headers: Mapping[str, str]


@functools.cache
def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The one verifying TLS context for every fetch with this trust store, made once.

    Loading a CA bundle takes tens of milliseconds; urllib3 would load it again
    for each connection (two per issuer at a cold start). This is urllib3's own
    default context (TLS 1.2 or newer, certificate and host name required),
    with the system's roots (read as handshakes need them where the system
    allows: :mod:`.truststore`) or ``ca_file``, kept for the environment's life.
    """
    import ssl  # noqa: PLC0415 - see the imports

    from urllib3.util import create_urllib3_context  # noqa: PLC0415

    from .truststore import load_system_roots  # noqa: PLC0415 - with ssl, by the first fetch

    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    if ca_file is None:
        load_system_roots(context)
    else:
        context.load_verify_locations(cafile=ca_file)
    return context


def discovery_uri(issuer: str) -> str:
    """OpenID Connect Discovery 1.0 section 4: strip one trailing slash, then append."""
    base = issuer[:-1] if issuer.endswith("/") else issuer
    return f"{base}/.well-known/openid-configuration"


def url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as an issuer, discovery or key-set URL, or ``None``.

    ``https://`` only, or ``http://`` to a loopback host (local development);
    no credentials, no fragment, a valid port.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"is not a valid URL: {exc}"
    if parts.scheme not in ("https", "http") or not host:
        return f"must be an absolute https:// URL, got {url!r}"
    if parts.username is not None or parts.password is not None:
        return "must not contain credentials"
    if parts.fragment or url.endswith("#"):
        return "must not contain a fragment"
    if parts.scheme == "http" and not is_loopback_host(host):
        return f"must use https:// (http:// only for loopback hosts), got {url!r}"
    return None


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (the only hosts allowed over http)."""
    if host.lower() == "localhost":
        return True
    import ipaddress  # noqa: PLC0415 - only http:// URLs get here; spared at cold start

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_json_object(body: bytes, source: str) -> dict[str, Any]:
    """Decode ``body`` as a UTF-8 JSON object, refusing duplicates and NaN/Infinity."""
    try:
        return loads_object(body)
    except ValueError as exc:
        raise FetchError(f"{source} is not valid JSON: {exc}") from None


def _path(path: str, query: str) -> str:
    return (path or "/") + (f"?{query}" if query else "")


def _abort(conn: HTTPConnection) -> None:
    """Wake a blocked recv from the watchdog thread by shutting the socket down."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing left to wake
            sock.shutdown(socket.SHUT_RDWR)
