"""DPoP and certificate binding, piece by piece: thumbprints, URLs, replay stores, settings, keys.

The provider-issued tokens are in ``test_sender_constrained.py``; here tokens
come from the dev issuer, so each piece can be pushed to its edges quickly.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jwt.warnings import InsecureKeyLengthWarning

from authorizer.app import Authorizer
from authorizer.binding.dpop import thumbprint
from authorizer.binding.replay import KeyQuota, MemoryReplayStore, load_replay_store
from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError, ReplayStoreUnavailable
from authorizer.gateway.events import EventKind, normalize_url, request_target
from authorizer_tools.devissuer.issuer import DevIssuer, generate_key
from authorizer_tools.dpopclient import DpopKey, client_certificate
from authorizer_tools.eventgen import DOMAIN, STAGE, dpop_event, make_event, request_url
from tests.answers import answer
from tests.attacks import refuse
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, env_for

URL = request_url()


# --- the pieces ---------------------------------------------------------------------------


def test_the_thumbprint_is_rfc_7638s_example() -> None:
    """RFC 7638 section 3.1: the example RSA key and its thumbprint."""
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
        "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
        "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    jwk = {"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://API.example.com/a", "https://api.example.com/a"),
        ("https://api.example.com:443/a?x=1#f", "https://api.example.com/a"),
        ("https://api.example.com:8443/a", "https://api.example.com:8443/a"),
        ("http://127.0.0.1:80", "http://127.0.0.1/"),
        ("wss://ws.example.com:443", "wss://ws.example.com/"),
        ("https://[::1]:9000/x", "https://[::1]:9000/x"),
        # RFC 3986 6.2.2: only unreserved characters are decoded; %2F is not "/" (to a server
        # it is another path), and escapes are upper-cased. This case used to say a/b~.
        ("https://api.example.com/a%2Fb%7e", "https://api.example.com/a%2Fb~"),
        ("https://api.example.com/a%2fb", "https://api.example.com/a%2Fb"),
        ("https://api.example.com/%FF", "https://api.example.com/%FF"),
        ("https://api.example.com/%fe", "https://api.example.com/%FE"),
        ("https://api.example.com/a b/é", "https://api.example.com/a%20b/%C3%A9"),
        ("https://api.example.com/%41%7A%2D", "https://api.example.com/Az-"),
        ("https://api.example.com/100%", "https://api.example.com/100%25"),
        ("https://user@api.example.com/a", None),
        ("ftp://api.example.com/a", None),
        ("/relative/path", None),
        ("https://api.example.com:99999/a", None),
        ("https://[::1/a", None),
    ],
)
def test_urls_are_compared_in_one_normal_form(url: str, normal: str | None) -> None:
    assert normalize_url(url) == normal


def test_each_event_kind_says_its_url_as_the_client_called_it() -> None:
    expected = {
        "rest_request": ("GET", URL),
        "http_v1": ("GET", URL),
        "http_v2": ("GET", URL),
        "websocket": ("GET", f"wss://{DOMAIN}/{STAGE}"),
    }
    for kind, (method, url) in expected.items():
        target = request_target(EventKind(kind), make_event(kind, None))
        assert target is not None and (target.method, target.url) == (method, url)


def test_a_custom_domain_keeps_its_base_path_and_a_websocket_custom_domain_its_root() -> None:
    rest = make_event("rest_request", None)
    rest["requestContext"].update(domainName="api.example.com", path="/v1/orders")
    target = request_target(EventKind.REST_REQUEST, rest)
    assert target is not None and target.url == "https://api.example.com/v1/orders"
    socket = make_event("websocket", None)
    socket["requestContext"]["domainName"] = "ws.example.com"
    target = request_target(EventKind.WEBSOCKET, socket)
    assert target is not None and target.url == "wss://ws.example.com/"


def test_the_domain_api_gateway_saw_wins_over_the_clients_host_header() -> None:
    event = make_event("http_v2", None)
    event["headers"]["host"] = "evil.example"
    target = request_target(EventKind.HTTP_V2, event)
    assert target is not None and target.url == URL


@pytest.mark.parametrize("kind", ["rest_request", "http_v1", "http_v2", "websocket"])
@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1", "localhost:3000"])
def test_without_domain_name_the_origin_is_the_apis_own_never_the_host_header(
    kind: str, host: str
) -> None:
    """The client's Host header decides nothing, and never downgrades the URL to plain http."""
    event = make_event(kind, None)
    event["requestContext"].pop("domainName")
    event["headers"]["Host" if "Host" in event["headers"] else "host"] = host
    target = request_target(EventKind(kind), event)
    assert target is not None
    assert (
        target.url.split("/")[:3]
        == URL.replace("https", "wss" if kind == "websocket" else "https").split("/")[:3]
    )


