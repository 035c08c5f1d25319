"""What API Gateway makes of an authorizer's answer: the HTTP status the caller gets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LABELS = {200: "ALLOW (200)", 401: "UNAUTHORIZED (401)", 403: "FORBIDDEN (403)", 500: "ERROR (500)"}


def request_arn(event: Any) -> str:
    """The method or route ARN of an authorizer event (what a policy is matched against)."""
    if not isinstance(event, dict):
        return ""
    arn = event.get("routeArn") or event.get("methodArn")
    return arn if isinstance(arn, str) else ""


def status_of(response: dict[str, Any], arn: str) -> int:
    """200 when the response lets a request for ``arn`` through, 403 otherwise.

    A simple response says so itself. A policy is applied as IAM does: only
    statements whose action covers ``execute-api:Invoke`` count; an explicit
    Deny that matches wins, then a matching Allow; in a resource ``*`` matches
    any run of characters (``/`` included) and ``?`` any one character.
    """
    if "isAuthorized" in response:
        return 200 if response["isAuthorized"] is True else 403
    allowed = False
    for statement in response["policyDocument"]["Statement"]:
        action = statement["Action"]
        if _INVOKE.isdisjoint([action] if isinstance(action, str) else action):
            continue
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            if _glob(resource).fullmatch(arn):
                if statement["Effect"] == "Deny":
                    return 403
                allowed = allowed or statement["Effect"] == "Allow"
    return 200 if allowed else 403


_INVOKE = frozenset({"execute-api:Invoke", "execute-api:*", "*"})


def _glob(pattern: str) -> re.Pattern[str]:
    wildcards = {"*": ".*", "?": "."}
    return re.compile("".join(wildcards.get(c) or re.escape(c) for c in pattern), re.DOTALL)


def status_of_error(exc: BaseException) -> int:
    """401 for the exact ``Exception("Unauthorized")``, 500 for anything else."""
    return 401 if type(exc) is Exception and str(exc) == "Unauthorized" else 500


@dataclass(frozen=True)
class Answer:
    status: int
    response: dict[str, Any] = field(default_factory=dict)  # empty when the handler raised
    error: Exception | None = None


def answer(call: Callable[[], dict[str, Any]], event: Any) -> Answer:
    """Run the handler call for ``event`` and say what the caller of the API would get."""
    try:
        response = call()
    except Exception as exc:  # noqa: BLE001 - the handler's deliberate 401 and 500 signals
        return Answer(status_of_error(exc), error=exc)
    return Answer(status_of(response, request_arn(event)), response)
