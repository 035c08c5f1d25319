"""Token verification: every rejection has its reason, and valid tokens of every algorithm pass."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from authorizer.errors import TokenError
from authorizer.tokens.verify import b64url_decode, split_compact
from authorizer_tools.devissuer.issuer import DevIssuer, generate_key, public_jwk
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, mint
from tests.tokens import access_claims as claims
from tests.tokens import b64, hmac_signed, segment, signed
from tests.tokens import key_header as header


def reason_for(issuer: DevIssuer, clock: FakeClock, token: str, **env: str) -> str:
    verifier = build_authorizer(issuer, clock, env=env).issuers[0].verifier
    with pytest.raises(TokenError) as caught:
        verifier.verify(token)
    return caught.value.reason


# --- valid tokens ----------------------------------------------------------------


@pytest.mark.parametrize(
    "alg",
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"],
)
def test_a_valid_token_of_every_supported_algorithm_verifies(clock: FakeClock, alg: str) -> None:
    with DevIssuer(algorithms=(alg,)) as issuer:
        verifier = build_authorizer(issuer, clock, JWT_ALGORITHMS=alg).issuers[0].verifier
        verified = verifier.verify(mint(issuer, clock, scope="read"))
        assert verified.claims["sub"] == "user-123"
        assert verified.alg == alg
        assert verified.kid == next(iter(issuer.keys))


def test_aud_may_be_an_array_holding_any_accepted_audience(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    verifier = (
        build_authorizer(issuer, clock, JWT_AUDIENCE="other,https://api.example.test")
        .issuers[0]
        .verifier
    )
    token = mint(issuer, clock, aud=["https://project.authgear.cloud", AUDIENCE])
    assert verifier.verify(token).claims["aud"][1] == AUDIENCE


def test_leeway_accepts_small_clock_skew_both_ways(issuer: DevIssuer, clock: FakeClock) -> None:
    verifier = build_authorizer(issuer, clock, JWT_LEEWAY_SECONDS="60").issuers[0].verifier
    ahead = issuer.mint({"aud": AUDIENCE, "nbf": clock.now + 59}, now=clock.now + 59)
    assert verifier.verify(ahead)
    behind = issuer.mint({"aud": AUDIENCE}, now=clock.now - 300 - 59)  # expired 59 s ago
    assert verifier.verify(behind)


# --- structure -----------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "..",
        "a..c",
        "a.b.",
        "a b.c.d",
        "a.b.c\n",
        "a+b.c/d.e=",
        "é.b.c",
    ],
)
def test_tokens_that_are_not_compact_jws_are_malformed(
    issuer: DevIssuer, clock: FakeClock, token: str
) -> None:
    assert reason_for(issuer, clock, token) == "malformed"


def test_oversized_tokens_are_refused_before_decoding(issuer: DevIssuer, clock: FakeClock) -> None:
    token = mint(issuer, clock, padding="x" * 20_000)
    assert reason_for(issuer, clock, token) == "malformed"
    assert issuer.fetches() == 0  # refused without looking at keys


def test_jwe_compact_tokens_are_refused(issuer: DevIssuer, clock: FakeClock) -> None:
    jwe = ".".join(
        segment(part) for part in ({"alg": "RSA-OAEP", "enc": "A256GCM"}, b"k", b"iv", b"c", b"t")
    )
    with pytest.raises(TokenError, match="JWE"):
        build_authorizer(issuer, clock).issuers[0].verifier.verify(jwe)


@pytest.mark.parametrize(
    "raw_header",
    [
        b"not json",
        b"[1,2]",
        b'"alg"',
        b'{"alg":"RS256","alg":"none","kid":"k"}',
        b"\xff\xfe",
        b"{" * 5000,
        b'{"alg":"RS256","kid":"k","x":NaN}',
    ],
)
def test_headers_that_are_not_one_strict_json_object_are_malformed(
    issuer: DevIssuer, clock: FakeClock, raw_header: bytes
) -> None:
    token = f"{b64(raw_header)}.{segment(claims(issuer, clock))}.{b64(b'sig')}"
    assert reason_for(issuer, clock, token) == "malformed"


def test_non_canonical_base64url_is_refused() -> None:
    assert b64url_decode("QQ", "x") == b"A"
    with pytest.raises(TokenError, match="canonical"):
        b64url_decode("QR", "x")  # same byte, stray low bits set
    with pytest.raises(TokenError):
        b64url_decode("Q", "x")


def test_split_compact_returns_the_three_segments() -> None:
    assert split_compact("aa.bb.cc", 100) == ("aa", "bb", "cc")


def test_payload_that_is_not_a_json_object_is_malformed_even_when_signed(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    token = signed(issuer, header(issuer), b"[1]")
    assert reason_for(issuer, clock, token) == "malformed"


def test_duplicate_claims_are_malformed_even_when_signed(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    good = claims(issuer, clock)
    members = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in good.items())
    payload = ("{" + members + ',"sub":"admin"}').encode()
    assert reason_for(issuer, clock, signed(issuer, header(issuer), payload)) == "malformed"


# --- header rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    "alg", ["none", "None", "NONE", "nOnE", "HS256", "HS512", "RS1", "ES256K", ""]
)
def test_algorithms_off_the_allow_list_are_refused(
    issuer: DevIssuer, clock: FakeClock, alg: str
) -> None:
    token = f"{segment(header(issuer, alg=alg))}.{segment(claims(issuer, clock))}.{b64(b'x')}"
    assert reason_for(issuer, clock, token) == "disallowed_algorithm"


@pytest.mark.parametrize(
    ("member", "value"),
    [
        *[("alg", value) for value in (None, 256, ["RS256"], {"a": 1}, True)],
        *[("kid", value) for value in (None, "", 7, ["k"], "x" * 300)],
    ],
)
def test_alg_and_kid_must_be_present_short_strings(
    issuer: DevIssuer, clock: FakeClock, member: str, value: object
) -> None:
    hdr = header(issuer, **{member: value})  # None removes the member
    assert reason_for(issuer, clock, signed(issuer, hdr, claims(issuer, clock))) == "malformed"


def test_rs256_to_hs256_key_confusion_is_refused(issuer: DevIssuer, clock: FakeClock) -> None:
    public = next(iter(issuer.keys.values())).private.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, pem.rstrip(b"\n"), b"", b"secret"):
        token = hmac_signed(header(issuer, alg="HS256"), claims(issuer, clock), secret)
        assert reason_for(issuer, clock, token) == "disallowed_algorithm"


def test_crit_headers_are_refused(issuer: DevIssuer, clock: FakeClock) -> None:
    hdr = header(issuer, crit=["b64"], b64=False)
    assert reason_for(issuer, clock, signed(issuer, hdr, claims(issuer, clock))) == "malformed"


def test_keys_offered_by_the_token_itself_are_never_used(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    attacker = DevIssuer()  # never started: only its key is used
    attacker_kid = next(iter(attacker.keys))
    evil_jwk = public_jwk(attacker.keys[attacker_kid].private, attacker_kid, "RS256")
    url = f"{issuer.issuer}/attacker-jwks"
    for extra in ({"jwk": evil_jwk}, {"jku": url}, {"x5u": url}, {"x5c": ["MIIB"]}):
        forged = signed(attacker, header(attacker, **extra), claims(issuer, clock))
        assert reason_for(issuer, clock, forged) == "unknown_kid"
        # Claiming the issuer's real kid only gets the forged signature checked
        # against the issuer's key.
        real = header(issuer, **extra)
        forged_real_kid = signed(attacker, real, claims(issuer, clock))
        assert reason_for(issuer, clock, forged_real_kid) == "bad_signature"
    attacker.stop()
    assert "/attacker-jwks" not in issuer.requests


# --- keys and signatures ----------------------------------------------------------


def test_an_unknown_kid_is_refused(issuer: DevIssuer, clock: FakeClock) -> None:
    token = signed(issuer, header(issuer, kid="not-published"), claims(issuer, clock))
    assert reason_for(issuer, clock, token) == "unknown_kid"


def test_a_key_of_the_wrong_family_for_alg_is_refused(clock: FakeClock) -> None:
    with DevIssuer(algorithms=("RS256", "ES256")) as issuer:
        rsa_kid, ec_kid = list(issuer.keys)
        hdr = header(issuer, alg="ES256", kid=rsa_kid)  # EC signature, RSA key named
        token = signed(issuer, hdr, claims(issuer, clock), kid=ec_kid)
        assert reason_for(issuer, clock, token, JWT_ALGORITHMS="RS256,ES256") == "incompatible_key"


def test_a_jwk_alg_pins_the_algorithm(issuer: DevIssuer, clock: FakeClock) -> None:
    # The issuer's key says alg RS256; a PS256 token under it is refused even
    # though PS256 is allowed and the key is RSA.
    key = next(iter(issuer.keys.values()))
    key.alg = "PS256"
    token = signed(issuer, header(issuer, alg="PS256"), claims(issuer, clock))
    key.alg = "RS256"
    assert reason_for(issuer, clock, token, JWT_ALGORITHMS="RS256,PS256") == "incompatible_key"


@pytest.mark.parametrize("tamper", ["payload", "signature", "empty-ish", "zeros"])
def test_a_tampered_token_fails_the_signature_check(
    issuer: DevIssuer, clock: FakeClock, tamper: str
) -> None:
    head, payload, sig = mint(issuer, clock).split(".")
    if tamper == "payload":
        payload = segment(claims(issuer, clock, sub="admin"))
    elif tamper == "signature":
        sig = b64(bytes(255) + b"\x01")
    elif tamper == "empty-ish":
        sig = b64(b"\x00")
    else:
        sig = b64(bytes(256))
    assert reason_for(issuer, clock, f"{head}.{payload}.{sig}") == "bad_signature"


def test_ecdsa_psychic_signature_is_refused(clock: FakeClock) -> None:
    with DevIssuer(algorithms=("ES256",)) as issuer:
        head, payload, _ = mint(issuer, clock).split(".")
        token = f"{head}.{payload}.{b64(bytes(64))}"
        assert reason_for(issuer, clock, token, JWT_ALGORITHMS="ES256") == "bad_signature"


@pytest.mark.filterwarnings("ignore:The RSA key is 1024 bits")
def test_a_weak_rsa_key_in_the_key_set_is_never_used(clock: FakeClock) -> None:
    with DevIssuer(algorithms=()) as issuer:
        issuer.add_key("RS256", "weak", rsa_bits=1024)
        issuer.add_key("RS256", "strong")
        token = issuer.mint({"aud": AUDIENCE}, kid="weak", now=clock.now)
        assert reason_for(issuer, clock, token) == "unknown_kid"
        assert (
            build_authorizer(issuer, clock)
            .issuers[0]
            .verifier.verify(issuer.mint({"aud": AUDIENCE}, kid="strong", now=clock.now))
        )


# --- claims -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": None}, "invalid_claims"),
        ({"iat": None}, "invalid_claims"),
        ({"sub": None}, "invalid_claims"),
        ({"sub": ""}, "invalid_claims"),
        ({"sub": 42}, "invalid_claims"),
        ({"exp": "1800000300"}, "invalid_claims"),
        ({"exp": True}, "invalid_claims"),
        ({"exp": 10**400}, "invalid_claims"),
        ({"iat": [1]}, "invalid_claims"),
        ({"nbf": "soon"}, "invalid_claims"),
        ({"iss": None}, "invalid_claims"),
        ({"iss": ["x"]}, "invalid_claims"),
        ({"aud": None}, "wrong_audience"),
        ({"aud": []}, "wrong_audience"),
        ({"aud": [7]}, "invalid_claims"),
        ({"aud": "https://api.example.test/"}, "wrong_audience"),
        ({"aud": "https://API.example.test"}, "wrong_audience"),
        ({"aud": ["a", "b"]}, "wrong_audience"),
        ({"aud": "https://api.example.te"}, "wrong_audience"),
    ],
)
def test_claims_of_the_wrong_shape_or_value_are_refused(
    issuer: DevIssuer, clock: FakeClock, changes: dict[str, Any], reason: str
) -> None:
    token = signed(issuer, header(issuer), claims(issuer, clock, **changes))
    assert reason_for(issuer, clock, token) == reason


@pytest.mark.parametrize("suffix", ["/", "/x", " ", ".evil.example", "#"])
def test_the_issuer_must_match_exactly(issuer: DevIssuer, clock: FakeClock, suffix: str) -> None:
    token = signed(issuer, header(issuer), claims(issuer, clock, iss=issuer.issuer + suffix))
    assert reason_for(issuer, clock, token) == "wrong_issuer"


def test_expiry_respects_the_leeway_to_the_second(issuer: DevIssuer, clock: FakeClock) -> None:
    token = signed(issuer, header(issuer), claims(issuer, clock, exp=int(clock.now) - 10))
    verifier = build_authorizer(issuer, clock, JWT_LEEWAY_SECONDS="10").issuers[0].verifier
    with pytest.raises(TokenError) as caught:
        verifier.verify(token)
    assert caught.value.reason == "expired"
    clock.advance(-1)
    assert verifier.verify(token)


def test_expired_tokens_are_refused_with_zero_leeway(issuer: DevIssuer, clock: FakeClock) -> None:
    token = signed(issuer, header(issuer), claims(issuer, clock, exp=int(clock.now)))
    assert reason_for(issuer, clock, token, JWT_LEEWAY_SECONDS="0") == "expired"


def test_nbf_and_iat_in_the_future_are_not_yet_valid(issuer: DevIssuer, clock: FakeClock) -> None:
    future = int(clock.now) + 61
    nbf_token = signed(issuer, header(issuer), claims(issuer, clock, nbf=future))
    iat_token = signed(issuer, header(issuer), claims(issuer, clock, iat=future))
    assert reason_for(issuer, clock, nbf_token) == "not_yet_valid"
    assert reason_for(issuer, clock, iat_token) == "not_yet_valid"


def test_errors_carry_the_kid_and_alg_for_the_log(issuer: DevIssuer, clock: FakeClock) -> None:
    token = signed(issuer, header(issuer), claims(issuer, clock, exp=int(clock.now) - 3600))
    with pytest.raises(TokenError) as caught:
        build_authorizer(issuer, clock).issuers[0].verifier.verify(token)
    assert caught.value.details == {"kid": next(iter(issuer.keys)), "alg": "RS256"}
    assert token not in str(caught.value)


def test_a_rejected_token_never_triggers_a_fetch_before_the_header_checks(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    for token in ("x.y.z", f"{segment({'alg': 'none', 'kid': 'k'})}.{segment({})}.{b64(b'x')}"):
        reason_for(issuer, clock, token)
    assert issuer.requests == []


def test_generate_key_refuses_unknown_algorithms() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        generate_key("HS256")