def test_without_domain_name_or_a_known_partition_there_is_no_origin() -> None:
    event = make_event("http_v2", None, partition="aws-iso")
    event["requestContext"].pop("domainName")
    assert request_target(EventKind.HTTP_V2, event) is None
    china = make_event("http_v2", None, partition="aws-cn")
    china["requestContext"].pop("domainName")
    target = request_target(EventKind.HTTP_V2, china)
    assert target is not None and ".execute-api.us-east-1.amazonaws.com.cn/" in target.url


def bound_client(
    issuer: DevIssuer, clock: FakeClock
) -> tuple[Authorizer, io.StringIO, DpopKey, str]:
    """An authorizer that takes DPoP proofs only, its log, and a client's key and bound token."""
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="dpop")
    key = DpopKey.generate()
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}}, now=clock.now)
    return authorizer, log, key, token


def test_a_proof_for_the_host_header_is_refused_when_the_event_has_no_domain_name(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer, log, key, token = bound_client(issuer, clock)
    for url in ("http://127.0.0.1/prod/orders", "https://evil.example/prod/orders"):
        event = dpop_event(token, key.proof("GET", url, token, now=clock.now))
        event["requestContext"].pop("domainName")
        event["headers"]["Host"] = url.split("/")[2]
        refusal = refuse(authorizer, log, event)
        assert (refusal.status, refusal.reason, refusal.check) == (401, "dpop_invalid", "htu")
    event = dpop_event(token, key.proof("GET", URL, token, now=clock.now))
    event["requestContext"].pop("domainName")
    event["headers"]["Host"] = "127.0.0.1"
    assert answer(authorizer, event).status == 200  # the API's own origin, from the ARN


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "ath"])
def test_a_proof_claim_holding_a_lone_surrogate_is_a_401_never_a_500(
    issuer: DevIssuer, clock: FakeClock, claim: str
) -> None:
    authorizer, log, key, token = bound_client(issuer, clock)
    proof = key.proof("GET", URL, token, now=clock.now, claims={claim: "a\ud800b"})
    refusal = refuse(authorizer, log, dpop_event(token, proof))
    assert (refusal.status, refusal.reason, refusal.check) == (401, "dpop_invalid", "claims")


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: e["requestContext"].pop("http"),
        lambda e: e.pop("rawPath"),
        lambda e: e.update(rawPath="no-slash"),
        # No domainName, and an ARN of a partition whose API domain is not known: no origin.
        lambda e: (
            e["requestContext"].pop("domainName"),
            e.update(routeArn="arn:aws-iso:execute-api:us-iso-east-1:123456789012:a/p/GET/x"),
        ),
        lambda e: e["requestContext"].update(domainName=42, http={"method": None}),
    ],
)
def test_an_event_without_its_method_or_url_gives_none(damage: Any) -> None:
    event = make_event("http_v2", None)
    damage(event)
    assert request_target(EventKind.HTTP_V2, event) is None


# --- the replay store -------------------------------------------------------------------------


def test_a_proof_is_remembered_until_it_expires_and_no_longer() -> None:
    store = MemoryReplayStore(capacity=2)
    assert store.first_use(b"a", expires_at=10, now=0)
    assert not store.first_use(b"a", expires_at=10, now=9.9)
    assert store.first_use(b"a", expires_at=20, now=10)  # expired at 10: a new proof may use it
    assert len(store) == 1


