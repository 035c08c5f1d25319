"""The lean formatter writes exactly what Powertools' formatter writes, for any record."""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from hypothesis import given
from hypothesis import strategies as st

from authorizer.logformat import LeanFormatter
from authorizer_tools.local.context import local_context

CONTEXT = {
    "cold_start": False,
    "function_name": "authorizer",
    "function_memory_size": 256,
    "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:authorizer",
    "function_request_id": "req-1",
}
DECISION = {
    "decision": "deny",
    "reason": "bad_signature",
    "event_kind": "rest_token",
    "issuer": "https://idp.example.com/",
    "kid": "k1",
    "alg": "RS256",
    "sub": None,
    "detail": "signature does not verify: \u00e9\u4e2d",
    "Outcome": "deny",
    "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Metrics": []}]},
}


def twins() -> tuple[Logger, Logger]:
    """Loggers with our formatter and with Powertools' own, holding the same keys.

    Powertools keeps one logger per service name, so each is made under a
    name of its own and then given the same ``service`` key.
    """
    ours = Logger(service=_unique(), logger_formatter=LeanFormatter(), logger_handler=_sink())
    theirs = Logger(service=_unique(), logger_handler=_sink())
    for logger in (ours, theirs):
        logger.append_keys(service="authorizer", **CONTEXT)
    return ours, theirs


@pytest.fixture
def pair() -> tuple[Logger, Logger]:
    return twins()


def _unique() -> str:
    return f"twin-{uuid.uuid4().hex}"


def _sink() -> logging.Handler:
    return logging.StreamHandler(io.StringIO())


def record(
    message: object, extra: dict[str, Any] | None = None, **options: Any
) -> logging.LogRecord:
    return logging.getLogger("twin").makeRecord(
        "twin", options.pop("level", logging.INFO), __file__, 42, message,
        options.pop("args", ()), options.pop("exc_info", None), func="decide", extra=extra,
        **options,
    )  # fmt: skip


def same(pair: tuple[Logger, Logger], item: logging.LogRecord) -> str:
    ours, theirs = (logger.registered_formatter.format(item) for logger in pair)
    assert ours == theirs
    return ours


def _exc_info() -> Any:
    try:
        int("boom")
    except ValueError:
        return sys.exc_info()


@pytest.mark.parametrize(
    "item",
    [
        record("authorization decision", DECISION),
        record("issuer keys fetched", {"trigger": "prefetch", "keys": 2, "seconds": 0.01}),
        record("issuer keys fetch failed", {"detail": "timed out"}, level=logging.WARNING),
        record("no extras at all"),
        record(
            "extras that Powertools fills in",
            {"exception": "mine", "stack_trace": "x", "xray_trace_id": "y", "exception_notes": 1},
        ),
        record("authorizer failed unexpectedly", exc_info=_exc_info(), level=logging.ERROR),
        record("with %s arguments", args=("two",)),
        record('{"a": 1}'),
        record("123"),
        record(" [1]"),
        record(""),
        record({"a": "dict message"}),
        record("a line with \ud800 in it", {"kid": "\udfff"}),
    ],
    ids=lambda item: str(item.msg)[:20],
)
def test_every_kind_of_line_is_written_as_powertools_writes_it(
    pair: tuple[Logger, Logger], item: logging.LogRecord
) -> None:
    same(pair, item)


def test_the_trace_id_and_thread_keys_and_dev_indent_are_the_same(
    pair: tuple[Logger, Logger], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    for logger in pair:
        logger.thread_safe_append_keys(tenant="t1")
    try:
        line = same(pair, record("authorization decision", DECISION))
        assert '"xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793"' in line
        assert '"tenant":"t1"' in line
    finally:
        for logger in pair:
            logger.thread_safe_clear_keys()
    monkeypatch.setenv("POWERTOOLS_DEV", "true")
    with pytest.warns(UserWarning, match="POWERTOOLS_DEV"):
        indented = twins()
    assert "\n    " in same(indented, record("authorization decision", DECISION))


def test_a_decision_line_takes_the_lean_path(
    pair: tuple[Logger, Logger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It must not fall back: the whole point is the shorter path for these lines."""
    fallbacks: list[logging.LogRecord] = []
    monkeypatch.setattr(LambdaPowertoolsFormatter, "format", lambda _, item: fallbacks.append(item))
    for item in (record("authorization decision", DECISION), record("issuer keys fetched")):
        assert pair[0].registered_formatter.format(item).startswith('{"level":"INFO"')
    assert fallbacks == []


names = st.text(min_size=1, max_size=12).filter(lambda name: name not in ("message", "asctime"))
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@given(message=st.text(max_size=30), extra=st.dictionaries(names, values, max_size=6))
def test_any_message_and_extra_fields_are_written_as_powertools_writes_them(
    message: str, extra: dict[str, Any]
) -> None:
    try:
        item = record(message, extra)
    except KeyError:  # logging refuses extras named like a record attribute
        return
    same(twins(), item)


@pytest.mark.parametrize("initialization", ["on-demand", "provisioned-concurrency", "snap-start"])
def test_each_invocation_carries_the_lambda_context_as_inject_lambda_context_puts_it(
    initialization: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same keys, values and order in every line, cold start included (the time aside)."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.logging import logger as powertools_logger

    from authorizer.observe import Telemetry

    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", initialization)
    monkeypatch.setattr(powertools_logger, "is_cold_start", True)  # a fresh environment
    ours, theirs = (io.StringIO(), io.StringIO())
    lean = Logger(service=_unique(), logger_formatter=LeanFormatter(), logger_handler=_to(ours))
    plain = Logger(service=_unique(), logger_handler=_to(theirs))
    for logger in (lean, plain):
        logger.append_keys(service="authorizer")
    telemetry = Telemetry(lean, Metrics(namespace="Twins"))

    @plain.inject_lambda_context(clear_state=True, log_event=False)
    def handler(event: dict[str, str], context: Any) -> None:
        plain.info("authorization decision", extra=event)

    for number in range(3):
        context = local_context(f"request-{number}")
        telemetry.invocation(context)
        lean.info("authorization decision", extra={"decision": "allow"})
        handler({"decision": "allow"}, context)
    ours_lines, theirs_lines = (
        [_without_time(line) for line in stream.getvalue().splitlines()]
        for stream in (ours, theirs)
    )
    assert ours_lines == theirs_lines
    cold = [dict(line)["cold_start"] for line in ours_lines]
    assert cold == [initialization != "provisioned-concurrency", False, False]


def _to(stream: io.StringIO) -> logging.Handler:
    return logging.StreamHandler(stream)


def _without_time(line: str) -> list[tuple[str, Any]]:
    """The line's members in order, but when and where it was logged, and the logger's own name.

    (Powertools keeps one logger per service name, so the twins' names differ.)
    """
    members = json.loads(line).items()
    return [
        (k, "*" if k == "service" else v) for k, v in members if k not in ("timestamp", "location")
    ]
