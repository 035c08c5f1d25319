"""Key-set parsing: only sound public signing keys survive; bad members spoil nothing."""

from __future__ import annotations

from typing import Any

import pytest

from authorizer.errors import FetchError
from authorizer.keys.jwk import MAX_KEYS, parse_key, parse_key_set
from authorizer_tools.devissuer.issuer import generate_key, public_jwk


def jwk(key_alg: str = "RS256", kid: str = "k1", /, **changes: Any) -> dict[str, Any]:
    member = public_jwk(generate_key(key_alg), kid, key_alg)
    member.update(changes)
    return {name: value for name, value in member.items() if value is not None}


GOOD = jwk("RS256", "good")


def test_a_good_key_is_kept_beside_every_kind_of_bad_one() -> None:
    rsa_private = generate_key("RS256")
    private_member = public_jwk(rsa_private, "leaked", "RS256")
    private_member["d"] = "AQAB"
    members: list[object] = [
        GOOD,
        "not an object",
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        private_member,
        jwk("RS256", "enc", use="enc"),
        jwk("RS256", "noverify", key_ops=["encrypt"]),
        jwk("RS256", "", alg=None),
        jwk("RS256", "x" * 300),
        jwk("RS256", "oaep", alg="RSA-OAEP"),
        jwk("RS256", "mismatch", alg="ES256"),
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        {"kty": "EC", "kid": "badcurve", "crv": "P-192", "x": "AA", "y": "AA"},
        public_jwk(generate_key("RS256", rsa_bits=1024), "weak", "RS256"),
    ]
    keys = parse_key_set({"keys": members}, "test")
    assert list(keys.keys) == ["good"]
    assert len(keys.skipped) == len(members) - 1
    joined = " | ".join(keys.skipped)
    for why in (
        "not a JSON object",
        "asymmetric",
        "private members",
        "use 'enc'",
        "key_ops",
        "no usable 'kid'",
        "unsupported alg",
        "does not fit",
        "malformed",
        "1024-bit",
    ):
        assert why in joined, why


def test_a_duplicated_kid_is_trusted_for_neither_key() -> None:
    keys = parse_key_set({"keys": [GOOD, jwk("RS256", "twin"), jwk("ES256", "twin")]}, "test")
    assert list(keys.keys) == ["good"]
    assert any("more than once" in reason for reason in keys.skipped)


@pytest.mark.parametrize(
    "document",
    [{}, {"keys": "nope"}, {"keys": []}, {"keys": [{"kty": "oct", "kid": "a", "k": "AA"}]}],
)
def test_a_set_with_nothing_usable_is_a_fetch_failure(document: dict[str, Any]) -> None:
    with pytest.raises(FetchError):
        parse_key_set(document, "test")


def test_an_oversized_set_is_refused() -> None:
    with pytest.raises(FetchError, match="more than"):
        parse_key_set({"keys": [GOOD] * (MAX_KEYS + 1)}, "test")


@pytest.mark.parametrize(
    ("key_alg", "token_alg", "accepted"),
    [
        ("RS256", "RS256", True),
        ("RS256", "PS256", False),  # the JWK pins alg RS256
        ("ES256", "ES256", True),
        ("ES256", "ES384", False),  # wrong curve
        ("ES384", "ES384", True),
        ("ES512", "ES512", True),
        ("EdDSA", "EdDSA", True),
        ("EdDSA", "RS256", False),
        ("RS256", "ES256", False),
        ("RS256", "HS256", False),
        ("RS256", "none", False),
    ],
)
def test_a_key_accepts_only_algorithms_of_its_family_and_declared_alg(
    key_alg: str, token_alg: str, accepted: bool
) -> None:
    assert parse_key(jwk(key_alg)).accepts(token_alg) is accepted


def test_an_rsa_key_without_alg_serves_every_rsa_algorithm() -> None:
    key = parse_key(jwk("RS256", alg=None))
    assert all(key.accepts(alg) for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"))
    assert not key.accepts("ES256")