def test_a_full_store_fails_closed_instead_of_forgetting_a_live_proof() -> None:
    store = MemoryReplayStore(capacity=2)
    assert store.first_use(b"a", 10, 0) and store.first_use(b"b", 20, 0)
    with pytest.raises(ReplayStoreUnavailable, match="AUTHORIZER_DPOP_REPLAY_CACHE_SIZE"):
        store.first_use(b"c", 30, 5)
    assert not store.first_use(b"a", 10, 5)  # still remembered
    assert store.first_use(b"c", 30, 10)  # "a" expired and made room


def test_concurrent_uses_of_one_proof_let_exactly_one_through() -> None:
    store = MemoryReplayStore(capacity=16)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def use() -> None:
        barrier.wait()
        results.append(store.first_use(b"same", 100, 0))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_a_full_replay_store_answers_500_never_allow(issuer: DevIssuer, clock: FakeClock) -> None:
    """Full of many clients' proofs (here: one store slot, two clients)."""
    log = io.StringIO()
    authorizer = build_authorizer(
        issuer,
        clock,
        log=log,
        JWT_SENDER_CONSTRAINT="dpop",
        AUTHORIZER_DPOP_REPLAY_CACHE_SIZE="1",
    )
    key, other = DpopKey.generate(), DpopKey.generate()
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}}, now=clock.now)
    theirs = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": other.thumbprint}}, now=clock.now)
    first = dpop_event(token, key.proof("GET", URL, token, now=clock.now))
    assert answer(authorizer, first).status == 200
    second = dpop_event(theirs, other.proof("GET", URL, theirs, now=clock.now))
    refusal = refuse(authorizer, log, second)
    assert (refusal.status, refusal.reason) == (500, "replay_store_unavailable")
    clock.advance(61)
    third = dpop_event(token, key.proof("GET", URL, token, now=clock.now))
    assert answer(authorizer, third).status == 200


