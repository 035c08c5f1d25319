"""Decision logs and metrics, through Powertools (structured JSON logs, CloudWatch EMF).

One log line per decision, with a fixed reason code, that also carries the
decision's metric (CloudWatch Embedded Metric Format: the ``_aws`` block makes
CloudWatch count ``Decisions`` by ``Outcome`` and ``Reason``, and by ``Outcome``
alone, from the log line itself), so a decision costs one serialisation, not
two. When INFO logging is off the same block goes out alone. Key-set fetches are
logged and counted on their own lines. Never the token: callers pass only
reason codes, claims they verified, and bounded header facts.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from .decision import Decision
from .keys.cache import RefreshOutcome

_INIT_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"  # "provisioned-concurrency": no invocation is cold
_MAX_FIELD = 128  # header facts such as kid are attacker-chosen: keep them short


def loggable(value: object, limit: int = _MAX_FIELD) -> str:
    """``value`` as text that any log sink can write: at most ``limit`` characters, valid UTF-8.

    Values from a token can hold anything JSON can: a lone surrogate such as
    ``"\\ud800"`` cannot be encoded as UTF-8, and writing it would make the log
    handler drop the whole line (and the metric it carries). Such characters are
    written as their escapes instead.
    """
    text = str(value)[:limit]
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Telemetry:
    """Where the authorizer reports what it did."""

    def __init__(self, logger: Logger, metrics: Metrics) -> None:
        self.logger = logger
        # Checked before building a decision's fields: with INFO off, an allowed
        # request costs no dictionary and no call into the logging machinery.
        self._std_logger = logging.getLogger(logger.name)
        self._metrics = metrics
        self._namespace = metrics.namespace
        self._service = metrics.service
        # Powertools keeps accumulating (and never clears) metrics while they
        # are disabled, so a disabled sink is skipped here, once.
        self._metrics_on = not is_metrics_disabled()
        self._cold = True  # until the first invocation of this execution environment
        # Held around every write: the key-set fetches of several issuers log and count from
        # their own threads at cold start. Powertools' metric flush is a print (the text,
        # then the newline: two writes another thread's line can fall between) over a
        # Metrics object that is not thread-safe (one thread could flush another's counts).
        self._writing = threading.Lock()

    def invocation(self, context: Any) -> None:
        """Put this invocation's Lambda context into every log line until the next one.

        The same keys, values and order as Powertools' ``inject_lambda_context``
        (``cold_start`` and four fields of the context), without rebuilding the
        logger's state on every call: this authorizer adds no other keys, so there
        is nothing to clear between invocations.
        """
        cold_start = self._cold and os.environ.get(_INIT_TYPE) != "provisioned-concurrency"
        warm_again = not self._cold
        self._cold = False
        self.logger.append_keys(
            cold_start=cold_start,
            function_name=context.function_name,
            function_memory_size=context.memory_limit_in_mb,
            function_arn=context.invoked_function_arn,
            function_request_id=context.aws_request_id,
        )
        if self.logger.sampling_rate and warm_again:
            self.logger.refresh_sample_rate_calculation()  # as Powertools does per invocation

    def decision(
        self, decision: Decision, *, with_route: bool, request_id: str | None = None
    ) -> None:
        """One decision's log line, carrying its metric; its metric alone below INFO.

        Nothing is prepared when neither would be written. ``with_route`` adds the
        requested route (where route rules decided it); ``request_id`` is API Gateway's
        id of the request (``api_request_id``), the integration's join key.
        """
        outcome, reason = decision.outcome, decision.reason
        level = logging.ERROR if outcome == "error" else logging.INFO
        if not self._std_logger.isEnabledFor(level):
            if self._metrics_on:
                # The same EMF block a decision line carries, alone on its line, as
                # Powertools' flush writes it (both dimension sets: the alarms need them).
                line = json.dumps(self._emf(outcome, reason), separators=(",", ":"))
                with self._writing:
                    print(line, flush=True)
            return
        fields: dict[str, Any] = {
            "decision": outcome,
            "reason": reason,
            "event_kind": decision.kind.value if decision.kind else None,
            "issuer": decision.issuer,
        }
        if decision.tenant is not None:  # a tenant of an issuer template: 64 safe characters
            fields["tenant"] = decision.tenant
        if request_id is not None:
            fields["api_request_id"] = loggable(request_id)
        fields.update({key: loggable(value) for key, value in decision.details.items()})
        token = decision.token
        if token is not None:
            fields["kid"], fields["alg"] = loggable(token.kid), loggable(token.alg)
        if with_route and decision.arn is not None:
            fields["route"] = loggable(decision.arn.route)
        if token is not None:
            sub = token.claims.get("sub")
            fields["sub"] = loggable(sub) if sub is not None else None
        if decision.message:
            fields["detail"] = loggable(decision.message, 512)
        if self._metrics_on:
            fields.update(self._emf(outcome, reason))
        log = self.logger.error if outcome == "error" else self.logger.info
        with self._writing:
            log("authorization decision", extra=fields)

    def _emf(self, outcome: str, reason: str) -> dict[str, Any]:
        """The Embedded Metric Format members that make a log line count one decision."""
        # Two dimension sets: by reason, and by outcome alone (what the alarms watch: every
        # error, whatever its reason). One line, one serialisation, both metrics.
        service = ["service"] if self._service else []
        dimensions = [["Outcome", "Reason", *service], ["Outcome", *service]]
        members: dict[str, Any] = {"Outcome": outcome, "Reason": reason, "Decisions": 1}
        if self._service:
            members["service"] = self._service
        members["_aws"] = {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": self._namespace,
                    "Dimensions": dimensions,
                    "Metrics": [{"Name": "Decisions", "Unit": "Count"}],
                }
            ],
        }
        return members

    def refresh(self, issuer: str, outcome: RefreshOutcome) -> None:
        fields = {
            "trigger": outcome.trigger,
            "keys": outcome.key_count,
            "seconds": round(outcome.seconds, 4),
            "detail": loggable(outcome.detail, 4096),
            "issuer": issuer,
        }
        if outcome.added:
            fields["added"] = outcome.added
        with self._writing:  # one fetch: its line and its counts, whole, and flushed alone
            if outcome.ok:
                self.logger.info("issuer keys fetched", extra=fields)
            else:
                self.logger.warning("issuer keys fetch failed", extra=fields)
            if self._metrics_on:
                self._metrics.add_metric(name="JwksFetches", unit=MetricUnit.Count, value=1)
                if not outcome.ok:
                    self._metrics.add_metric(
                        name="JwksFetchFailures", unit=MetricUnit.Count, value=1
                    )
                if outcome.added:  # a rotation; after a pinned set, keys the pin lacks
                    self._metrics.add_metric(
                        name="JwksKeysAdded", unit=MetricUnit.Count, value=outcome.added
                    )
                # Flushed at once so these counts never carry a decision's dimensions.
                self._metrics.flush_metrics()

    def pinned_keys(self, issuer: str, *, age: float, fresh_seconds: float) -> None:
        """At cold start: a pinned key set past its freshness is refetched at once; say so."""
        if age <= fresh_seconds:
            return
        with self._writing:
            self.logger.warning(
                "pinned key set is past its freshness: pin it again (keys pin)",
                extra={"issuer": issuer, "age_seconds": round(age), "fresh_seconds": fresh_seconds},
            )
            if self._metrics_on:
                self._metrics.add_metric(name="PinnedKeysStale", unit=MetricUnit.Count, value=1)
                self._metrics.flush_metrics()

    def config_reloaded(self, documents: tuple[str, ...]) -> None:
        """The configuration's documents changed: a new authorizer serves from now on."""
        with self._writing:
            self.logger.info("configuration reloaded", extra={"documents": list(documents)})

    def config_refresh_failed(self, detail: str) -> None:
        """A refresh could not read or accept the documents: the version in use stays."""
        with self._writing:
            self.logger.warning(
                "configuration refresh failed: the version in use stays",
                extra={"detail": loggable(detail, 1024)},
            )
            if self._metrics_on:
                self._metrics.add_metric(
                    name="ConfigRefreshFailures", unit=MetricUnit.Count, value=1
                )
                self._metrics.flush_metrics()

    def warning(self, message: str, **fields: Any) -> None:
        """A warning line (a configuration that works, but not as its author may think)."""
        with self._writing:
            self.logger.warning(message, extra=fields)

    def unexpected(self) -> None:
        """Log the exception being handled (a bug), with its traceback."""
        with self._writing:
            self.logger.exception("authorizer failed unexpectedly")
