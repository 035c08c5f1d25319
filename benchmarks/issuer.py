"""The loopback issuer in a process of its own, as a real issuer is.

A dev issuer's server thread inside the measured process would compete for the
GIL: each log write releases it, and on this 2-core VM taking it back after the
server thread's 50 wake-ups a second cost 10-20 us per invocation, which is not
a cost Lambda has. :class:`RemoteIssuer` runs :class:`DevIssuer` in a child
process and mints its tokens there, through a pipe. The same process answers
token introspection (RFC 7662) for opaque tokens: every token is active, for
:data:`AUDIENCE`, for an hour.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.devissuer.tls import hash_folder, make_tls

AUDIENCE = "https://api.example.test"


def _introspection(issuer: str) -> tuple[ThreadingHTTPServer, list[int]]:
    """An introspection endpoint calling every token active; its server and request count."""
    asked = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept alive, as a provider's endpoint is
        disable_nagle_algorithm = True  # no delayed-ACK stall between headers and body

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            asked[0] += 1
            answer = {"active": True, "iss": issuer, "aud": AUDIENCE, "sub": "someone",
                      "scope": "orders:read", "token_type": "Bearer",
                      "exp": int(time.time()) + 3600}  # fmt: skip
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=functools.partial(server.serve_forever, 0.05), daemon=True).start()
    return server, asked


def _serve(connection: Connection) -> None:
    with DevIssuer() as issuer:
        introspection, asked = _introspection(issuer.issuer)
        connection.send((issuer.issuer, introspection.server_address[1]))
        while True:
            request, argument = connection.recv()
            if request == "stop":
                introspection.shutdown()
                return
            if request == "fetches":
                connection.send(issuer.fetches())
            elif request == "introspections":
                connection.send(asked[0])
            elif request == "mint":
                claims, count = argument
                connection.send([issuer.mint(claims) for _ in range(count)])
            elif request == "jwks":
                connection.send(issuer.jwks())


def trust_store(folder: Path) -> tuple[ssl.SSLContext, dict[str, str]]:
    """A loopback HTTPS server context, and the environment that trusts it as a system would.

    The system's own trust store, as the runtime finds it (``SSL_CERT_FILE`` unset), and
    the test CA in a hash folder of its own (``SSL_CERT_DIR``, which OpenSSL's default and
    the authorizer both read as a handshake needs it): a cold start over HTTPS pays what
    the system's store costs, no more.
    """
    tls, ca_file = make_tls(folder)
    return tls, {"SSL_CERT_DIR": str(hash_folder(ca_file))}


class RemoteIssuer:
    """A :class:`DevIssuer` in a child process: its URL, its tokens, its fetch count."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self.issuer: str
        self.issuer, port = self._connection.recv()
        self.introspection_endpoint = f"http://127.0.0.1:{port}/introspect"
        self.discovery_uri = f"{self.issuer}/.well-known/openid-configuration"
        self.jwks_uri = f"{self.issuer}/jwks"

    def _ask(self, request: str, argument: Any = None) -> Any:
        self._connection.send((request, argument))
        return self._connection.recv()

    def mint(self, claims: dict[str, Any], count: int) -> list[str]:
        """``count`` fresh tokens with ``claims`` (and the issuer's defaults)."""
        tokens: list[str] = self._ask("mint", (claims, count))
        return tokens

    def fetches(self) -> int:
        """How many times the key set has been requested."""
        count: int = self._ask("fetches")
        return count

    def introspections(self) -> int:
        """How many tokens have been introspected."""
        count: int = self._ask("introspections")
        return count

    def jwks(self) -> dict[str, Any]:
        key_set: dict[str, Any] = self._ask("jwks")
        return key_set

    def stop(self) -> None:
        self._connection.send(("stop", None))
        self._process.join(timeout=10)
        self._connection.close()
