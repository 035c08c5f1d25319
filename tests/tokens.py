"""Hand-made tokens for the cases PyJWT refuses to produce (bad headers, forged algorithms)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from jwt.algorithms import get_default_algorithms

from authorizer_tools.devissuer import DevIssuer


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
