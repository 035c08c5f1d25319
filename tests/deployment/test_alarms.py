"""The template's alarms watch metrics the authorizer really emits, under the names it emits them.

An alarm on a metric nobody writes never fires: a sequence of real decisions and
key fetches (an outage, forged and unknown-key tokens, a rotation, a stale pinned
set) is run through an authorizer configured as the template configures it, its
EMF lines are read back, and each alarm's namespace, metric and dimensions must
be among them exactly.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from authorizer.config.bundledkeys import bundled_document
from authorizer.config.settings import load_settings
from authorizer.pipeline import Authorizer
from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from authorizer_tools.eventgen import make_event
from authorizer_tools.local.template import environment, evaluate, parameters, read
from tests import ROOT
from tests.conftest import AUDIENCE, FakeClock
from tests.tokens import b64

TEMPLATE = read(ROOT / "template.yaml")
ON = {"Issuer": "https://idp.example.com", "Audience": AUDIENCE, "CreateAlarms": "true",
      "KeysFile": "rules/keys.json"}  # fmt: skip
Metric = tuple[str, str, frozenset[tuple[str, str]]]


def alarms() -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def watched(name: str, properties: dict[str, Any]) -> list[Metric]:
    """The (namespace, metric, dimensions) an alarm reads, parameters resolved."""
    values = parameters(TEMPLATE, ON)
    stats = [properties] if "MetricName" in properties else [
        item["MetricStat"]["Metric"] for item in properties["Metrics"] if "MetricStat" in item
    ]  # fmt: skip
    found: list[Metric] = []
    for stat in stats:
        if stat["Namespace"] == "AWS/Lambda":  # Lambda's own metrics, by the function's name
            found.append((stat["Namespace"], stat["MetricName"], frozenset()))
            continue
        dimensions = evaluate(TEMPLATE, values, stat.get("Dimensions", []), name)
        found.append((stat["Namespace"], stat["MetricName"],
                      frozenset((d["Name"], d["Value"]) for d in dimensions)))  # fmt: skip
    return found


def emitted(lines: list[dict[str, Any]]) -> set[Metric]:
    """Every (namespace, metric, dimensions) the EMF lines define, with their values."""
    metrics = set()
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((key, str(line[key])) for key in dimension_set)
                for metric in directive["Metrics"]:
                    metrics.add((directive["Namespace"], metric["Name"], dimensions))
    return metrics


def test_every_alarm_watches_a_metric_a_real_decision_or_fetch_writes(tmp_path: Path) -> None:
    env = environment(TEMPLATE, ON)
    namespace, service = env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"]
    # A service name of its own: Powertools reuses the logger of a name already in use (the
    # conftest imports authorizer.app), and would write these lines elsewhere.
    ours = f"alarms-{uuid.uuid4().hex[:8]}"
    lines = _a_bad_day(tmp_path, namespace, ours)
    written = {
        (
            space,
            metric,
            frozenset((key, service if value == ours else value) for key, value in dims),
        )
        for space, metric, dims in emitted(lines)
    }
    watching = {name: watched(name, resource["Properties"]) for name, resource in alarms().items()}
    assert len(watching) == 8
    for name, metrics in watching.items():
        for metric in metrics:
            if metric[0] == "AWS/Lambda":
                continue  # Lambda's own metrics, by FunctionName
            assert metric in written, (name, metric, sorted(written))


def test_alarms_and_their_topic_exist_only_when_asked_for() -> None:
    from authorizer_tools.local.template import deployed

    names = [*alarms(), "AlarmTopic", "Dashboard"]
    off = parameters(TEMPLATE, {"Issuer": "https://idp.example.com"})
    assert [name for name in names if deployed(TEMPLATE, off, name)] == []
    mine = parameters(TEMPLATE, {**ON, "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:ops"})
    assert "AlarmTopic" not in [name for name in names if deployed(TEMPLATE, mine, name)]
    unpinned = parameters(TEMPLATE, {**ON, "KeysFile": ""})
    assert not deployed(TEMPLATE, unpinned, "PinnedKeysBehindAlarm")
    assert deployed(TEMPLATE, unpinned, "AuthorizerErrorsAlarm")


def _a_bad_day(tmp_path: Path, namespace: str, service: str) -> list[dict[str, Any]]:
    """An issuer outage, forged and unknown keys, a rotation, a stale pinned set: the lines."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), DevIssuer() as issuer:
        keys = tmp_path / "keys.json"
        entry = {"issuer": issuer.issuer, "jwks_uri": issuer.jwks_uri,
                 "fetched_at": int(time.time()) - 7200, "jwks": issuer.jwks()}  # fmt: skip
        keys.write_text(json.dumps(bundled_document([entry])))
        clock = FakeClock(time.time())
        settings = load_settings({"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": AUDIENCE,
                                  "JWT_KEYS_FILE": str(keys), "JWKS_MAX_STALE_SECONDS": "0",
                                  "JWT_KEYS_FILE_FRESH_SECONDS": "3600"})  # fmt: skip
        handler = logging.StreamHandler(out)
        authorizer = Authorizer(
            settings,
            logger=Logger(service=service, logger_handler=handler),
            metrics=Metrics(namespace=namespace, service=service),
            clock=clock,
            monotonic=clock,
        )  # the pinned set is two hours old: stale at this cold start (PinnedKeysStale)
        issuer.rotate()  # a key the pin lacks: the next fetch adds it (JwksKeysAdded)
        token = issuer.mint({"aud": AUDIENCE}, now=clock.now)
        _answer(authorizer, token)
        forged = token.rsplit(".", 1)[0] + "." + b64(b"\x01" * 256)
        _answer(authorizer, forged)  # bad_signature
        unknown = issuer.mint({"aud": AUDIENCE}, headers={"kid": "never-published"}, now=clock.now)
        _answer(authorizer, unknown)  # unknown_kid
        issuer.responder = lambda path: Reply(status=503)
        clock.advance(3600)  # the fetched set expires; the issuer is down (fetch failures)
        _answer(authorizer, issuer.mint({"aud": AUDIENCE}, now=clock.now))  # jwks_unavailable
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def _answer(authorizer: Authorizer, token: str) -> None:
    with contextlib.suppress(Exception):  # 401s and 500s are raised, as Lambda needs them
        authorizer.handle(make_event("rest_token", f"Bearer {token}"))
