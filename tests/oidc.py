"""panva/oidc-provider on loopback: a real, independently written OpenID provider for tests.

`make setup` installs it from the lock file with `npm ci`; `provider.mjs` configures it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO

from tests.ports import child_port

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
RESOURCES = [f"https://api.example.test/{alg}" for alg in ALGORITHMS]
CLIENT = "m2m-client"


class Provider:
    """One provider process; ``restart`` brings it back on the same port with new keys."""

    def __init__(self) -> None:
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("oidc-provider is not installed: run `make setup`")
        self.port = child_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        key_file = Path(tempfile.mkdtemp(prefix="provider-")) / "introspector.pem"
        self._process = subprocess.Popen(
            ["node", "provider.mjs", str(self.port)],
            cwd=PROVIDER_DIR,
            env={**os.environ, "INTROSPECTOR_KEY_FILE": str(key_file)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._process.stdout is not None
        ready = _read_line(self._process.stdout, timeout=30)
        assert ready == f"READY {self.issuer}", ready
        #: The private key (PEM) of the client that introspects with private_key_jwt.
        self.introspector_key = key_file.read_text()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"  # always http://127.0.0.1

    def revoke(self, token: str, client: str = CLIENT) -> None:
        """Revoke ``token`` at the revocation endpoint (RFC 7009), as its own client."""
        body = urllib.parse.urlencode({"token": token}).encode()
        request = urllib.request.Request(f"{self.issuer}/token/revocation", data=body)  # noqa: S310
        secret = f"{client}-secret-for-loopback-tests"
        credentials = base64.b64encode(f"{client}:{secret}".encode()).decode()
        request.add_header("Authorization", f"Basic {credentials}")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            assert response.status == 200

    def token(
        self,
        resource: str,
        scope: str = "read:orders",
        *,
        client: str = CLIENT,
        dpop: str | None = None,
        certificate: str | None = None,
    ) -> str:
        """An access token by the client_credentials grant, bound by a DPoP proof or certificate."""
        body = urllib.parse.urlencode(
            {"grant_type": "client_credentials", "resource": resource, "scope": scope}
        ).encode()
        request = urllib.request.Request(self.token_endpoint, data=body, method="POST")  # noqa: S310
        secret = f"{client}-secret-for-loopback-tests"
        credentials = base64.b64encode(f"{client}:{secret}".encode()).decode()
        request.add_header("Authorization", f"Basic {credentials}")
        if dpop is not None:
            request.add_header("DPoP", dpop)
        if certificate is not None:  # as a TLS-terminating proxy passes it on
            request.add_header("X-Client-Certificate", urllib.parse.quote(certificate))
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            answer = json.load(response)
        expected = "DPoP" if dpop is not None else "Bearer"
        assert answer["token_type"] == expected, answer
        return str(answer["access_token"])


def _read_line(stream: IO[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline().strip()
        if line.startswith("READY"):
            return line
    raise TimeoutError("the OpenID provider did not start")
