"""Several issuers: each token is checked with its own issuer's keys and rules, never another's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError
from authorizer.pipeline import Authorizer
from authorizer.tokens import verify as verify_module
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, mint
from tests.tokens import access_claims, key_header, signed


@pytest.fixture
def second() -> Iterator[DevIssuer]:
    with DevIssuer() as running:
        yield running


def decide(authorizer: Authorizer, token: str, path: str = "/orders") -> tuple[str, str]:
    decision = authorizer.decide(make_event("http_v2", f"Bearer {token}", path=path))
    return decision.outcome, decision.reason


def both(issuer: DevIssuer, second: DevIssuer, clock: FakeClock) -> Authorizer:
    return build_authorizer(issuer, clock, JWT_ISSUER=f"{issuer.issuer},{second.issuer}")


def test_tokens_from_each_configured_issuer_are_accepted(
    issuer: DevIssuer, second: DevIssuer, clock: FakeClock
) -> None:
    authorizer = both(issuer, second, clock)
    assert decide(authorizer, mint(issuer, clock)) == ("allow", "allowed")
    assert decide(authorizer, mint(second, clock)) == ("allow", "allowed")
    assert authorizer.prefetch() is True  # both sets are held and fresh: nothing to fetch again
    assert (issuer.fetches(), second.fetches()) == (1, 1)


def test_a_key_of_one_issuer_never_verifies_a_token_claiming_another(
    issuer: DevIssuer, second: DevIssuer, clock: FakeClock
) -> None:
    authorizer = both(issuer, second, clock)
    # Signed with the first issuer's key, claiming the second issuer.
    forged = signed(issuer, key_header(issuer), access_claims(issuer, clock, iss=second.issuer))
    assert decide(authorizer, forged) == ("unauthorized", "unknown_kid")
    # Same kid at both issuers, different keys: still refused.
    issuer.add_key(kid="shared")
    second.add_key(kid="shared")
    clock.advance(60)  # past the refresh cooldown, so the new kid can be fetched
    shared = signed(
        issuer, key_header(issuer, kid="shared"), access_claims(issuer, clock, iss=second.issuer),
        kid="shared",
    )  # fmt: skip
    assert decide(authorizer, shared) == ("unauthorized", "bad_signature")
    genuine = signed(second, key_header(second, kid="shared"), access_claims(second, clock),
                     kid="shared")  # fmt: skip
    assert decide(authorizer, genuine) == ("allow", "allowed")


def test_a_token_seen_before_goes_back_to_its_issuer_without_reading_its_payload(
    issuer: DevIssuer, second: DevIssuer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    authorizer = both(issuer, second, clock)
    token = mint(second, clock)
    assert decide(authorizer, token) == ("allow", "allowed")
    peeks: list[str] = []
    real_peek = verify_module.peek_issuer

    def counting_peek(payload: str) -> str:
        peeks.append(payload)
        return real_peek(payload)

    monkeypatch.setattr(verify_module, "peek_issuer", counting_peek)
    assert decide(authorizer, token) == ("allow", "allowed")
    assert peeks == []
    clock.advance(3600)  # expired since: refused, by the issuer that verified it
    assert decide(authorizer, token) == ("unauthorized", "expired")
    assert decide(authorizer, mint(issuer, clock)) == ("allow", "allowed")
    assert len(peeks) == 1  # a first-seen token is sent by its iss


def test_an_unconfigured_issuer_is_refused_without_any_fetch(
    issuer: DevIssuer, second: DevIssuer, clock: FakeClock
) -> None:
    authorizer = both(issuer, second, clock)
    with DevIssuer() as stranger:
        token = mint(stranger, clock)
        assert decide(authorizer, token) == ("unauthorized", "wrong_issuer")
        assert stranger.requests == []
    assert (issuer.requests, second.requests) == ([], [])
    no_iss = signed(issuer, key_header(issuer), access_claims(issuer, clock, iss=None))
    assert decide(authorizer, no_iss) == ("unauthorized", "malformed")


def test_issuer_tables_give_each_issuer_its_audiences_and_rules(
    issuer: DevIssuer, second: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        f"""
[[issuer]]
issuer = "{issuer.issuer}"
audiences = ["first-api"]

