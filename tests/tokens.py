"""Hand-made tokens for the cases PyJWT refuses to produce (bad headers, forged algorithms)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from jwt.algorithms import get_default_algorithms

from authorizer.pipeline import Authorizer
from authorizer.tokens.verify import TokenVerifier
from authorizer_tools.devissuer.issuer import DevIssuer
from tests.conftest import AUDIENCE, FakeClock


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return b64(raw)


def signed(
    issuer: DevIssuer,
    header: dict[str, Any],
    payload: dict[str, Any] | bytes,
    kid: str | None = None,
    alg: str | None = None,
) -> str:
    """Sign ``header``/``payload`` exactly as given with the issuer key ``kid``.

    ``alg`` picks the signing algorithm when it differs from the key's own.
    """
    key = issuer.keys[kid] if kid else next(iter(issuer.keys.values()))
    signing_input = f"{segment(header)}.{segment(payload)}"
    algorithm = get_default_algorithms()[alg or key.alg]
    signature = algorithm.sign(signing_input.encode(), key.private)
    return f"{signing_input}.{b64(signature)}"


def hmac_signed(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def _without_none(members: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in members.items() if value is not None}


def access_claims(issuer: DevIssuer, clock: FakeClock, **changes: Any) -> dict[str, Any]:
    """Valid access-token claims at ``clock``; a change to ``None`` removes that claim."""
    claims: dict[str, Any] = {
        "iss": issuer.issuer,
        "sub": "user-123",
        "aud": AUDIENCE,
        "iat": int(clock.now),
        "exp": int(clock.now) + 300,
    }
    claims.update(changes)
    return _without_none(claims)


def key_header(issuer: DevIssuer, **changes: Any) -> dict[str, Any]:
    """A header naming the issuer's first key; a change to ``None`` removes that member."""
    key = next(iter(issuer.keys.values()))
    header: dict[str, Any] = {"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}
    header.update(changes)
    return _without_none(header)


class SignatureChecks:
    """The signature checks a verifier makes from now on (its ``signature_checks`` seam)."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier
        self.start = verifier.signature_checks

    @property
    def calls(self) -> int:
        return self.verifier.signature_checks - self.start


def counted(authorizer: Authorizer) -> SignatureChecks:
    return SignatureChecks(authorizer.issuers[0].verifier)
