"""Keys no honest issuer publishes are dropped from the set, each with its reason.

Small-order Edwards points (a signature of zeros verifies any message under
them), RSA exponents that are even, 1 or huge, moduli over 8192 bits, and
moduli with the ROCA fingerprint. The small-order points are found here by
curve arithmetic, independently of the list the authorizer keeps.
"""

from __future__ import annotations

import base64
import io
import json
import math
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from authorizer.keys.jwk import has_roca_fingerprint, parse_key, parse_key_set
from authorizer_tools.devissuer.issuer import DevIssuer, Reply, generate_key, public_jwk
from authorizer_tools.eventgen import make_event
from tests.attacks import refuse
from tests.conftest import FakeClock, build_authorizer
from tests.tokens import access_claims, b64, segment


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


# --- Edwards curves, from their definitions (RFC 8032) ------------------------------


class Edwards:
    """Affine twisted Edwards arithmetic: a*x^2 + y^2 = 1 + d*x^2*y^2 over GF(p)."""

    def __init__(self, p: int, a: int, d: int, order: int, size: int) -> None:
        self.p, self.a, self.d, self.order, self.size = p, a % p, d % p, order, size

    def add(self, left: tuple[int, int], right: tuple[int, int]) -> tuple[int, int]:
        (x1, y1), (x2, y2), p = left, right, self.p
        t = self.d * x1 * x2 * y1 * y2 % p
        x3 = (x1 * y2 + y1 * x2) * pow(1 + t, -1, p) % p
        y3 = (y1 * y2 - self.a * x1 * x2) * pow(1 - t, -1, p) % p
        return x3, y3

    def times(self, scalar: int, point: tuple[int, int]) -> tuple[int, int]:
        result = (0, 1)
        while scalar:
            if scalar & 1:
                result = self.add(result, point)
            point = self.add(point, point)
            scalar >>= 1
        return result

    def point_with_y(self, y: int) -> tuple[int, int] | None:
        p = self.p
        u = (y * y - 1) * pow(self.d * y * y - self.a, -1, p) % p
        x = pow(u, (p + 3) // 8, p) if p % 8 == 5 else pow(u, (p + 1) // 4, p)
        if x * x % p != u and p % 8 == 5:
            x = x * pow(2, (p - 1) // 4, p) % p
        return (x, y) if x * x % p == u else None

    def encode(self, point: tuple[int, int]) -> bytes:
        x, y = point
        raw = bytearray(y.to_bytes(self.size, "little"))
        raw[-1] |= (x & 1) << 7
        return bytes(raw)

    def small_order_points(self) -> set[tuple[int, int]]:
        """Every point P with [order] P of small order: the torsion subgroup, by sampling."""
        found: set[tuple[int, int]] = set()
        rng = random.Random(7)
        cofactor = 8 if self.size == 32 else 4
        while len(found) < cofactor:
            point = self.point_with_y(rng.randrange(self.p))
            if point is not None:
                found.add(self.times(self.order, point))
        return found


ED25519 = Edwards(
    2**255 - 19,
    -1,
    -121665 * pow(121666, -1, 2**255 - 19),
    2**252 + 0x14DEF9DEA2F79CD65812631A5CF5D3ED,
    32,
)
ED448 = Edwards(
    2**448 - 2**224 - 1,
    1,
    -39081,
    2**446 - 0x8335DC163BB124B65129C96FDE933D8D723A70AADC873D6D54A7BB0D,
    57,
)


def okp_member(curve: str, raw: bytes, kid: str) -> dict[str, Any]:
    return {"kty": "OKP", "crv": curve, "x": b64url(raw), "kid": kid, "use": "sig"}


@pytest.mark.parametrize(("curve", "name"), [(ED25519, "Ed25519"), (ED448, "Ed448")])
def test_every_small_order_edwards_point_is_dropped(curve: Edwards, name: str) -> None:
    torsion = curve.small_order_points()
    assert len(torsion) == (8 if name == "Ed25519" else 4)
    encodings = {curve.encode(point) for point in torsion}
    # x = 0 written with its sign bit set: the same points, encoded otherwise.
    encodings |= {raw[:-1] + bytes([raw[-1] | 0x80]) for raw in encodings if raw[-1] < 0x80}
    for index, raw in enumerate(sorted(encodings)):
        with pytest.raises(ValueError, match="small order|canonical|malformed"):
            parse_key(okp_member(name, raw, f"k{index}"))


@pytest.mark.parametrize(("curve", "name"), [(ED25519, "Ed25519"), (ED448, "Ed448")])
def test_non_canonical_edwards_encodings_are_dropped(curve: Edwards, name: str) -> None:
    for y in (curve.p, curve.p + 1):  # 0 and 1 again, written as y >= p
        with pytest.raises(ValueError, match="canonical|malformed"):
            parse_key(okp_member(name, y.to_bytes(curve.size, "little"), "noncanonical"))


def test_ordinary_edwards_keys_are_kept() -> None:
    for alg_kid in ("a", "b", "c"):
        member = public_jwk(generate_key("EdDSA"), alg_kid, "EdDSA")
        assert parse_key(member).kid == alg_kid


def test_a_signature_of_zeros_under_the_identity_key_is_refused_end_to_end(
    clock: FakeClock,
) -> None:
    identity = (1).to_bytes(32, "little")
    forged_signature = identity + bytes(32)
    # What the filter is for: the raw primitive accepts this forgery for any message.
    Ed25519PublicKey.from_public_bytes(identity).verify(forged_signature, b"any message")
    with DevIssuer(algorithms=("EdDSA",)) as issuer:
        members = [*issuer.jwks()["keys"], okp_member("Ed25519", identity, "identity")]
        body = json.dumps({"keys": members}).encode()
        issuer.responder = lambda path: Reply(200, body) if path == "/jwks" else None
        log = io.StringIO()
        authorizer = build_authorizer(issuer, clock, log=log, JWT_ALGORITHMS="EdDSA")
        assert authorizer.prefetch()
        header = segment({"alg": "EdDSA", "kid": "identity", "typ": "at+jwt"})
        payload = segment(access_claims(issuer, clock))
        token = f"{header}.{payload}.{b64(forged_signature)}"
        assert refuse(authorizer, log, make_event("rest_token", f"Bearer {token}")).reason == (
            "unknown_kid"
        )
        fetched = [json.loads(line) for line in log.getvalue().splitlines() if "fetched" in line]
        assert len(fetched) == 1
        assert "'identity' is a point of small order on Ed25519" in fetched[0]["detail"]


# --- RSA --------------------------------------------------------------------------


def rsa_member(n: int, e: int, kid: str) -> dict[str, Any]:
    return {"kty": "RSA", "kid": kid, "n": int_b64(n), "e": int_b64(e), "use": "sig"}


@pytest.fixture(scope="module")
def modulus() -> int:
    key = generate_key("RS256")
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key().public_numbers().n


@pytest.mark.parametrize("exponent", [1, 2, 4, 65536, 2**31 + 1, 2**61 - 1, 2**2047 + 1])
def test_rsa_exponents_no_honest_key_uses_are_dropped(modulus: int, exponent: int) -> None:
    # cryptography itself refuses some (e must be odd, at least 3); the filter, the rest.
    with pytest.raises(ValueError, match="exponent|e must be"):
        parse_key(rsa_member(modulus, exponent, "odd"))


@pytest.mark.parametrize("exponent", [3, 17, 65537, 2**31 - 1])
def test_small_odd_rsa_exponents_are_kept(modulus: int, exponent: int) -> None:
    assert parse_key(rsa_member(modulus, exponent, "fine")).kid == "fine"


def test_rsa_moduli_over_8192_bits_are_dropped() -> None:
    rng = random.Random(3)
    at_limit = rng.getrandbits(8192) | (1 << 8191) | 1
    over = rng.getrandbits(8200) | (1 << 8199) | 1
    assert parse_key(rsa_member(at_limit, 65537, "big")).kid == "big"
    with pytest.raises(ValueError, match="8200-bit RSA key, over 8192"):
        parse_key(rsa_member(over, 65537, "huge"))


def _probable_prime(n: int, rng: random.Random) -> bool:
    if n % 2 == 0:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(24):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def roca_prime(bits: int, rng: random.Random) -> int:
    """A prime made as Infineon's library made them: k * M + (65537^a mod M)."""
    primorial = 1
    for prime in (r for r in range(2, 200) if all(r % d for d in range(2, r))):
        primorial *= prime
    # From sqrt(2) * 2^(bits-1): the product of two such primes has exactly 2 * bits bits.
    low, high = math.isqrt(2 ** (2 * bits - 1)) // primorial + 1, 2**bits // primorial
    while True:
        candidate = rng.randrange(low, high) * primorial + pow(
            65537, rng.getrandbits(64), primorial
        )
        if _probable_prime(candidate, rng):
            return candidate


def test_rsa_keys_with_the_roca_fingerprint_are_dropped() -> None:
    rng = random.Random(11)
    n = roca_prime(1024, rng) * roca_prime(1024, rng)
    assert n.bit_length() == 2048
    with pytest.raises(ValueError, match="ROCA"):
        parse_key(rsa_member(n, 65537, "roca"))


def test_honest_rsa_keys_do_not_look_like_roca_keys() -> None:
    for _ in range(6):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert not has_roca_fingerprint(key.public_key().public_numbers().n)


def test_each_dropped_key_is_named_once_in_the_fetch_line(modulus: int) -> None:
    document = {
        "keys": [
            public_jwk(generate_key("RS256"), "good", "RS256"),
            rsa_member(modulus, 2**32 + 1, "huge"),
            okp_member("Ed25519", bytes(32), "zero"),
        ]
    }
    keys = parse_key_set(document, "test")
    assert list(keys.keys) == ["good"]
    assert len(keys.skipped) == 2
    assert "'huge' has RSA exponent 4294967297" in keys.skipped[0]
    assert "'zero' is a point of small order on Ed25519" in keys.skipped[1]
