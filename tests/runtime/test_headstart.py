"""The head start: the issuer's documents fetched before the cold start's imports, taken once."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from authorizer.errors import FetchError
from authorizer.keys.fetch import HttpFetcher
from authorizer.keys.headstart import FRESH_SECONDS, HeadStart, _timeout, plan
from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from authorizer_tools.devissuer.tls import hash_folder, make_tls
from authorizer_tools.eventgen import make_event
from tests import ROOT
from tests.conftest import AUDIENCE
from tests.processes import results, run_handler

ISSUER = "https://idp.example.com/"
DISCOVERY = "https://idp.example.com/.well-known/openid-configuration"


@pytest.mark.parametrize(
    ("environ", "planned"),
    [
        ({"JWT_ISSUER": ISSUER}, (DISCOVERY, ISSUER)),
        ({"JWT_ISSUER": ISSUER, "JWKS_PREFETCH": "true"}, (DISCOVERY, ISSUER)),
        (
            {"JWT_ISSUER": ISSUER, "JWT_JWKS_URI": "https://idp.example.com/k"},
            ("https://idp.example.com/k", None),
        ),
        (
            {"JWT_ISSUER": " http://127.0.0.1:8080 "},
            ("http://127.0.0.1:8080/.well-known/openid-configuration", "http://127.0.0.1:8080"),
        ),
        ({"JWT_ISSUER": ISSUER, "JWKS_PREFETCH": "False"}, None),
        ({"JWT_ISSUER": ISSUER, "JWT_KEYS_FILE": "keys.json"}, None),
        ({"JWT_ISSUER": f"{ISSUER},https://other.example.com"}, None),
        ({"JWT_ISSUER": "https://login.example.com/{tenant}/v2.0"}, None),
        ({"JWT_ISSUER": ISSUER, "JWT_TENANTS": "a,b"}, None),
        ({"JWT_ISSUER": "http://idp.example.com"}, None),  # the settings refuse it: no request
        ({"JWT_ISSUER": ISSUER, "JWT_JWKS_URI": "http://idp.example.com/k"}, None),
        ({"JWT_ISSUER": ""}, None),
        ({}, None),
    ],
)
def test_a_head_start_is_planned_only_for_one_plain_issuer_with_prefetch(
    environ: dict[str, str], planned: tuple[str, str | None] | None
) -> None:
    assert plan(environ) == planned


def test_the_prefetch_takes_discovery_and_the_key_set_from_the_head_start(
    issuer: DevIssuer,
) -> None:
    head = HeadStart.begin({"JWT_ISSUER": issuer.issuer})
    assert head is not None
    fetcher = head.serving(HttpFetcher(timeout=2))
    discovery = fetcher.get_json(issuer.discovery_uri)
    assert fetcher.get_json(discovery["jwks_uri"])["keys"]
    assert len(issuer.requests) == 2  # each asked for once, by the head start
    fetcher.get_json(issuer.jwks_uri)  # a later refresh: a fetch of its own
    assert len(issuer.requests) == 3


def test_an_issuer_far_away_is_waited_for_once(issuer: DevIssuer) -> None:
    """The answers arrive while the caller does other work; it then waits no round trip."""
    issuer.latency = 0.1
    head = HeadStart.begin({"JWT_ISSUER": issuer.issuer})
    assert head is not None
    time.sleep(0.5)  # the imports: connection, discovery and key set all answered meanwhile
    fetcher = head.serving(HttpFetcher(timeout=2))
    started = time.monotonic()
    fetcher.get_json(fetcher.get_json(issuer.discovery_uri)["jwks_uri"])
    assert time.monotonic() - started < 0.05
    assert issuer.connections == 1


def test_a_failure_the_prefetch_waited_for_is_its_answer(issuer: DevIssuer) -> None:
    issuer.responder = lambda path: Reply(503, b"{}", delay=0.3)
    head = HeadStart.begin({"JWT_ISSUER": issuer.issuer})
    assert head is not None
    with pytest.raises(FetchError, match="HTTP 503"):
        head.serving(HttpFetcher(timeout=2)).get_json(issuer.discovery_uri)
    assert issuer.requests == ["/.well-known/openid-configuration"]  # no key set asked for


def test_a_failure_during_the_imports_leaves_the_prefetch_to_ask_again(issuer: DevIssuer) -> None:
    """The head start fetches while the imports take the CPU: its failure may be theirs."""
    issuer.responder = lambda path: Reply(503, b"{}")
    head = HeadStart.begin({"JWT_ISSUER": issuer.issuer})
    assert head is not None
    time.sleep(0.3)  # the imports: the head start failed meanwhile
    issuer.responder = None
    document = head.serving(HttpFetcher(timeout=2)).get_json(issuer.discovery_uri)
    assert document["issuer"] == issuer.issuer
    assert issuer.requests == ["/.well-known/openid-configuration"] * 2


def test_a_key_set_in_another_scheme_is_left_to_the_prefetch(
    tmp_path: Path, issuer: DevIssuer
) -> None:
    """The key set's URL comes from an unchecked document: followed in discovery's scheme only."""
    context, ca_file = make_tls(tmp_path)
    with DevIssuer(tls=context) as secure:
        document = {"issuer": secure.issuer, "jwks_uri": issuer.jwks_uri}  # http, elsewhere
        secure.responder = lambda path: Reply(200, json.dumps(document).encode())
        head = HeadStart(HttpFetcher(timeout=2, ca_file=str(ca_file)), wait=2)
        head._run(secure.discovery_uri, secure.issuer)
        assert head.take(secure.discovery_uri) == document
    assert issuer.requests == []  # the prefetch judges that URL first, and fetches it if good


def test_an_answer_not_taken_in_time_is_never_served(issuer: DevIssuer) -> None:
    now = [0.0]
    head = HeadStart(HttpFetcher(timeout=2), wait=2, monotonic=lambda: now[0])
    head._run(issuer.discovery_uri, None)
    now[0] = FRESH_SECONDS + 1  # an init long over: the document may have changed since
    assert head.take(issuer.discovery_uri) is None
    assert head.take(issuer.discovery_uri) is None  # nor later


def test_a_url_never_asked_for_is_fetched_by_the_caller(issuer: DevIssuer) -> None:
    head = HeadStart.begin({"JWT_ISSUER": issuer.issuer, "JWT_JWKS_URI": issuer.jwks_uri})
    assert head is not None
    fetcher = head.serving(HttpFetcher(timeout=2))
    assert fetcher.get_json(issuer.discovery_uri)["issuer"] == issuer.issuer
    assert sorted(issuer.requests) == ["/.well-known/openid-configuration", "/jwks"]


def test_a_cold_start_asks_the_issuer_for_each_document_once_and_allows(
    issuer: DevIssuer,
) -> None:
    issuer.latency = 0.05
    token = issuer.mint({"aud": AUDIENCE})
    process = run_handler(
        {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": AUDIENCE},
        [make_event("rest_token", f"Bearer {token}")],
    )
    (outcome,) = results(process)
    assert outcome["response"]["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert issuer.requests == ["/.well-known/openid-configuration", "/jwks"]
    assert issuer.connections == 1


def test_the_head_start_thread_imports_nothing(tmp_path: Path) -> None:
    """A module imported by two threads at once can be seen half made: the thread may not."""
    context, ca_file = make_tls(tmp_path)
    probe = (
        "import sys, threading\n"
        "seen = []\n"
        "def hook(event, args):\n"
        "    if event == 'import' and threading.current_thread().name == 'head-start':\n"
        "        seen.append(args[0])\n"
        "sys.addaudithook(hook)\n"
        "from authorizer import app\n"
        "assert app.AUTHORIZER.issuers[0].keys.loaded, 'no keys'\n"
        "print(json_dumps(seen))\n"
    ).replace("json_dumps", "__import__('json').dumps")
    with DevIssuer(tls=context) as secure:
        secure.latency = 0.05  # the thread still fetching while the main thread imports
        ours = ("JWT_", "JWKS_", "SSL_CERT_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
        env.update(
            JWT_ISSUER=secure.issuer,
            JWT_AUDIENCE=AUDIENCE,
            SSL_CERT_DIR=str(hash_folder(ca_file)),
            PYTHONPATH=str(ROOT),
        )
        done = subprocess.run(
            [sys.executable, "-c", probe],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[-1]) == []
        assert secure.requests == ["/.well-known/openid-configuration", "/jwks"]


def test_a_hung_issuer_is_waited_for_no_longer_than_a_fetch_of_its_own(issuer: DevIssuer) -> None:
    issuer.responder = lambda path: Reply(200, b"{}", delay=3.0)
    head = HeadStart.begin({"JWT_ISSUER": issuer.issuer, "JWKS_FETCH_TIMEOUT_SECONDS": "0.5"})
    assert head is not None
    fetcher = head.serving(HttpFetcher(timeout=0.5))
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"exceeded the 0\.5s deadline"):
        fetcher.get_json(issuer.discovery_uri)
    assert time.monotonic() - started < 1.0


def test_a_head_start_gone_past_its_deadline_answers_at_once(issuer: DevIssuer) -> None:
    ticks = itertools.count()  # a second a look: past the deadline at the second look
    head = HeadStart(HttpFetcher(timeout=0.5), wait=0.5, monotonic=lambda: float(next(ticks)))
    assert isinstance(head.take(issuer.discovery_uri), FetchError)  # never started: as if hung
    assert head.take(issuer.discovery_uri) is None  # given up on: the caller fetches


def test_a_head_start_that_cannot_begin_leaves_the_prefetch_to_itself(
    issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: HttpFetcher, url: str) -> None:
        raise OSError("no trust store")

    monkeypatch.setattr(HttpFetcher, "prepare", refuse)
    assert HeadStart.begin({"JWT_ISSUER": issuer.issuer}) is None
    assert issuer.requests == []


@pytest.mark.parametrize(
    ("value", "seconds"), [("1.5", 1.5), ("", 3.0), ("soon", 3.0), ("20", 3.0), ("0.01", 3.0)]
)
def test_the_head_starts_deadline_is_the_settings_or_their_default(
    value: str, seconds: float
) -> None:
    """A value the settings refuse fails the cold start anyway: the default serves till then."""
    assert _timeout({"JWKS_FETCH_TIMEOUT_SECONDS": value}) == seconds


def test_a_slow_answer_during_the_imports_is_not_held_to_the_fetch_deadline(
    issuer: DevIssuer,
) -> None:
    """Starved of CPU by the imports, a head start may take longer than a fetch may: it may."""
    document = json.dumps({"issuer": issuer.issuer, "jwks_uri": issuer.jwks_uri}).encode()
    issuer.responder = lambda path: Reply(200, document, delay=0.8)
    head = HeadStart.begin({"JWT_ISSUER": issuer.issuer, "JWKS_FETCH_TIMEOUT_SECONDS": "0.5"})
    assert head is not None
    time.sleep(1.0)  # the imports
    fetcher = head.serving(HttpFetcher(timeout=0.5))
    assert fetcher.get_json(issuer.discovery_uri)["issuer"] == issuer.issuer
    assert issuer.requests[0] == "/.well-known/openid-configuration"


def test_a_discovery_document_naming_another_issuer_leads_to_no_key_set(
    issuer: DevIssuer,
) -> None:
    """The key cache refuses such a document: the head start follows nothing it names."""
    document = {"issuer": "https://elsewhere.example.com", "jwks_uri": issuer.jwks_uri}
    issuer.responder = lambda path: Reply(200, json.dumps(document).encode())
    head = HeadStart(HttpFetcher(timeout=2), wait=2)
    head._run(issuer.discovery_uri, issuer.issuer)
    assert issuer.requests == ["/.well-known/openid-configuration"]