[[issuer]]
issuer = "{second.issuer}"
audiences = ["second-api"]
algorithms = ["RS256", "ES256"]
scopes_all = ["partner"]

[[route]]
match = "GET /internal"
issuers = ["{issuer.issuer}"]

[[route]]
match = "GET /orders"
"""
    )
    authorizer = build_authorizer(
        issuer,
        clock,
        env={
            "JWT_ISSUER": "",
            "JWT_AUDIENCE": "",
            "AUTHORIZER_RULES": str(rules),
            "AUTHORIZER_SIMPLE_RESPONSE_CACHE": "off",  # each answer for its own route
        },
    )
    assert decide(authorizer, mint(issuer, clock, aud="first-api")) == ("allow", "allowed")
    assert decide(authorizer, mint(issuer, clock, aud="second-api")) == (
        "unauthorized",
        "wrong_audience",
    )
    assert decide(authorizer, mint(second, clock, aud="second-api")) == (
        "deny",
        "insufficient_scope",
    )
    partner = mint(second, clock, aud="second-api", scope="partner")
    assert decide(authorizer, partner) == ("allow", "allowed")
    assert decide(authorizer, partner, "/internal") == ("deny", "issuer_not_allowed")
    assert decide(authorizer, mint(issuer, clock, aud="first-api"), "/internal") == (
        "allow",
        "allowed",
    )


def test_issuers_come_from_the_environment_or_the_file_not_both(
    issuer: DevIssuer, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(f'[[issuer]]\nissuer = "{issuer.issuer}"\naudiences = ["a"]\n')
    with pytest.raises(ConfigError, match="^JWT_AUDIENCE is set, but AUTHORIZER_RULES lists"):
        load_settings({"JWT_AUDIENCE": AUDIENCE, "AUTHORIZER_RULES": str(rules)})
    assert load_settings({"AUTHORIZER_RULES": str(rules)}).issuers[0].audiences == ("a",)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('audiences = ["a"]', "issuer 1: issuer is required"),
        ('issuer = "http://idp.example.com"\naudiences = ["a"]', "issuer 1: issuer must use https"),
        ('issuer = "https://i.example"', "issuer 1: audiences is required"),
        ('issuer = "https://i.example"\naudiences = []', "issuer 1: audiences must list"),
        ('issuer = "https://i.example"\naudiences = ["a"]\nalgorithms = ["HS256"]',
         "issuer 1: algorithms contains 'HS256'"),
        ('issuer = "https://i.example"\naudiences = ["a"]\naudience_claim = "sub"',
         "issuer 1: audience_claim must be one of aud, client_id, azp"),
        ('issuer = "https://i.example"\naudiences = ["a"]\nissuers = ["x"]',
         "issuer 1: unknown key 'issuers'"),
        ('issuer = "https://i.example"\naudiences = ["a"]\nrole_claims = [""]',
         "issuer 1: role_claims must be a claim name"),
    ],
)  # fmt: skip
def test_issuer_table_mistakes_are_named(tmp_path: Path, table: str, message: str) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(f"[[issuer]]\n{table}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings({"AUTHORIZER_RULES": str(rules)})


def test_one_key_set_is_never_shared_by_several_issuers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^JWT_JWKS_URI cannot serve several issuers"):
        load_settings(
            {
                "JWT_ISSUER": "https://a.example,https://b.example",
                "JWT_AUDIENCE": "x",
                "JWT_JWKS_URI": "https://keys.example/jwks",
            }
        )
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "".join(
            f'[[issuer]]\nissuer = "https://{name}.example"\naudiences = ["x"]\n'
            'jwks_uri = "https://keys.example/jwks"\n'
            for name in ("a", "b")
        )
    )
    with pytest.raises(ConfigError, match="issuer 2: jwks_uri is also issuer 1's"):
        load_settings({"AUTHORIZER_RULES": str(rules)})


def test_the_same_issuer_twice_or_too_many_are_refused() -> None:
    with pytest.raises(ConfigError, match="lists the same issuer twice"):
        load_settings({"JWT_ISSUER": "https://a.example,https://a.example", "JWT_AUDIENCE": "x"})
    many = ",".join(f"https://i{n}.example" for n in range(17))
    with pytest.raises(ConfigError, match="at most 16 issuers"):
        load_settings({"JWT_ISSUER": many, "JWT_AUDIENCE": "x"})
