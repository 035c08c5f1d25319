"""The attack catalogue, end to end through the handler.

Every case must end without an Allow, without any exception but the deliberate
"Unauthorized" (401) or a 500 when no keys can be had, without a network call the
token asked for, without the token in any log line, and within a time bound.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from authorizer.app import Authorizer
from authorizer_tools.devissuer.issuer import DevIssuer, Reply, generate_key, public_jwk
from authorizer_tools.dpopclient import DpopKey, client_certificate
from authorizer_tools.eventgen import KINDS, add_headers, dpop_event, make_event, request_url
from tests.answers import answer
from tests.attacks import Refusal, refuse
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, mint
from tests.tokens import access_claims, b64, hmac_signed, key_header, segment, signed

BOUND = 0.25  # seconds: no attack below may cost more than this (no fetch is involved)


@pytest.fixture
def setup(issuer: DevIssuer, clock: FakeClock) -> Iterator[tuple[Authorizer, io.StringIO]]:
    log = io.StringIO()
    authorizer = build_authorizer(
        issuer, clock, log=log, JWT_ALGORITHMS="RS256,ES256", JWT_REQUIRED_SCOPES="read"
    )
    assert authorizer.prefetch()
    yield authorizer, log
    assert "Bearer " not in log.getvalue()  # no credential ever reaches a log line


def good_claims(issuer: DevIssuer, clock: FakeClock, **changes: Any) -> dict[str, Any]:
    return access_claims(issuer, clock, **{"sub": "victim", "scope": "read", **changes})


def rs_header(issuer: DevIssuer, **changes: Any) -> dict[str, Any]:
    return key_header(issuer, **{"alg": "RS256", "kid": next(iter(issuer.keys)), **changes})


def attack(
    setup: tuple[Authorizer, io.StringIO], token: str, kind: str = "rest_request"
) -> Refusal:
    authorizer, log = setup
    refusal = refuse(authorizer, log, make_event(kind, f"Bearer {token}"))
    assert refusal.seconds < BOUND, refusal
    assert token not in log.getvalue()
    return refusal


# --- header and event shape -------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        " ",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Digest username=x",
        "Bearer a.b.c Bearer d.e.f",
        "Bearer a.b.c,Bearer d.e.f",
        "Bearer <script>.x.y",
        "Bearer \x00\x01\x02",
        "Bearer ☃.☃.☃",
    ],
)
def test_header_shapes_are_refused(
    setup: tuple[Authorizer, io.StringIO], kind: str, authorization: str | None
) -> None:
    authorizer, log = setup
    refusal = refuse(authorizer, log, make_event(kind, authorization))
    assert refusal.reason in ("missing_token", "malformed")
    assert refusal.seconds < BOUND


@pytest.mark.parametrize("size", [16 * 1024 + 1, 64 * 1024, 1024 * 1024, 10 * 1024 * 1024])
def test_oversized_tokens_are_refused_quickly(
    setup: tuple[Authorizer, io.StringIO], size: int
) -> None:
    token = "a" * (size // 3) + "." + "b" * (size // 3) + "." + "c" * (size // 3)
    assert attack(setup, token).reason == "malformed"


@pytest.mark.parametrize(
    "event",
    [
        None,
        "event",
        7,
        [],
        [{"type": "TOKEN"}],
        {},
        {"type": None},
        {"type": "TOKEN", "authorizationToken": "Bearer x"},
        {"type": "TOKEN", "methodArn": None, "authorizationToken": "Bearer a.b.c"},
        {
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:a/b/GET/",
            "headers": None,
            "multiValueHeaders": None,
        },
        {"version": "2.0", "routeArn": 12, "headers": {"authorization": "Bearer a.b.c"}},
        {"version": "1.0", "methodArn": "x", "headers": []},
    ],
)
def test_hostile_events_are_refused(setup: tuple[Authorizer, io.StringIO], event: object) -> None:
    authorizer, log = setup
    refusal = refuse(authorizer, log, event)
    assert refusal.status == 401 and refusal.reason in ("malformed_event", "missing_token")


@pytest.mark.parametrize(
    "arn",
    [
        "*",
        "arn:aws:execute-api:us-east-1:123456789012:*",
        "arn:aws:execute-api:us-east-1:123456789012:abc/*/*",
        "arn:aws:execute-api:us-east-1:123456789012:abc",
        "arn:aws:iam::123456789012:root",
        "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/" + "x" * 2000,
    ],
)
def test_malformed_arns_never_become_a_policy(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock, arn: str
) -> None:
    authorizer, log = setup
    event = make_event("rest_token", f"Bearer {mint(issuer, clock, scope='read')}")
    event["methodArn"] = arn
    assert refuse(authorizer, log, event).reason == "malformed_event"


# --- structure --------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e.f",
        ".b.c",
        "a.b.",
        "....",
        # JWE compact: 5 segments, whatever the header promises (zip, PBES2 with a huge p2c)
        ".".join(
            [
                segment({"alg": "PBES2-HS256+A128KW", "enc": "A128GCM", "p2c": 10**9}),
                "a",
                "b",
                "c",
                "d",
            ]
        ),
        ".".join(
            [segment({"alg": "RSA-OAEP", "enc": "A256GCM", "zip": "DEF"}), "a", "b", "c", "d"]
        ),
    ],
)
def test_wrong_segment_counts_and_jwe_are_malformed(
    setup: tuple[Authorizer, io.StringIO], token: str
) -> None:
    assert attack(setup, token).reason == "malformed"


@pytest.mark.parametrize("kind", ["rest_token", "rest_request"])
@pytest.mark.parametrize("stray", ["+", "/", "=", "==", " ", "\t", "\n", "%", "\x00", "\u00e9"])
def test_characters_outside_base64url_in_any_segment_are_malformed(
    setup: tuple[Authorizer, io.StringIO],
    issuer: DevIssuer,
    clock: FakeClock,
    stray: str,
    kind: str,
) -> None:
    # Inserted, not substituted: a lenient decoder that skips what it does not
    # know would decode the header and signature to the signed bytes and allow.
    token = signed(issuer, rs_header(issuer), good_claims(issuer, clock))
    parts = token.split(".")
    for index in range(3):
        for at in (0, len(parts[index]) // 2, len(parts[index])):
            if stray.isspace() and (index, at) in ((0, 0), (2, len(parts[2]))):
                continue  # around the token: a separator of the Bearer credential
            changed = list(parts)
            changed[index] = changed[index][:at] + stray + changed[index][at:]
            assert attack(setup, ".".join(changed), kind).reason == "malformed", (index, at)


def test_non_canonical_base64url_in_any_segment_is_malformed(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer, _ = setup
    token = signed(issuer, rs_header(issuer), good_claims(issuer, clock))
    allowed = authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    head, payload, sig = token.split(".")
    # Every segment is decoded strictly before the signature is checked (the
    # payload is only parsed after it), so each is refused as malformed.
    expected = ("malformed", "malformed", "malformed")
    tried = 0
    for index, part in enumerate((head, payload, sig)):
        bad = _non_canonical(part)
        if bad is None:
            continue
        parts = [head, payload, sig]
        parts[index] = bad
        assert attack(setup, ".".join(parts)).reason == expected[index]
        tried += 1
    assert tried >= 1


def _non_canonical(segment_text: str) -> str | None:
    """The same bytes with stray low bits set in the last character, if the length allows."""
    if len(segment_text) % 4 == 0:
        return None
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(segment_text[-1])
    return segment_text[:-1] + alphabet[last | 1]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b'"string"',
        b"123",
        b"\xc3\x28",
        b'{"alg":"RS256","alg":"RS256","kid":"k"}',
        b"[" * 20_000 + b"]" * 20_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"alg":"RS256","kid":"k","n":' + b"9" * 5000 + b"}",
        b'{"alg":"RS256","kid":"k","n":1e999999}',
    ],
)
def test_headers_that_are_not_a_plain_json_object_are_malformed(
    issuer: DevIssuer, clock: FakeClock, raw: bytes
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_MAX_TOKEN_BYTES="65536")
    token = f"{b64(raw)}.{segment(good_claims(issuer, clock))}.{b64(b'sig' * 20)}"
    if len(token) > 65536:
        pytest.fail("keep the case under the configured cap")  # pragma: no cover
    refusal = refuse(authorizer, log, make_event("rest_token", f"Bearer {token}"))
    assert refusal.reason == "malformed" and refusal.seconds < 1.0


@pytest.mark.parametrize(
    "raw_payload",
    [
        b"[]",
        b"\xff\xfe",
        b'{"sub":"a","sub":"b"}',
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
        b'{"exp":' + b"9" * 4400 + b"}",
    ],
)
def test_signed_payloads_that_are_not_a_plain_json_object_are_malformed(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, raw_payload: bytes
) -> None:
    token = signed(issuer, rs_header(issuer), raw_payload)
    assert attack(setup, token).reason == "malformed"


def test_a_huge_numeric_date_is_invalid_not_a_crash(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock
) -> None:
    token = signed(issuer, rs_header(issuer), good_claims(issuer, clock, exp=10**400))
    assert attack(setup, token).reason == "invalid_claims"


# --- algorithms ---------------------------------------------------------------------


NONE_SPELLINGS = ["none", "None", "NONE", "nOnE", "NoNe", "none ", " none"]


@pytest.mark.parametrize("alg", NONE_SPELLINGS)
@pytest.mark.parametrize("signature", ["", "AA", "c2ln"])
def test_alg_none_in_every_casing_is_refused(
    setup: tuple[Authorizer, io.StringIO],
    issuer: DevIssuer,
    clock: FakeClock,
    alg: str,
    signature: str,
) -> None:
    token = (
        f"{segment(rs_header(issuer, alg=alg))}.{segment(good_claims(issuer, clock))}.{signature}"
    )
    assert attack(setup, token).reason in ("malformed", "disallowed_algorithm")


@pytest.mark.parametrize("cut", ["empty", "one-byte", "half", "all-but-one"])
def test_empty_or_truncated_signatures_are_refused(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock, cut: str
) -> None:
    head, payload, sig = mint(issuer, clock, scope="read").split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    shortened = {
        "empty": b"",
        "one-byte": raw[:1],
        "half": raw[: len(raw) // 2],
        "all-but-one": raw[:-1],
    }[cut]
    token = f"{head}.{payload}.{b64(shortened)}"
    assert attack(setup, token).reason in ("malformed", "bad_signature")


@pytest.mark.parametrize("alg", [1, 1.5, True, None, [], {}, ["RS256"], {"RS256": 1}])
def test_alg_of_the_wrong_type_is_refused(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock, alg: object
) -> None:
    header = rs_header(issuer)
    header["alg"] = alg
    assert attack(setup, signed(issuer, header, good_claims(issuer, clock))).reason == "malformed"


def public_key_encodings(issuer: DevIssuer) -> dict[str, bytes]:
    key = next(iter(issuer.keys.values()))
    public = key.private.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "pem": pem,
        "pem-no-newline": pem.rstrip(b"\n"),
        "pkcs1-pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "pkcs1-der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        ),
        "jwk": json.dumps(public_jwk(key.private, key.kid, key.alg)).encode(),
        "ssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        "blank": b"",
        "secret": b"secret",
        "password": b"password",
        "kid": key.kid.encode(),
    }


@pytest.mark.parametrize("hs", ["HS256", "HS384", "HS512"])
def test_rs_to_hs_key_confusion_with_every_encoding_of_the_public_key(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock, hs: str
) -> None:
    for name, secret in public_key_encodings(issuer).items():
        token = hmac_signed(rs_header(issuer, alg=hs), good_claims(issuer, clock), secret)
        assert attack(setup, token).reason == "disallowed_algorithm", name


@pytest.mark.parametrize(
    "alg",
    ["RS384", "RS512", "PS256", "ES384", "ES512", "EdDSA", "ES256K", "RSA-OAEP", "dir", "A128KW"],
)
def test_algorithms_off_the_allow_list_are_refused(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock, alg: str
) -> None:
    head = segment(rs_header(issuer, alg=alg))
    token = f"{head}.{segment(good_claims(issuer, clock))}.{b64(b'x' * 64)}"
    assert attack(setup, token).reason == "disallowed_algorithm"


def test_family_and_curve_mismatches_are_refused(clock: FakeClock) -> None:
    with DevIssuer(algorithms=("RS256", "ES256", "ES384")) as issuer:
        rs, es256, es384 = list(issuer.keys)
        log = io.StringIO()
        authorizer = build_authorizer(issuer, clock, log=log, JWT_ALGORITHMS="RS256,ES256,ES384")
        claims = good_claims(issuer, clock)
        cases = [
            ({"alg": "ES256", "kid": rs}, es256),  # EC signature, RSA key named
            ({"alg": "RS256", "kid": es256}, rs),  # RSA signature, EC key named
            ({"alg": "ES384", "kid": es256}, es384),  # P-384 signature, P-256 key named
            ({"alg": "ES256", "kid": es384}, es256),  # P-256 signature, P-384 key named
        ]
        for header, signer in cases:
            token = signed(issuer, header, claims, kid=signer, alg=header["alg"])
            refusal = refuse(authorizer, log, make_event("rest_token", f"Bearer {token}"))
            assert refusal.reason == "incompatible_key", header


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_ecdsa_psychic_signatures_are_refused(clock: FakeClock, alg: str) -> None:
    with DevIssuer(algorithms=(alg,)) as issuer:
        log = io.StringIO()
        authorizer = build_authorizer(issuer, clock, log=log, JWT_ALGORITHMS=alg)
        head, payload, _ = issuer.mint({"aud": AUDIENCE}, now=clock.now).split(".")
        size = {"ES256": 32, "ES384": 48, "ES512": 66}[alg]
        for signature in (
            bytes(2 * size),
            bytes(size) + b"\x01" * size,
            b"\x01" * size + bytes(size),
        ):
            event = make_event("http_v2", f"Bearer {head}.{payload}.{b64(signature)}")
            assert refuse(authorizer, log, event).reason == "bad_signature"


# --- key selection ------------------------------------------------------------------


def test_keys_and_urls_offered_by_the_token_are_never_used_or_fetched(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock
) -> None:
    attacker = DevIssuer()  # not started: only its private key matters
    evil_kid = next(iter(attacker.keys))
    evil_jwk = public_jwk(attacker.keys[evil_kid].private, evil_kid, "RS256")
    trap = f"{issuer.issuer}/trap"  # a URL on the real issuer's server, so a fetch would show
    before = list(issuer.requests)
    for extra in (
        {"jwk": evil_jwk},
        {"jku": trap},
        {"x5u": trap},
        {"x5c": ["MIIBIjAN"]},
        {"jku": trap, "jwk": evil_jwk, "x5u": trap},
    ):
        for kid in (evil_kid, next(iter(issuer.keys))):
            header = {"alg": "RS256", "kid": kid, **extra}
            token = signed(attacker, header, good_claims(issuer, clock), kid=evil_kid)
            assert attack(setup, token).reason in ("unknown_kid", "bad_signature")
    new_requests = issuer.requests[len(before) :]
    attacker.stop()
    assert "/trap" not in new_requests
    assert set(new_requests) <= {"/jwks"}  # at most the cooldown-limited refetch


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../etc/passwd",
        "/dev/null",
        "' OR '1'='1",
        "1; DROP TABLE keys --",
        "$(curl http://127.0.0.1:9/x)",
        "`id`",
        "a\r\nX-Injected: 1",
        "a\nforged log line",
        "rs256-\u0430bc",  # Cyrillic a
        "\u202eevil",
        "kid\x00nul",
        "x" * 256,
    ],
)
def test_kid_injection_strings_are_just_unknown_kids(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock, kid: str
) -> None:
    token = signed(issuer, rs_header(issuer, kid=kid), good_claims(issuer, clock))
    refusal = attack(setup, token)
    assert refusal.reason == "unknown_kid"
    _, log = setup
    assert all(line.startswith("{") for line in log.getvalue().splitlines())  # no forged lines


@pytest.mark.parametrize("kid", [1, 1.0, True, [], {}, ["a"], {"kid": "a"}, "", "x" * 257])
def test_kid_of_the_wrong_type_or_size_is_malformed(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock, kid: object
) -> None:
    header = rs_header(issuer)
    header["kid"] = kid
    assert attack(setup, signed(issuer, header, good_claims(issuer, clock))).reason == "malformed"


def test_a_64_kib_kid_is_refused_by_the_size_cap(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock
) -> None:
    token = signed(issuer, rs_header(issuer, kid="k" * 65536), good_claims(issuer, clock))
    assert attack(setup, token).reason == "malformed"


def test_a_flood_of_unknown_kids_fetches_once_per_cooldown_and_spares_good_tokens(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWKS_REFRESH_COOLDOWN_SECONDS="30")
    assert authorizer.prefetch()
    good = mint(issuer, clock)
    payload = segment(good_claims(issuer, clock))
    for index in range(1000):
        # The kid is unknown, so the signature is never looked at: random bytes will do.
        forged = f"{segment(rs_header(issuer, kid=f'forged-{index}'))}.{payload}.{b64(bytes(256))}"
        log.seek(0)
        log.truncate()  # refuse() reads the last decision: keep the log short
        assert refuse(authorizer, log, make_event("rest_token", f"Bearer {forged}")).reason == (
            "unknown_kid"
        )
        if index % 100 == 0:
            allowed = authorizer.handle(make_event("rest_token", f"Bearer {good}"))
            assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        clock.advance(0.1)  # 100 s in all: at most one refetch per 30 s window
    assert issuer.fetches() <= 1 + 4


# --- claims -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "values"),
    [
        ("iss", [1, True, ["x"], {"a": 1}, ""]),
        ("sub", [1, True, ["x"], {"a": 1}, ""]),
        ("aud", [1, True, {"a": 1}, [], [1]]),
        ("exp", ["1", True, [1], {"a": 1}, None]),
        ("nbf", ["1", True, [1], {"a": 1}]),
        ("iat", ["1", True, [1], {"a": 1}, None]),
        ("jti", [1, True, ["x"], {"a": 1}]),
        ("client_id", [1, True, ["x"]]),
        ("scope", [1, True, ["read"], {"read": True}]),
        ("auth_time", ["1", True, [1]]),
    ],
)
def test_every_registered_claim_of_the_wrong_type_is_refused(
    setup: tuple[Authorizer, io.StringIO],
    issuer: DevIssuer,
    clock: FakeClock,
    claim: str,
    values: list[object],
) -> None:
    for value in values:
        claims = good_claims(issuer, clock)
        if value is None:
            claims.pop(claim)
        else:
            claims[claim] = value
        refusal = attack(setup, signed(issuer, rs_header(issuer), claims))
        assert refusal.status == 401, (claim, value, refusal)
        assert refusal.reason in ("invalid_claims", "wrong_issuer", "wrong_audience"), refusal


@pytest.mark.parametrize(
    "iss_suffix", ["/", "//", "/.", "?", "#", " ", "\t", ".evil.example", ":443", "/realms/x"]
)
def test_issuer_prefix_and_suffix_tricks_are_refused(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock, iss_suffix: str
) -> None:
    for iss in (issuer.issuer + iss_suffix, issuer.issuer[:-1], issuer.issuer.upper()):
        token = signed(issuer, rs_header(issuer), good_claims(issuer, clock, iss=iss))
        assert attack(setup, token).reason == "wrong_issuer"


@pytest.mark.parametrize(
    "aud",
    [
        AUDIENCE + "/",
        AUDIENCE.upper(),
        AUDIENCE[:-1],
        "",
        [AUDIENCE + " "],
        ["*"],
        [f"{AUDIENCE},x"],
    ],
)
def test_audience_lookalikes_are_refused(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock, aud: object
) -> None:
    token = signed(issuer, rs_header(issuer), good_claims(issuer, clock, aud=aud))
    assert attack(setup, token).reason == "wrong_audience"


@pytest.mark.parametrize(
    "scope", ["reader", "read:all", "READ", "rea", "xread", "read,write", "", "profile email"]
)
def test_scope_substrings_and_lookalikes_are_denied(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock, scope: str
) -> None:
    token = signed(issuer, rs_header(issuer), good_claims(issuer, clock, scope=scope))
    refusal = attack(setup, token)
    assert (refusal.status, refusal.reason) == (403, "insufficient_scope")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": 1}, "expired"),
        ({"exp": None}, "invalid_claims"),
        ({"iat": None}, "invalid_claims"),
        ({"nbf": 4_000_000_000}, "not_yet_valid"),
        ({"iat": 4_000_000_000}, "not_yet_valid"),
    ],
)
def test_time_claims(
    setup: tuple[Authorizer, io.StringIO],
    issuer: DevIssuer,
    clock: FakeClock,
    changes: dict[str, Any],
    reason: str,
) -> None:
    claims = good_claims(issuer, clock, **changes)
    assert attack(setup, signed(issuer, rs_header(issuer), claims)).reason == reason


# --- output -------------------------------------------------------------------------


def test_the_context_holds_exactly_the_verified_claims(
    setup: tuple[Authorizer, io.StringIO], issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer, _ = setup
    header = rs_header(issuer, sub="header-admin", role="admin", jku="https://x", ctx="y")
    claims = good_claims(issuer, clock, nickname=None)
    response = authorizer.handle(
        make_event("rest_token", f"Bearer {signed(issuer, header, claims)}")
    )
    context = response["context"]
    assert context["sub"] == "victim"
    assert "role" not in context and "jku" not in context and "ctx" not in context
    assert set(context) - {"jsonClaims"} == {k for k, v in claims.items() if v is not None}


# --- hostile key sets -----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The RSA key is 1024 bits")
def test_a_hostile_key_set_spoils_nothing_for_the_good_key(clock: FakeClock) -> None:
    with DevIssuer(algorithms=()) as issuer:
        good = issuer.add_key("RS256", "good")
        leaked = issuer.add_key("RS256", "leaked")
        weak = issuer.add_key("RS256", "weak", rsa_bits=1024)
        twin_a = issuer.add_key("RS256", "twin")
        encryption = issuer.add_key("RS256", "enc")
        members = issuer.jwks()["keys"]
        by_kid = {member["kid"]: member for member in members}
        leaked_key = issuer.keys[leaked].private
        assert isinstance(leaked_key, rsa.RSAPrivateKey)
        leaked_private = leaked_key.private_numbers()
        by_kid[leaked]["d"] = (
            base64.urlsafe_b64encode(leaked_private.d.to_bytes(256, "big")).rstrip(b"=").decode()
        )
        by_kid[encryption]["use"] = "enc"
        twin_b = public_jwk(generate_key("RS256"), twin_a, "RS256")  # another key, same kid
        hostile = [
            *by_kid.values(),
            twin_b,
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "broken", "n": "%%%", "e": "AQAB"},
            "junk",
            None,
            42,
        ]
        body = json.dumps({"keys": hostile}).encode()
        issuer.responder = lambda path: Reply(200, body) if path == "/jwks" else None
        log = io.StringIO()
        authorizer = build_authorizer(issuer, clock, log=log)
        claims = good_claims(issuer, clock)
        allowed = authorizer.handle(
            make_event("rest_token", f"Bearer {issuer.mint(claims, kid=good, now=clock.now)}")
        )
        assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        for kid in (leaked, weak, twin_a, encryption):
            token = issuer.mint(claims, kid=kid, now=clock.now)
            refusal = refuse(authorizer, log, make_event("rest_token", f"Bearer {token}"))
            assert refusal.reason == "unknown_kid", kid
        hmac_token = hmac_signed({"alg": "HS256", "kid": "hmac"}, claims, b"secret")
        refusal = refuse(authorizer, log, make_event("rest_token", f"Bearer {hmac_token}"))
        assert refusal.reason == "disallowed_algorithm"
        fetched = next(
            json.loads(line)
            for line in log.getvalue().splitlines()
            if "issuer keys fetched" in line
        )
        assert fetched["keys"] == 1  # only the good key survived
        assert "private members" in fetched["detail"] and "1024-bit" in fetched["detail"]


# --- DPoP and certificate-bound tokens (RFC 9449, RFC 8705) ------------------------------
#
# The attacker holds a victim's bound token (and may have seen one of its proofs) but not
# the victim's private key or client certificate. Every attempt must end in a 401 with the
# sender-constraint reason, without a fetch the proof asked for, within the time bound.

DPOP_URL = request_url()


@pytest.fixture
def bound(
    issuer: DevIssuer, clock: FakeClock
) -> Iterator[tuple[tuple[Authorizer, io.StringIO], DpopKey, str]]:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="either")
    assert authorizer.prefetch()
    victim = DpopKey.generate()
    token = mint(issuer, clock, sub="victim", cnf={"jkt": victim.thumbprint})
    yield (authorizer, log), victim, token
    assert "DPoP ey" not in log.getvalue() and "Bearer " not in log.getvalue()


def dpop_attack(
    setup: tuple[Authorizer, io.StringIO],
    token: str,
    proof: str | None,
    *,
    kind: str = "http_v2",
    method: str = "GET",
    path: str = "/orders",
    scheme: str = "DPoP",
) -> Refusal:
    authorizer, log = setup
    event = make_event(kind, f"{scheme} {token}", method=method, path=path)
    if proof is not None:
        add_headers(event, {"DPoP": proof})
    refusal = refuse(authorizer, log, event)
    assert refusal.seconds < BOUND, refusal
    assert token not in log.getvalue()
    assert proof is None or len(proof) < 16 or proof not in log.getvalue()
    return refusal


def test_a_stolen_bound_token_is_useless_as_a_bearer_token(
    bound: tuple[tuple[Authorizer, io.StringIO], DpopKey, str],
) -> None:
    setup, _, token = bound
    for kind in KINDS:
        refusal = dpop_attack(setup, token, None, kind=kind, scheme="Bearer")
        assert (refusal.status, refusal.reason) == (401, "dpop_missing")


def test_a_stolen_token_with_the_thiefs_own_key_is_refused(
    bound: tuple[tuple[Authorizer, io.StringIO], DpopKey, str], clock: FakeClock
) -> None:
    setup, _, token = bound
    for alg in ("ES256", "PS256", "EdDSA"):
        proof = DpopKey.generate(alg).proof("GET", DPOP_URL, token, now=clock.now)
        assert dpop_attack(setup, token, proof).reason == "dpop_binding"


def test_a_captured_proof_is_good_for_its_one_request_only(
    bound: tuple[tuple[Authorizer, io.StringIO], DpopKey, str], clock: FakeClock
) -> None:
    setup, victim, token = bound
    proof = victim.proof("GET", DPOP_URL, token, now=clock.now)
    assert answer(setup[0], dpop_event(token, proof)).status == 200  # the victim's request
    assert dpop_attack(setup, token, proof).reason == "dpop_replay"
    assert dpop_attack(setup, token, proof, method="DELETE").reason == "dpop_invalid"
    assert dpop_attack(setup, token, proof, path="/admin").reason == "dpop_invalid"
    clock.advance(3600)  # the replay cache forgets it, and the proof is stale by then
    assert dpop_attack(setup, token, proof).reason in ("dpop_invalid", "expired")


def test_a_proof_cannot_be_moved_to_another_token(
    bound: tuple[tuple[Authorizer, io.StringIO], DpopKey, str],
    issuer: DevIssuer,
    clock: FakeClock,
) -> None:
    setup, victim, token = bound
    other = mint(issuer, clock, sub="victim", scope="admin", cnf={"jkt": victim.thumbprint})
    proof = victim.proof("GET", DPOP_URL, token, now=clock.now)
    assert dpop_attack(setup, other, proof).reason == "dpop_invalid"  # ath names the first


def test_keys_and_urls_offered_by_the_proof_are_never_fetched(
    bound: tuple[tuple[Authorizer, io.StringIO], DpopKey, str],
    issuer: DevIssuer,
    clock: FakeClock,
) -> None:
    setup, _, token = bound
    trap = f"{issuer.issuer}/trap"
    before = len(issuer.requests)
    for extra in ({"jku": trap}, {"x5u": trap}, {"kid": "rs256"}, {"x5c": ["MIIBIjAN"]}):
        thief = DpopKey.generate()
        proof = thief.proof("GET", DPOP_URL, token, now=clock.now, header=extra)
        assert dpop_attack(setup, token, proof).reason == "dpop_binding"
    assert "/trap" not in issuer.requests[before:]


def test_the_proofs_public_key_as_an_hmac_secret_is_refused(
    bound: tuple[tuple[Authorizer, io.StringIO], DpopKey, str], clock: FakeClock
) -> None:
    """Key confusion: sign HS256 with the victim's public jwk (which anyone can read)."""
    setup, victim, token = bound
    claims = {"jti": "x", "htm": "GET", "htu": DPOP_URL, "iat": int(clock.now)}
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": victim.jwk}
    for secret in (json.dumps(victim.jwk).encode(), victim.thumbprint.encode()):
        proof = hmac_signed(header, claims, secret)
        assert dpop_attack(setup, token, proof).reason == "dpop_invalid"
    for alg in ("none", "None", "NONE"):
        unsigned = f"{segment({**header, 'alg': alg})}.{segment(claims)}.c2ln"
        assert dpop_attack(setup, token, unsigned).reason == "dpop_invalid"


