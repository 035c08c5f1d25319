"""Rules read again at an interval: a change applies to the next request, a bad one never does."""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pytest

from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError
from authorizer.pipeline import Authorizer
from authorizer.reload import Reloader
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event
from tests.answers import status
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, mint

READERS = '[[route]]\nmatch = "GET /orders/{id}"\nscopes_any = ["orders:read"]\n'
WRITERS = '[[route]]\nmatch = "GET /orders/{id}"\nscopes_any = ["orders:write"]\n'


def reloading(
    issuer: DevIssuer, clock: FakeClock, rules: str, log: io.StringIO | None = None
) -> Reloader:
    env = {"AUTHORIZER_RULES": rules, "AUTHORIZER_CONFIG_REFRESH_SECONDS": "60"}

    def build() -> Authorizer:
        return build_authorizer(issuer, clock, log=log, env=env)

    return Reloader(build(), build, monotonic=clock)


def reader(reloader: Reloader, issuer: DevIssuer, clock: FakeClock) -> int:
    token = mint(issuer, clock, scope="orders:read")
    event = make_event("rest_request", f"Bearer {token}", method="GET", path="/orders/7")
    return status(reloader.authorizer(), event)


def test_a_changed_rules_file_applies_from_the_first_request_after_the_interval(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(READERS)
    log = io.StringIO()
    reloader = reloading(issuer, clock, str(rules), log)
    first = reloader.current
    assert reader(reloader, issuer, clock) == 200
    rules.write_text(WRITERS)
    clock.advance(59)
    assert reader(reloader, issuer, clock) == 200  # not yet due: the version in use
    clock.advance(1)
    assert reader(reloader, issuer, clock) == 403  # read again, changed: the new rules
    assert reloader.current is not first
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [line["documents"] for line in lines if line["message"] == "configuration reloaded"] == [
        [str(rules)]
    ]


def test_unchanged_documents_keep_the_authorizer_and_its_warm_caches(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(READERS)
    reloader = reloading(issuer, clock, str(rules))
    first = reloader.current
    for _ in range(3):
        clock.advance(61)
        assert reader(reloader, issuer, clock) == 200
    assert reloader.current is first
    assert issuer.fetches() == 1  # one key fetch for all of it


@pytest.mark.parametrize("broken", ["[[route]]\nmatch = 'GET /a'\nscope = ['x']\n", None])
def test_a_version_that_does_not_check_out_or_cannot_be_read_leaves_the_one_in_use(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path, broken: str | None
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(READERS)
    log = io.StringIO()
    reloader = reloading(issuer, clock, str(rules), log)
    first = reloader.current
    if broken is None:
        rules.unlink()
    else:
        rules.write_text(broken)
    clock.advance(60)
    assert reader(reloader, issuer, clock) == 200
    assert reloader.current is first
    failed = [json.loads(line) for line in log.getvalue().splitlines() if "refresh failed" in line]
    assert len(failed) == 1 and str(rules) in failed[0]["detail"]


def test_a_refresh_needs_something_to_read_and_a_sane_interval() -> None:
    base = {"JWT_ISSUER": "https://idp.example", "JWT_AUDIENCE": AUDIENCE}
    with pytest.raises(ConfigError, match="no rules or pinned keys to read again"):
        load_settings({**base, "AUTHORIZER_CONFIG_REFRESH_SECONDS": "300"})
    with pytest.raises(ConfigError, match="0 .never. or from 60 to 86400, got 30"):
        load_settings({**base, "AUTHORIZER_RULES": "rules/example.toml",
                       "AUTHORIZER_ROLES_CLAIMS": "roles",
                       "AUTHORIZER_CONFIG_REFRESH_SECONDS": "30"})  # fmt: skip


def test_without_a_refresh_interval_nothing_is_read_again(
    issuer: DevIssuer, clock: FakeClock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(READERS)
    authorizer = build_authorizer(issuer, clock, env={"AUTHORIZER_RULES": str(rules)})
    reloader = Reloader(authorizer, lambda: pytest.fail("built again"), monotonic=clock)
    rules.unlink()  # a refresh would fail on it
    clock.advance(86400)
    assert reloader.authorizer() is authorizer


def test_rules_in_a_parameter_are_picked_up_after_an_update(
    aws: str, issuer: DevIssuer, clock: FakeClock
) -> None:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/orders-api/live-rules", Value=READERS, Type="String", Overwrite=True)
    reloader = reloading(issuer, clock, "ssm:/orders-api/live-rules")
    assert reader(reloader, issuer, clock) == 200
    ssm.put_parameter(Name="/orders-api/live-rules", Value=WRITERS, Type="String", Overwrite=True)
    clock.advance(60)
    assert reader(reloader, issuer, clock) == 403
