"""A real OpenID issuer on loopback: discovery and JWKS served over a socket.

Keys are generated in memory when the issuer starts (no private key is ever
written to disk), tokens are minted with PyJWT, and ``responder`` lets a test
replace any answer (status, body, delay, drip) to play a failing issuer.

    with DevIssuer() as issuer:
        token = issuer.mint({"sub": "alice", "aud": "api"})
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}


def generate_key(alg: str, rsa_bits: int = 2048) -> PrivateKey:
    """A fresh private key suited to ``alg``."""
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if alg in _CURVES:
        return ec.generate_private_key(_CURVES[alg])
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported algorithm {alg!r}")


def public_jwk(key: PrivateKey, kid: str, alg: str | None) -> dict[str, Any]:
    """The public JWK of ``key``, with ``kid``, ``use: sig`` and (if given) ``alg``."""
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    jwk.update(kid=kid, use="sig")
    if alg is not None:
        jwk["alg"] = alg
    return jwk


@dataclass
class Reply:
    """One scripted HTTP answer. ``drip`` > 0 sends the body a byte at a time."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drip: float = 0.0
    declare_length: bool = True


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: PrivateKey
    publish_alg: bool = True


class DevIssuer:
    """An OpenID issuer on ``127.0.0.1`` with its discovery document and key set."""

    def __init__(
        self,
        algorithms: tuple[str, ...] = ("RS256",),
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        name: str | None = None,
    ) -> None:
        """``name`` is the issuer string to publish and sign with (default: this server's URL).

        With a name such as ``https://tenant.auth0.com/``, the documents are served
        under its path, and a client reaches them by sending that name's scheme and
        host to :attr:`base` instead (see the tests' loopback fetcher).
        """
        self._server = _Server((host, port), _handler_for(self))
        self._server.daemon_threads = True
        if tls is not None:
            # The handshake in each connection's own thread, not in the accept loop: a client
            # slow to send its hello (a runtime starved of CPU at init) holds up no other.
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        scheme = "https" if tls is not None else "http"
        self.base = f"{scheme}://{host}:{self._server.server_address[1]}"
        self.issuer = name or self.base
        self._path = urlsplit(self.issuer).path.rstrip("/")
        self.keys: dict[str, SigningKey] = {}
        self.requests: list[str] = []
        #: TCP connections accepted (a TLS server: handshakes), to count what keep-alive saves.
        self.connections = 0
        self._open: set[socket.socket] = set()  # kept-alive connections, closed by stop()
        self.request_headers: list[dict[str, str]] = []
        self.responder: Callable[[str], Reply | None] | None = None
        #: Seconds each new connection and each answer waits: an issuer this far away
        #: (a round trip for the connection and its handshake, one per answer).
        self.latency = 0.0
        self._lock = threading.Lock()
        for alg in algorithms:
            self.add_key(alg)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> DevIssuer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (if started) and close the listening socket."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        with self._lock:  # a stopped server answers nothing, on a kept connection neither
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> DevIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- keys ------------------------------------------------------------------

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer.rstrip('/')}/jwks"

    @property
    def discovery_uri(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"

    def add_key(
        self,
        alg: str = "RS256",
        kid: str | None = None,
        *,
        rsa_bits: int = 2048,
        publish_alg: bool = True,
    ) -> str:
        kid = kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}"
        self.keys[kid] = SigningKey(kid, alg, generate_key(alg, rsa_bits), publish_alg)
        return kid

    def remove_key(self, kid: str) -> None:
        del self.keys[kid]

    def rotate(self, alg: str = "RS256") -> str:
        """Publish a new key and withdraw every older one; return the new kid."""
        new = self.add_key(alg)
        for kid in [kid for kid in self.keys if kid != new]:
            self.remove_key(kid)
        return new

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                public_jwk(key.private, key.kid, key.alg if key.publish_alg else None)
                for key in self.keys.values()
            ]
        }

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({k.alg for k in self.keys.values()}),
        }

    def fetches(self, path: str = "/jwks") -> int:
        """How many times ``path`` (under the issuer's own path) has been requested."""
        with self._lock:
            return sum(1 for seen in self.requests if seen == self._path + path)

    # -- tokens ----------------------------------------------------------------

    def mint(
        self,
        claims: dict[str, Any] | None = None,
        *,
        kid: str | None = None,
        lifetime: int = 300,
        headers: dict[str, Any] | None = None,
        now: float | None = None,
    ) -> str:
        """A signed access token. Defaults: ``iss``, ``sub``, ``iat``, ``exp``, ``jti``.

        A claim given as ``None`` is removed from the defaults.
        """
        key = self.keys[kid] if kid else next(iter(self.keys.values()))
        issued = int(time.time() if now is None else now)
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "user-123",
            "iat": issued,
            "exp": issued + lifetime,
            "jti": uuid.uuid4().hex,
        }
        payload.update(claims or {})
        payload = {name: value for name, value in payload.items() if value is not None}
        header = {"kid": key.kid, "typ": "at+jwt"}
        header.update(headers or {})
        return jwt.encode(payload, key.private, algorithm=key.alg, headers=header)

    # -- serving ---------------------------------------------------------------

    def _reply(self, path: str, headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(path)
            self.request_headers.append(headers)
        if self.responder is not None:
            scripted = self.responder(path)
            if scripted is not None:
                return scripted
        if path == self._path + "/.well-known/openid-configuration":
            return _json_reply(self.discovery())
        if path == self._path + "/jwks":
            return _json_reply(self.jwks())
        return Reply(404, b'{"error":"not_found"}', {"Content-Type": "application/json"})


def _json_reply(document: dict[str, Any]) -> Reply:
    return Reply(200, json.dumps(document).encode(), {"Content-Type": "application/json"})


class _HandshakeFailed(Exception):
    """A client that refused the certificate or hung up during the TLS handshake."""


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], _HandshakeFailed):
            return  # as a failed handshake in the accept loop was: nothing to print
        super().handle_error(request, client_address)


def _handler_for(issuer: DevIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm the body waits for
        # the client's delayed ACK of the headers, 40 ms per answer that no real server adds.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            if issuer.latency:
                time.sleep(issuer.latency)
            if isinstance(self.request, ssl.SSLSocket):
                self.request.settimeout(10)
                try:
                    self.request.do_handshake()
                except (ssl.SSLError, OSError) as exc:
                    raise _HandshakeFailed from exc  # the client's to report, not ours
            super().setup()
            with issuer._lock:
                issuer.connections += 1
                issuer._open.add(self.connection)

        def finish(self) -> None:
            with issuer._lock:
                issuer._open.discard(self.connection)
            super().finish()

        def do_GET(self) -> None:
            reply = issuer._reply(self.path.split("?")[0], dict(self.headers.items()))
            if reply.delay or issuer.latency:
                time.sleep(reply.delay + issuer.latency)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.declare_length and "Content-Length" not in reply.headers:
                self.send_header("Content-Length", str(len(reply.body)))
            if reply.drip or not reply.declare_length:
                self.send_header("Connection", "close")  # the body ends when the connection does
            else:
                self.close_connection = False  # kept alive, as a provider's server is
            self.end_headers()
            try:
                if reply.drip:
                    for byte in reply.body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(reply.drip)
                else:
                    self.wfile.write(reply.body)
            except OSError:
                pass  # the client gave up, as it should with a slow server

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    return Handler
