"""JSON Web Keys: from an issuer's key-set document to keys we are willing to verify with.

A key set is hostile input like any other. :func:`parse_key_set` keeps only
public signing keys that are well-formed and strong enough, skips everything
else (with a note saying why), and never lets one bad member spoil the rest.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from ..errors import FetchError

PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey

MIN_RSA_BITS = 2048
#: Larger moduli verify no better and cost milliseconds per (even forged) token.
MAX_RSA_BITS = 8192
#: Public exponents outside 3..2^31-1 (or even) are not what any honest key
#: generator makes; one near n costs 200 times a normal verification.
MIN_RSA_EXPONENT = 3
MAX_RSA_EXPONENT = 2**31 - 1
MAX_KEYS = 100
MAX_KID_LENGTH = 256

#: Members that only a private (or symmetric) key has. A key set that publishes
#: them has leaked its signing key: such a key is never trusted.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

#: The key family and, for EC, the curve each algorithm needs (RFC 7518 section 3.4);
#: its keys are the algorithms we verify. Symmetric (HS*) and ``none`` are absent
#: on purpose: an authorizer only ever holds the issuer's public keys.
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
SUPPORTED_ALGORITHMS: tuple[str, ...] = tuple(_ALG_KEY_TYPE)


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
    kty = _public_kty(member, f"kid {kid!r}")
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
    key = _public_key(kty, member, f"kid {kid!r}")
    candidate = VerificationKey(
        kid=kid, kty=kty, crv=crv if isinstance(crv, str) else None, alg=alg, key=key
    )
    if alg is not None and not candidate.accepts(alg):
        raise ValueError(f"kid {kid!r} declares alg {alg!r} that does not fit its key")
    return candidate


def public_jwk(member: object, alg: str, what: str) -> PublicKey:
    """The public key of a JWK that is not from a key set (a DPoP proof's ``jwk``).

    The same checks as a key set's members get (asymmetric, no private
    members, strong enough), and the key must fit ``alg``; raises
    ``ValueError`` saying why not, naming the key ``what``.
    """
    if not isinstance(member, dict):
        raise ValueError(f"{what} is not a JSON object")
    kty = _public_kty(member, what)
    crv = member.get("crv")
    key = _public_key(kty, member, what)
    fits = VerificationKey(
        kid="", kty=kty, crv=crv if isinstance(crv, str) else None, alg=None, key=key
    ).accepts(alg)
    if not fits:
        raise ValueError(f"{what} cannot verify {alg}")
    return key


def _public_kty(member: dict[str, Any], what: str) -> str:
    kty = member.get("kty")
    if kty not in ("RSA", "EC", "OKP"):
        raise ValueError(f"{what}: kty {str(kty)[:16]!r} is not an asymmetric signing key type")
    private = _PRIVATE_MEMBERS.intersection(member)
    if private:
        raise ValueError(f"{what} publishes private members {sorted(private)}")
    return str(kty)


def _public_key(kty: str, member: dict[str, Any], what: str) -> PublicKey:
    key: object
    try:
        if kty == "RSA":
            key = RSAAlgorithm.from_jwk(member)
        elif kty == "EC":
            key = ECAlgorithm.from_jwk(member)
        else:
            key = OKPAlgorithm.from_jwk(member)
    except Exception as exc:  # noqa: BLE001 - PyJWT raises several types for bad members
        raise ValueError(f"{what} is malformed: {exc}") from None
    if not isinstance(
        key, (RSAPublicKey, EllipticCurvePublicKey, Ed25519PublicKey, Ed448PublicKey)
    ):
        raise ValueError(f"{what} is not a public key")
    if isinstance(key, RSAPublicKey):
        _check_rsa(key, what)
    elif isinstance(key, (Ed25519PublicKey, Ed448PublicKey)):
        _check_edwards(key, what)
    return key


def _check_rsa(key: RSAPublicKey, what: str) -> None:
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"{what} is a {key.key_size}-bit RSA key, under {MIN_RSA_BITS}")
    if key.key_size > MAX_RSA_BITS:
        raise ValueError(f"{what} is a {key.key_size}-bit RSA key, over {MAX_RSA_BITS}")
    numbers = key.public_numbers()
    exponent = numbers.e
    if exponent % 2 == 0 or not MIN_RSA_EXPONENT <= exponent <= MAX_RSA_EXPONENT:
        raise ValueError(
            f"{what} has RSA exponent {exponent if exponent < 2**64 else 'beyond 2^64'},"
            f" not an odd number from {MIN_RSA_EXPONENT} to 2^31-1"
        )
    if has_roca_fingerprint(numbers.n):
        raise ValueError(f"{what} is an RSA key with the ROCA weakness (CVE-2017-15361)")


#: Curve primes, and the y-coordinates of the points of small order (the
#: identity, its negative, the points of order 4 and, on edwards25519, of order
#: 8): a signature made of such a point and zero verifies any message under
#: such a "public key" (go-jose refuses them, WebCrypto requires refusing them).
_ED25519_P = 2**255 - 19
_ED25519_ORDER_8_Y = 0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7
_ED448_P = 2**448 - 2**224 - 1
_SMALL_ORDER_Y: Mapping[int, frozenset[int]] = {
    _ED25519_P: frozenset(
        {0, 1, _ED25519_P - 1, _ED25519_ORDER_8_Y, _ED25519_P - _ED25519_ORDER_8_Y}
    ),
    _ED448_P: frozenset({0, 1, _ED448_P - 1}),
}


def _check_edwards(key: Ed25519PublicKey | Ed448PublicKey, what: str) -> None:
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415 - OKP keys only
        Encoding,
        PublicFormat,
    )

    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    prime = _ED25519_P if isinstance(key, Ed25519PublicKey) else _ED448_P
    # RFC 8032 5.1.2/5.2.2: little-endian y, the top bit being the sign of x.
    y = int.from_bytes(raw, "little") & ~(1 << (8 * len(raw) - 1))
    if y >= prime:
        raise ValueError(f"{what} is not a canonical point on {_curve(key)}")
    if y in _SMALL_ORDER_Y[prime]:
        raise ValueError(f"{what} is a point of small order on {_curve(key)}")


def _curve(key: Ed25519PublicKey | Ed448PublicKey) -> str:
    return "Ed25519" if isinstance(key, Ed25519PublicKey) else "Ed448"


#: ROCA (CVE-2017-15361): Infineon's library made primes p = k*M + (65537^a mod M)
#: with M a primorial, so n mod r lies in the subgroup 65537 generates modulo each
#: small prime r. Testing the 38 odd primes up to 167 finds every such key (Nemec et al., 2017);
#: an honest modulus passes all of them with negligible probability.
_ROCA_PRIMES = tuple(r for r in range(3, 168) if all(r % d for d in range(2, r)))  # odd primes


def has_roca_fingerprint(modulus: int) -> bool:
    """True when ``modulus`` has the structure of a ROCA-vulnerable (factorable) key."""
    return all(modulus % prime in _powers_of_65537(prime) for prime in _ROCA_PRIMES)


@functools.cache
def _powers_of_65537(prime: int) -> frozenset[int]:
    powers, value = set(), 1
    while value not in powers:
        powers.add(value)
        value = value * 65537 % prime
    return frozenset(powers)