@pytest.mark.parametrize("bits", [16384])
def test_an_oversized_proof_key_is_refused_quickly(
    bound: tuple[tuple[Authorizer, io.StringIO], DpopKey, str], clock: FakeClock, bits: int
) -> None:
    setup, _, token = bound
    modulus = b64((1 << (bits - 1) | 1).to_bytes(bits // 8, "big"))
    header = {"typ": "dpop+jwt", "alg": "RS256", "jwk": {"kty": "RSA", "n": modulus, "e": "AQAB"}}
    claims = {"jti": "x", "htm": "GET", "htu": DPOP_URL, "iat": int(clock.now)}
    proof = f"{segment(header)}.{segment(claims)}.{b64(b'x' * (bits // 8))}"
    assert dpop_attack(setup, token, proof).reason == "dpop_invalid"  # too long, or too big


@pytest.mark.parametrize(
    "proofs",
    [
        "{a}, {b}",  # two proofs in one header, comma-joined by a proxy
        "{a} {b}",
        " ",
        "{a}.extra",
    ],
)
def test_proofs_joined_or_garbled_in_one_header_are_refused(
    bound: tuple[tuple[Authorizer, io.StringIO], DpopKey, str], clock: FakeClock, proofs: str
) -> None:
    setup, victim, token = bound
    a, b = (victim.proof("GET", DPOP_URL, token, now=clock.now) for _ in range(2))
    refusal = dpop_attack(setup, token, proofs.format(a=a, b=b))
    assert refusal.reason in ("dpop_invalid", "dpop_missing")


def test_a_client_certificate_header_is_not_a_client_certificate(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="either")
    pem, x5t = client_certificate()
    token = mint(issuer, clock, cnf={"x5t#S256": x5t})
    for kind in ("rest_request", "http_v2"):
        event = make_event(kind, f"Bearer {token}")
        for name in ("X-Amzn-Mtls-Clientcert", "X-Client-Cert", "X-SSL-Client-Cert"):
            event["headers"][name] = pem
        assert refuse(authorizer, log, event).reason == "cert_binding"