def test_one_client_key_cannot_fill_the_replay_store_for_everyone(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    """A store of 16 takes at most 2 live proofs of one key; others are still served."""
    log = io.StringIO()
    authorizer = build_authorizer(
        issuer, clock, log=log, JWT_SENDER_CONSTRAINT="dpop", AUTHORIZER_DPOP_REPLAY_CACHE_SIZE="16"
    )
    greedy, other = DpopKey.generate(), DpopKey.generate()
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": greedy.thumbprint}}, now=clock.now)
    theirs = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": other.thumbprint}}, now=clock.now)
    first = dpop_event(token, greedy.proof("GET", URL, token, now=clock.now))
    assert answer(authorizer, first).status == 200
    for _ in range(3):  # replays of a captured proof use up nothing of the key's share
        assert refuse(authorizer, log, first).reason == "dpop_replay"
    assert (
        answer(authorizer, dpop_event(token, greedy.proof("GET", URL, token, now=clock.now))).status
        == 200
    )
    for _ in range(20):
        refusal = refuse(
            authorizer, log, dpop_event(token, greedy.proof("GET", URL, token, now=clock.now))
        )
        assert (refusal.status, refusal.reason, refusal.check) == (401, "dpop_invalid", "quota")
    for _ in range(8):  # everyone else: served, and the store is far from full
        event = dpop_event(theirs, other.proof("GET", URL, theirs, now=clock.now))
        assert (
            answer(authorizer, event).status == 200
            or refuse(authorizer, log, event).check == "quota"
        )
    clock.advance(61)
    assert (
        answer(authorizer, dpop_event(token, greedy.proof("GET", URL, token, now=clock.now))).status
        == 200
    )


class SharedStore:
    """A stand-in for a store shared between environments (DynamoDB, Redis)."""

    instances: ClassVar[list[SharedStore]] = []

    def __init__(self) -> None:
        self.keys: dict[bytes, float] = {}
        SharedStore.instances.append(self)

    def first_use(self, key: bytes, expires_at: float, now: float) -> bool:
        if self.keys.get(key, now) > now:
            return False
        self.keys[key] = expires_at
        return True


def make_shared_store() -> SharedStore:
    return SharedStore()


def test_a_shared_replay_store_is_loaded_from_its_factory(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    env = {
        "JWT_SENDER_CONSTRAINT": "either",
        "AUTHORIZER_DPOP_REPLAY_STORE": "tests.runtime.test_dpop:make_shared_store",
    }
    one = build_authorizer(issuer, clock, env=env)
    other = build_authorizer(issuer, clock, env=env)
    assert len(SharedStore.instances) >= 2
    key = DpopKey.generate()
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}}, now=clock.now)
    proof = key.proof("GET", URL, token, now=clock.now)
    assert answer(one, dpop_event(token, proof)).status == 200
    # Another environment with its own store instance; a real shared store would share.
    SharedStore.instances[-1].keys.update(SharedStore.instances[-2].keys)
    assert answer(other, dpop_event(token, proof)).status == 401


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "must be module:callable"),
        ("tests.no_such_module:make", "cannot load"),
        ("tests.runtime.test_dpop:no_such_factory", "cannot load"),
        ("tests.runtime.test_dpop:URL", "did not return a replay store"),
        ("tests.runtime.test_dpop:SharedStore.first_use", "cannot load"),
    ],
)
def test_a_replay_store_that_cannot_be_loaded_fails_the_cold_start(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_replay_store(spec, "AUTHORIZER_DPOP_REPLAY_STORE")


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JWT_SENDER_CONSTRAINT": "mtls"}, "JWT_SENDER_CONSTRAINT must be one of bearer, either"),
        (
            {"JWT_SENDER_CONSTRAINT": "dpop", "JWT_BOUND_TOKENS_AS_BEARER": "true"},
            "JWT_BOUND_TOKENS_AS_BEARER ignores token bindings",
        ),
        ({"AUTHORIZER_DPOP_MAX_AGE_SECONDS": "30"}, "no issuer takes DPoP proofs"),
        (
            {"JWT_SENDER_CONSTRAINT": "either", "AUTHORIZER_DPOP_ALGORITHMS": "HS256"},
            "AUTHORIZER_DPOP_ALGORITHMS contains 'HS256'; allowed .asymmetric only.",
        ),
        (
            {"JWT_SENDER_CONSTRAINT": "either", "AUTHORIZER_DPOP_ALGORITHMS": "none"},
            "AUTHORIZER_DPOP_ALGORITHMS contains 'none'",
        ),
        (
            {"JWT_SENDER_CONSTRAINT": "either", "AUTHORIZER_DPOP_MAX_AGE_SECONDS": "3600"},
            "AUTHORIZER_DPOP_MAX_AGE_SECONDS",
        ),
        (
            {"JWT_SENDER_CONSTRAINT": "either", "AUTHORIZER_DPOP_REPLAY_CACHE_SIZE": "0"},
            "AUTHORIZER_DPOP_REPLAY_CACHE_SIZE",
        ),
    ],
)
def test_bad_sender_constraint_settings_fail_the_cold_start_naming_the_setting(
    issuer: DevIssuer, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env_for(issuer, **env))


def test_each_issuer_of_a_rules_file_has_its_own_policy(tmp_path: Any, issuer: DevIssuer) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        f'[[issuer]]\nissuer = "{issuer.issuer}"\naudiences = ["{AUDIENCE}"]\n'
        'sender_constraint = "dpop"\n\n'
        '[[issuer]]\nissuer = "https://other.example.com"\naudiences = ["api"]\n'
        "bound_tokens_as_bearer = true\n",
        encoding="utf-8",
    )
    settings = load_settings({"AUTHORIZER_RULES": str(rules)})
    first, second = settings.issuers
    assert (first.binding.constraint, first.binding.bound_tokens_as_bearer) == ("dpop", False)
    assert (second.binding.constraint, second.binding.bound_tokens_as_bearer) == ("bearer", True)


# --- the proof's key and the token's cnf ----------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA"])
def test_proofs_of_every_asymmetric_algorithm_are_accepted(
    issuer: DevIssuer, clock: FakeClock, alg: str
) -> None:
    authorizer = build_authorizer(issuer, clock, JWT_SENDER_CONSTRAINT="dpop")
    key = DpopKey.generate(alg)
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}}, now=clock.now)
    assert (
        answer(authorizer, dpop_event(token, key.proof("GET", URL, token, now=clock.now))).status
        == 200
    )


