"""A DPoP client for development and tests: a key pair that signs proofs (RFC 9449 section 4).

:class:`DpopKey` is what a client holds: it makes the proof for each request
(``htm``, ``htu``, ``iat``, a fresh ``jti`` and, with an access token, ``ath``).
Keyword arguments let tests make every wrong proof there is. Also here: a
self-signed client certificate for certificate-bound tokens (RFC 8705).
"""

from __future__ import annotations

import datetime
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from authorizer.binding.confirmation import certificate_thumbprint
from authorizer.binding.dpop import PROOF_TYP, thumbprint, token_hash

from .devissuer.issuer import PrivateKey, generate_key, public_jwk


@dataclass(frozen=True)
class DpopKey:
    """A client's DPoP key pair and the algorithm it signs proofs with."""

    private: PrivateKey
    alg: str = "ES256"

    @classmethod
    def generate(cls, alg: str = "ES256") -> DpopKey:
        return cls(generate_key(alg), alg)

    @classmethod
    def load(cls, path: Path) -> DpopKey:
        """A key saved by :meth:`save` (PKCS#8 PEM, its algorithm in the first line)."""
        first, _, pem = path.read_text(encoding="ascii").partition("\n")
        private = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        return cls(private, first.removeprefix("# alg: ").strip())  # type: ignore[arg-type]

    def save(self, path: Path) -> None:
        pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_text(f"# alg: {self.alg}\n{pem.decode('ascii')}", encoding="ascii")
        path.chmod(0o600)

    @property
    def jwk(self) -> dict[str, Any]:
        """The public JWK the proofs carry (no ``kid``, ``use`` or ``alg``: the header has it)."""
        jwk = public_jwk(self.private, kid="", alg=None)
        return {name: value for name, value in jwk.items() if name not in ("kid", "use")}

    @property
    def thumbprint(self) -> str:
        """What a token bound to this key carries in ``cnf.jkt`` (RFC 7638)."""
        return thumbprint(self.jwk)

    def proof(
        self,
        method: str,
        url: str,
        token: str | None = None,
        *,
        now: float | None = None,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        signer: PrivateKey | None = None,
    ) -> str:
        """The DPoP proof for one request; ``header``/``claims`` override, ``drop`` removes."""
        payload: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "htm": method,
            "htu": url,
            "iat": int(time.time() if now is None else now),
        }
        if token is not None:
            payload["ath"] = token_hash(token)
        payload.update(claims or {})
        fields: dict[str, Any] = {"typ": PROOF_TYP, "jwk": self.jwk, **(header or {})}
        for name in drop:
            payload.pop(name, None)
            fields.pop(name, None)
        alg = fields.pop("alg", self.alg)
        return jwt.encode(payload, signer or self.private, algorithm=alg, headers=fields)


def client_certificate(common_name: str = "dpop-test-client") -> tuple[str, str]:
    """A self-signed client certificate (PEM) and its ``x5t#S256`` thumbprint."""
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    digest = certificate_thumbprint(pem)
    if digest is None:  # pragma: no cover - cryptography wrote it
        raise ValueError("the certificate just made cannot be read back")
    return pem, digest
