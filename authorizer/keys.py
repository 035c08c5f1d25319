"""JSON Web Keys: from an issuer's key-set document to keys we are willing to verify with.

A key set is hostile input like any other. :func:`parse_key_set` keeps only
public signing keys that are well-formed and strong enough, skips everything
else (with a note saying why), and never lets one bad member spoil the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from .config import SUPPORTED_ALGORITHMS
from .errors import FetchError

PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey

MIN_RSA_BITS = 2048
MAX_KEYS = 100
MAX_KID_LENGTH = 256

#: Members that only a private (or symmetric) key has. A key set that publishes
#: them has leaked its signing key: such a key is never trusted.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

#: The key family and, for EC, the curve each algorithm needs (RFC 7518 section 3.4).
_ALG_KEY_TYPE: Mapping[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key from the issuer's set, with what the JWK says about its use."""

    kid: str
    kty: str
    crv: str | None
    alg: str | None
    key: PublicKey

    def accepts(self, alg: str) -> bool:
        """True when a token signed with ``alg`` may be checked with this key."""
        family = _ALG_KEY_TYPE.get(alg)
        if family is None or family[0] != self.kty:
            return False
        if family[1] is not None and family[1] != self.crv:
            return False
        return self.alg is None or self.alg == alg


@dataclass(frozen=True, slots=True)
class KeySet:
    """The usable keys of one key-set document, by ``kid``, and what was skipped."""

    keys: Mapping[str, VerificationKey]
    skipped: tuple[str, ...] = ()

    def get(self, kid: str) -> VerificationKey | None:
        return self.keys.get(kid)


def parse_key_set(document: Mapping[str, Any], source: str) -> KeySet:
    """Parse a JWK Set (RFC 7517 section 5); raise :class:`FetchError` when nothing is usable."""
    members = document.get("keys")
    if not isinstance(members, list):
        raise FetchError(f"{source} is not a JWK set: no 'keys' array")
    if len(members) > MAX_KEYS:
        raise FetchError(f"{source} lists {len(members)} keys, more than the {MAX_KEYS} allowed")
    keys: dict[str, VerificationKey] = {}
    skipped: list[str] = []
    duplicated: set[str] = set()
    for index, member in enumerate(members):
        try:
            key = parse_key(member)
        except ValueError as exc:
            skipped.append(f"key #{index}: {exc}")
            continue
        if key.kid in keys or key.kid in duplicated:
            # Two keys under one kid: we cannot know which one the issuer
            # means, so neither is trusted.
            duplicated.add(key.kid)
            keys.pop(key.kid, None)
            skipped.append(f"key #{index}: kid {key.kid!r} appears more than once")
            continue
        keys[key.kid] = key
    if not keys:
        reasons = "; ".join(skipped) or "the set is empty"
        raise FetchError(f"{source} has no usable signing keys ({reasons})")
    return KeySet(keys=keys, skipped=tuple(skipped))


def parse_key(member: object) -> VerificationKey:
    """Turn one JWK into a :class:`VerificationKey`; raise ``ValueError`` saying why not."""
    if not isinstance(member, dict):
        raise ValueError("not a JSON object")
    kid = member.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise ValueError("no usable 'kid'")
    kty = member.get("kty")
    if kty not in ("RSA", "EC", "OKP"):
        raise ValueError(f"kty {kty!r} is not an asymmetric signing key type")
    private = _PRIVATE_MEMBERS.intersection(member)
    if private:
        raise ValueError(f"kid {kid!r} publishes private members {sorted(private)}")
    use = member.get("use")
    if use is not None and use != "sig":
        raise ValueError(f"kid {kid!r} has use {use!r}, not 'sig'")
    key_ops = member.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise ValueError(f"kid {kid!r} has key_ops without 'verify'")
    alg = member.get("alg")
    if alg is not None and alg not in SUPPORTED_ALGORITHMS:
        raise ValueError(f"kid {kid!r} has unsupported alg {alg!r}")
    crv = member.get("crv")
    key = _public_key(kty, member, kid)
    candidate = VerificationKey(
        kid=kid, kty=kty, crv=crv if isinstance(crv, str) else None, alg=alg, key=key
    )
    if alg is not None and not candidate.accepts(alg):
        raise ValueError(f"kid {kid!r} declares alg {alg!r} that does not fit its key")
    return candidate


def _public_key(kty: str, member: dict[str, Any], kid: str) -> PublicKey:
    key: object
    try:
        if kty == "RSA":
            key = RSAAlgorithm.from_jwk(member)
        elif kty == "EC":
            key = ECAlgorithm.from_jwk(member)
        else:
            key = OKPAlgorithm.from_jwk(member)
    except Exception as exc:  # noqa: BLE001 - PyJWT raises several types for bad members
        raise ValueError(f"kid {kid!r} is malformed: {exc}") from None
    if not isinstance(
        key, (RSAPublicKey, EllipticCurvePublicKey, Ed25519PublicKey, Ed448PublicKey)
    ):
        raise ValueError(f"kid {kid!r} is not a public key")
    if isinstance(key, RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ValueError(f"kid {kid!r} is a {key.key_size}-bit RSA key, under {MIN_RSA_BITS}")
    return key
