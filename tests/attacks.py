"""Helpers for the attack catalogue: run a hostile request and check the boundary held."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from typing import Any

from authorizer.app import Authorizer


@dataclass(frozen=True)
class Refusal:
    """How a hostile request ended: never an Allow, by construction of :func:`refuse`."""

    status: int  # 401, 403 or 500, as API Gateway would answer
    reason: str
    seconds: float


def refuse(authorizer: Authorizer, log: io.StringIO, event: object) -> Refusal:
    """Run ``event``; fail the test on an Allow or on any exception but the deliberate ones."""
    started = time.perf_counter()
    try:
        response = authorizer.handle(event)
    except Exception as exc:
        status = 401 if type(exc) is Exception and str(exc) == "Unauthorized" else 0
        if type(exc).__name__ == "AuthorizerUnavailable":
            status = 500
        assert status, f"unexpected exception {type(exc).__name__}: {exc}"
    else:
        status = _status_of(response)
    elapsed = time.perf_counter() - started
    records = [json.loads(line) for line in log.getvalue().splitlines() if line.strip()]
    decision = [r for r in records if r.get("message") == "authorization decision"][-1]
    return Refusal(status, decision["reason"], elapsed)


def _status_of(response: dict[str, Any]) -> int:
    if "isAuthorized" in response:
        assert response["isAuthorized"] is False, "a hostile request was authorized"
        assert set(response) == {"isAuthorized"}, "a refusal must carry no context"
        return 403
    statement = response["policyDocument"]["Statement"]
    assert all(s["Effect"] == "Deny" for s in statement), "a hostile request was allowed"
    assert "context" not in response
    return 403
