"""Helpers for the attack catalogue: run a hostile request and check the boundary held."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from typing import Any

from authorizer.app import Authorizer
from tests.answers import answer


@dataclass(frozen=True)
class Refusal:
    """How a hostile request ended: never an Allow, by construction of :func:`refuse`."""

    status: int  # 401, 403 or 500, as API Gateway would answer
    reason: str
    seconds: float
    check: str = ""  # which step refused it, where the decision says (DPoP: htu, quota ...)


def refuse(authorizer: Authorizer, log: io.StringIO, event: object) -> Refusal:
    """Run ``event``; fail the test on an Allow or on any exception but the deliberate ones."""
    started = time.perf_counter()
    answered = answer(authorizer, event)
    elapsed = time.perf_counter() - started
    assert answered.status != 200, "a hostile request was let through"
    if answered.response:
        _assert_refusal_holds_nothing(answered.response)
    records = [json.loads(line) for line in log.getvalue().splitlines() if line.strip()]
    decision = [r for r in records if r.get("message") == "authorization decision"][-1]
    return Refusal(answered.status, decision["reason"], elapsed, decision.get("check", ""))


def _assert_refusal_holds_nothing(response: dict[str, Any]) -> None:
    """A refusal allows nothing at all (no other resource either) and carries no claims."""
    if "isAuthorized" in response:
        assert set(response) == {"isAuthorized"}, "a refusal must carry no context"
        return
    statement = response["policyDocument"]["Statement"]
    assert all(s["Effect"] == "Deny" for s in statement), "a refusal allowed something"
    assert "context" not in response