@pytest.mark.parametrize(
    ("header", "check"),
    [
        ({"jwk": DpopKey.generate("ES384").jwk}, "jwk"),  # a P-384 key for an ES256 proof
        ({"jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}}, "jwk"),
        ({"jwk": "not an object"}, "jwk"),
        ({"jwk": {"kty": "RSA", "n": 5, "e": "AQAB"}}, "jwk"),
    ],
)
def test_a_proof_key_that_does_not_fit_is_refused(
    issuer: DevIssuer, clock: FakeClock, header: dict[str, Any], check: str
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="dpop")
    key = DpopKey.generate("ES256")
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}}, now=clock.now)
    proof = key.proof("GET", URL, token, now=clock.now, header=header)
    refusal = refuse(authorizer, log, dpop_event(token, proof))
    assert refusal.reason == "dpop_invalid"
    assert f'"check":"{check}"' in log.getvalue()


def test_a_weak_rsa_proof_key_is_refused(issuer: DevIssuer, clock: FakeClock) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="dpop")
    key = DpopKey(generate_key("RS256", rsa_bits=1024), "RS256")
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}}, now=clock.now)
    with pytest.warns(InsecureKeyLengthWarning):  # PyJWT signs with it, warning
        proof = key.proof("GET", URL, token, now=clock.now)
    refusal = refuse(authorizer, log, dpop_event(token, proof))
    assert refusal.reason == "dpop_invalid" and "1024-bit RSA key" in log.getvalue()


@pytest.mark.parametrize(
    ("cnf", "reason"),
    [
        ("a string", "invalid_claims"),
        ({}, "dpop_binding"),
        ({"jwk": {"kty": "EC"}}, "dpop_binding"),
        ({"jkt": 5}, "dpop_binding"),
        ({"x5t#S256": ""}, "dpop_binding"),
    ],
)
def test_a_cnf_that_binds_to_nothing_provable_is_refused(
    issuer: DevIssuer, clock: FakeClock, cnf: object, reason: str
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="either")
    token = issuer.mint({"aud": AUDIENCE, "cnf": cnf}, now=clock.now)
    refusal = refuse(authorizer, log, make_event("http_v2", f"Bearer {token}"))
    assert (refusal.status, refusal.reason) == (401, reason)


@pytest.fixture(scope="module")
def bound_setup() -> Iterator[tuple[Authorizer, io.StringIO, str]]:
    """One authorizer and one DPoP-bound token, for the property test's many examples."""
    with DevIssuer() as issuer:
        clock = FakeClock(time.time())
        log = io.StringIO()
        authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="dpop")
        claims = {"aud": AUDIENCE, "cnf": {"jkt": DpopKey.generate().thumbprint}}
        yield authorizer, log, issuer.mint(claims, now=clock.now, lifetime=3600)


@given(proof=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.hex()))
def test_any_dpop_header_is_refused_without_a_crash(
    bound_setup: tuple[Authorizer, io.StringIO, str], proof: str
) -> None:
    authorizer, log, token = bound_setup
    log.seek(0)
    log.truncate()
    refusal = refuse(authorizer, log, dpop_event(token, proof))
    assert refusal.status == 401 and refusal.reason.startswith("dpop_")


