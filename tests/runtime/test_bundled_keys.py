"""Key sets bundled in the artifact: pinned by `keys pin`, served at cold start without the network.

End to end: `keys pin` against a loopback issuer, a fresh interpreter that
answers with the issuer down, refresh after the bundled set's freshness,
rotation, the stale limit, and every file the cold start must refuse.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from authorizer.config.bundledkeys import FORMAT, bundled_document
from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError
from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from authorizer_tools.doctor import run_doctor
from authorizer_tools.eventgen import make_event
from tests import ROOT
from tests.answers import status
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, env_for, mint
from tests.processes import results, run, run_handler


@pytest.fixture
def clock() -> FakeClock:
    """Real time to start with: the key file's fetch time is checked against the real clock."""
    return FakeClock(time.time())


def write_keys(path: Path, owner: DevIssuer, *, age: float = 0.0, **changes: Any) -> dict[str, str]:
    """A key file for ``owner`` fetched ``age`` seconds ago; the settings that name it."""
    entry = {
        "issuer": owner.issuer,
        "jwks_uri": owner.jwks_uri,
        "fetched_at": int(time.time() - age),
        "jwks": owner.jwks(),
        **changes,
    }
    path.write_text(json.dumps(bundled_document([entry])))
    return {"JWT_KEYS_FILE": str(path)}


def request(token: str) -> dict[str, Any]:
    return make_event("rest_token", f"Bearer {token}")


def test_keys_pin_writes_what_the_cold_start_reads(issuer: DevIssuer, tmp_path: Path) -> None:
    out = tmp_path / "keys.json"
    env = ("--env", f"JWT_ISSUER={issuer.issuer}", "--env", f"JWT_AUDIENCE={AUDIENCE}")
    pinned = run("keys", "pin", "--out", str(out), *env)
    assert pinned.returncode == 0, pinned.stderr
    assert f"{issuer.issuer}: 1 key(s) from {issuer.jwks_uri}" in pinned.stdout
    document = json.loads(out.read_text())
    assert document["format"] == FORMAT
    (entry,) = document["issuers"]
    assert entry["jwks"] == issuer.jwks()
    assert abs(entry["fetched_at"] - time.time()) < 60
    assert issuer.fetches("/.well-known/openid-configuration") == 1
    settings = load_settings({**env_for(issuer), "JWT_KEYS_FILE": str(out)})
    bundled = settings.issuers[0].bundled_keys
    assert bundled is not None and set(bundled.keys.keys) == set(issuer.keys)


def test_keys_pin_refuses_an_issuer_without_a_file_or_with_unusable_keys(
    issuer: DevIssuer, tmp_path: Path
) -> None:
    env = ("--env", f"JWT_ISSUER={issuer.issuer}", "--env", f"JWT_AUDIENCE={AUDIENCE}")
    nowhere = run("keys", "pin", *env)
    assert nowhere.returncode == 2
    assert "names no key file: set JWT_KEYS_FILE" in nowhere.stderr
    issuer.responder = lambda path: None if "openid" in path else _reply(b'{"keys": []}')
    empty = run("keys", "pin", "--out", str(tmp_path / "keys.json"), *env)
    assert empty.returncode == 2
    assert "no usable signing keys" in empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "keys.json").exists()


def _reply(body: bytes) -> Reply:
    return Reply(200, body, {"Content-Type": "application/json"})


