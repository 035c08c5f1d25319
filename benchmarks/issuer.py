"""The loopback issuer in a process of its own, as a real issuer is.

A dev issuer's server thread inside the measured process would compete for the
GIL: each log write releases it, and on this 2-core VM taking it back after the
server thread's 50 wake-ups a second cost 10-20 us per invocation, which is not
a cost Lambda has. :class:`RemoteIssuer` runs :class:`DevIssuer` in a child
process and mints its tokens there, through a pipe.
"""

from __future__ import annotations

import multiprocessing
import ssl
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.devissuer.tls import make_tls


def _serve(connection: Connection) -> None:
    with DevIssuer() as issuer:
        connection.send(issuer.issuer)
        while True:
            request, argument = connection.recv()
            if request == "stop":
                return
            if request == "fetches":
                connection.send(issuer.fetches())
            elif request == "mint":
                claims, count = argument
                connection.send([issuer.mint(claims) for _ in range(count)])
            elif request == "jwks":
                connection.send(issuer.jwks())


def trust_store(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A loopback HTTPS server context, and a CA bundle as large as the system's that trusts it.

    The bundle is the system's own plus the test CA: loading it costs what loading the
    real trust store costs, which is what a cold start over HTTPS pays.
    """
    tls, ca_file = make_tls(folder)
    bundle = folder / "bundle.pem"
    system = ssl.get_default_verify_paths().cafile
    bundle.write_bytes((Path(system).read_bytes() if system else b"") + ca_file.read_bytes())
    return tls, bundle


class RemoteIssuer:
    """A :class:`DevIssuer` in a child process: its URL, its tokens, its fetch count."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self.issuer: str = self._connection.recv()
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

    def jwks(self) -> dict[str, Any]:
        key_set: dict[str, Any] = self._ask("jwks")
        return key_set

    def stop(self) -> None:
        self._connection.send(("stop", None))
        self._process.join(timeout=10)
        self._connection.close()