def test_a_token_bound_to_a_key_and_a_certificate_needs_both(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="dpop")
    key = DpopKey.generate()
    pem, x5t = client_certificate()
    claims = {"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint, "x5t#S256": x5t}}
    token = issuer.mint(claims, now=clock.now)
    event = dpop_event(token, key.proof("GET", URL, token, now=clock.now))
    assert refuse(authorizer, log, event).reason == "cert_binding"
    event = dpop_event(token, key.proof("GET", URL, token, now=clock.now))
    event["requestContext"]["authentication"] = {"clientCert": {"clientCertPem": pem}}
    assert answer(authorizer, event).status == 200


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (lambda e: e.pop("rawPath"), "htu"),  # the event cannot say where the request went
        (lambda e: e["headers"].update(dpop=e["headers"]["dpop"][:-2] + "!!"), "shape"),
        (
            lambda e: e["requestContext"].update(
                authentication={"clientCert": {"clientCertPem": "x" * 20000}}
            ),
            None,  # an oversized certificate is never parsed (the token here is not bound to one)
        ),
    ],
)
def test_events_and_proofs_damaged_in_transit_are_refused(
    issuer: DevIssuer, clock: FakeClock, change: Any, check: str | None
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="dpop")
    key = DpopKey.generate()
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}}, now=clock.now)
    event = dpop_event(token, key.proof("GET", URL, token, now=clock.now))
    change(event)
    if check is None:
        assert answer(authorizer, event).status == 200
        return
    assert refuse(authorizer, log, event).reason == "dpop_invalid"
    assert f'"check":"{check}"' in log.getvalue()


def test_an_oversized_certificate_is_not_a_match(issuer: DevIssuer, clock: FakeClock) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="either")
    pem, x5t = client_certificate()
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"x5t#S256": x5t}}, now=clock.now)
    event = make_event("http_v2", f"Bearer {token}")
    padded = pem + "\n" * 20000  # the right certificate, past the size API Gateway allows
    event["requestContext"]["authentication"] = {"clientCert": {"clientCertPem": padded}}
    assert refuse(authorizer, log, event).reason == "cert_binding"


def test_a_proof_dated_beyond_any_clock_is_refused(issuer: DevIssuer, clock: FakeClock) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, JWT_SENDER_CONSTRAINT="dpop")
    key = DpopKey.generate()
    token = issuer.mint({"aud": AUDIENCE, "cnf": {"jkt": key.thumbprint}}, now=clock.now)
    proof = key.proof("GET", URL, token, claims={"iat": 10**400})
    assert refuse(authorizer, log, dpop_event(token, proof)).reason == "dpop_invalid"
    assert "not a NumericDate" in log.getvalue()


def test_a_replay_store_holds_at_least_one_proof() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemoryReplayStore(capacity=0)


def test_bound_tokens_as_bearer_does_not_look_at_cnf_at_all(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock, JWT_BOUND_TOKENS_AS_BEARER="true")
    for cnf in ({"jwk": {"kty": "EC"}}, {"jkt": 5}, {"x5t#S256": "abc"}, {}):
        token = issuer.mint({"aud": AUDIENCE, "cnf": cnf}, now=clock.now)
        assert answer(authorizer, make_event("http_v2", f"Bearer {token}")).status == 200, cnf


def test_only_a_loopback_host_is_served_over_plain_http() -> None:
    """A client's X-Forwarded-Proto cannot make a proof it leaked over plain HTTP count."""
    event = make_event("http_v2", None)
    event["headers"]["x-forwarded-proto"] = "http"
    target = request_target(EventKind.HTTP_V2, event)
    assert target is not None and target.url == URL
    for host, url in (
        ("127.0.0.1:3001", "http://127.0.0.1:3001/prod/orders"),
        ("localhost", "http://localhost/prod/orders"),
        ("[::1]:8080", "http://[::1]:8080/prod/orders"),
        ("127.0.0.1.example.com", "https://127.0.0.1.example.com/prod/orders"),
    ):
        event["requestContext"]["domainName"] = host
        target = request_target(EventKind.HTTP_V2, event)
        assert target is not None and target.url == url, host


def test_the_key_quota_forgets_keys_whose_proofs_expired() -> None:
    """Many keys seen once must not pile up: expired ones are swept as keys accumulate."""
    quota = KeyQuota(limit=1)
    for index in range(10):
        quota.add(f"old-{index}", expires_at=1.0, now=0.0)
    for index in range(10):
        assert not quota.full(f"new-{index}", now=2.0)
        quota.add(f"new-{index}", expires_at=3.0, now=2.0)
    assert quota.full("new-9", now=2.5) and not quota.full("old-0", now=2.5)
    assert len(quota) <= 10  # the old keys are gone, whatever the sweeps' timing