def test_a_cold_start_with_bundled_keys_asks_the_issuer_nothing(
    issuer: DevIssuer, tmp_path: Path
) -> None:
    """The Lambda entry point in a fresh interpreter: prefetch on, and no request at all."""
    token = issuer.mint({"aud": AUDIENCE})
    env = {**env_for(issuer), **write_keys(tmp_path / "keys.json", issuer)}
    process = run_handler(env, [request(token), request(token)])
    assert process.returncode == 0, process.stderr
    for outcome in results(process):
        assert outcome["response"]["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert issuer.requests == []
    assert "issuer keys fetch" not in process.stdout


def test_bundled_keys_answer_while_the_issuer_is_down(tmp_path: Path) -> None:
    with DevIssuer() as issuer:
        token = issuer.mint({"aud": AUDIENCE})
        env = {**env_for(issuer), **write_keys(tmp_path / "keys.json", issuer)}
    process = run_handler(env, [request(token)])  # the issuer's port is closed now
    (outcome,) = results(process)
    assert outcome["response"]["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_after_its_freshness_the_bundled_set_is_refreshed_and_then_kept_while_the_issuer_fails(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    keys = write_keys(tmp_path / "keys.json", issuer)
    authorizer = build_authorizer(
        issuer, clock, env=keys, JWT_KEYS_FILE_FRESH_SECONDS="120", JWKS_MAX_STALE_SECONDS="3600"
    )
    assert authorizer.prefetch() is True and issuer.requests == []  # fresh: nothing to fetch
    assert status(authorizer, request(mint(issuer, clock))) == 200
    clock.advance(121)
    assert status(authorizer, request(mint(issuer, clock))) == 200
    assert issuer.fetches() == 1  # expired: refreshed from the network, once
    issuer.responder = lambda path: _reply(b"{}")  # the issuer breaks
    clock.advance(700)  # past the fetched set's freshness too
    assert status(authorizer, request(mint(issuer, clock))) == 200  # the last good set serves
    clock.advance(3600)
    assert status(authorizer, request(mint(issuer, clock))) == 500  # past the stale limit


def test_a_stale_bundled_set_serves_within_the_stale_limit_when_the_issuer_is_down(
    clock: FakeClock, tmp_path: Path
) -> None:
    with DevIssuer() as issuer:
        keys = write_keys(tmp_path / "keys.json", issuer, age=2 * 3600)
        token = mint(issuer, clock)
    within = build_authorizer(issuer, clock, env=keys, JWKS_MAX_STALE_SECONDS="86400")
    assert status(within, request(token)) == 200
    beyond = build_authorizer(issuer, clock, env=keys, JWKS_MAX_STALE_SECONDS="3600")
    assert status(beyond, request(token)) == 500


def test_a_key_the_issuer_rotated_in_is_fetched_at_once_and_a_withdrawn_one_goes(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    old_kid = next(iter(issuer.keys))
    keys = write_keys(tmp_path / "keys.json", issuer)
    authorizer = build_authorizer(issuer, clock, env=keys, JWT_KEYS_FILE_FRESH_SECONDS="86400")
    old_token = mint(issuer, clock)
    new_kid = issuer.rotate()  # publishes a new key and withdraws the old one
    assert old_kid not in issuer.keys
    new_token = issuer.mint({"aud": AUDIENCE}, kid=new_kid, now=clock.now)
    assert status(authorizer, request(new_token)) == 200  # unknown kid: refreshed at once
    assert issuer.fetches() == 1
    assert status(authorizer, request(old_token)) == 401  # the refreshed set no longer has it


@pytest.mark.parametrize(
    "case",
    [
        ({"issuer": "https://other.example.com"}, 0, {}, "has no key set for issuer"),
        ({}, 3 * 86400, {"JWT_KEYS_FILE_MAX_AGE_SECONDS": "86400"}, "fetched 3.0 days ago"),
        ({}, -3600, {}, "fetched in the future"),
        ({"fetched_at": "yesterday"}, 0, {}, "fetched_at of"),
        ({"jwks_uri": "http://idp.example.com/jwks"}, 0, {}, "is not an https:// URL"),
        ({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k"}]}}, 0, {}, "no usable"),
        ({"jwks": []}, 0, {}, "is not a JSON object"),
    ],
)
def test_an_unusable_key_file_fails_the_cold_start_naming_it(
    issuer: DevIssuer, tmp_path: Path, case: tuple[dict[str, Any], float, dict[str, str], str]
) -> None:
    changes, age, extra, message = case
    keys = write_keys(tmp_path / "keys.json", issuer, age=age, **changes)
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings({**env_for(issuer), **keys, **extra})
    assert str(raised.value).startswith(f"JWT_KEYS_FILE ({tmp_path / 'keys.json'})")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the file"),
        ("not json", "not valid JSON"),
        ('{"format": "something/else", "issuers": []}', "not a key file written by `keys pin`"),
        (json.dumps({"format": FORMAT, "issuers": {}}), "'issuers' must be a list"),
    ],
)
def test_a_file_that_is_not_a_key_file_fails_the_cold_start(
    issuer: DevIssuer, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "keys.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings({**env_for(issuer), "JWT_KEYS_FILE": str(path)})


def test_keys_pinned_from_another_key_set_url_fail_the_cold_start(
    issuer: DevIssuer, tmp_path: Path
) -> None:
    keys = write_keys(tmp_path / "keys.json", issuer)
    with pytest.raises(ConfigError, match="were fetched from .*, not https://idp.example.com/k"):
        load_settings({**env_for(issuer), **keys, "JWT_JWKS_URI": "https://idp.example.com/k"})


def test_the_key_file_timings_need_a_key_file(issuer: DevIssuer) -> None:
    for name in ("JWT_KEYS_FILE_FRESH_SECONDS", "JWT_KEYS_FILE_MAX_AGE_SECONDS"):
        with pytest.raises(ConfigError, match=f"{name} is set, but JWT_KEYS_FILE is not"):
            load_settings({**env_for(issuer), name: "600"})


def test_an_issuer_table_names_its_own_key_file(issuer: DevIssuer, tmp_path: Path) -> None:
    write_keys(tmp_path / "keys.json", issuer)
    rules = tmp_path / "rules.toml"
    rules.write_text(
        f'[[issuer]]\nissuer = "{issuer.issuer}"\naudiences = ["{AUDIENCE}"]\n'
        f'keys_file = "{tmp_path / "keys.json"}"\nkeys_file_max_age_seconds = 3600\n'
    )
    settings = load_settings({"AUTHORIZER_RULES": str(rules)})
    assert settings.issuers[0].bundled_keys is not None
    write_keys(tmp_path / "keys.json", issuer, age=7200)
    with pytest.raises(ConfigError, match=r"issuer 1: keys_file \(.*\): .* 0.1 days ago"):
        load_settings({"AUTHORIZER_RULES": str(rules)})


def test_doctor_reports_the_bundled_sets_age_and_whether_the_issuer_still_has_its_keys(
    issuer: DevIssuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = write_keys(tmp_path / "keys.json", issuer, age=3 * 3600)
    assert run_doctor({**env_for(issuer), **keys}, None)
    out = capsys.readouterr().out
    assert (
        "pinned 3.0 h ago, fresh for 10 min: expired (a cold start fetches the keys again)" in out
    )
    assert "ok    bundled key set: the same keys as the issuer publishes now" in out
    old_kid = next(iter(issuer.keys))
    new_kid = issuer.rotate()
    assert run_doctor({**env_for(issuer), **keys, "JWT_KEYS_FILE_FRESH_SECONDS": "86400"}, None)
    out = capsys.readouterr().out
    assert "fresh for 24.0 h: fresh" in out
    assert f"warn  bundled key set: the issuer no longer publishes {old_kid}" in out
    assert f"the issuer also publishes {new_kid}" in out


def test_make_keys_pins_the_templates_issuer_into_the_key_file(
    issuer: DevIssuer, tmp_path: Path
) -> None:
    out = tmp_path / "keys.json"
    parameters = f"Issuer={issuer.issuer} Audience={AUDIENCE}"
    done = subprocess.run(
        ["make", "--no-print-directory", "keys", f"KEYS_FILE={out}", f"PARAMETERS={parameters}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {out} (1 issuer(s))" in done.stdout
    settings = load_settings({**env_for(issuer), "JWT_KEYS_FILE": str(out)})
    assert settings.issuers[0].bundled_keys is not None
