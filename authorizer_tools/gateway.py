"""What API Gateway makes of an authorizer's answer: the HTTP status the caller gets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LABELS = {200: "ALLOW (200)", 401: "UNAUTHORIZED (401)", 403: "FORBIDDEN (403)", 500: "ERROR (500)"}


def status_of(response: dict[str, Any]) -> int:
    """200 for an Allow (policy or simple response), 403 otherwise."""
    if "isAuthorized" in response:
        return 200 if response["isAuthorized"] else 403
    effects = {statement["Effect"] for statement in response["policyDocument"]["Statement"]}
    return 200 if effects == {"Allow"} else 403


def status_of_error(exc: BaseException) -> int:
    """401 for the exact ``Exception("Unauthorized")``, 500 for anything else."""
    return 401 if type(exc) is Exception and str(exc) == "Unauthorized" else 500


@dataclass(frozen=True)
class Answer:
    status: int
    response: dict[str, Any] = field(default_factory=dict)  # empty when the handler raised
    error: Exception | None = None


def answer(call: Callable[[], dict[str, Any]]) -> Answer:
    """Run the handler call and say what the caller of the API would get."""
    try:
        response = call()
    except Exception as exc:  # noqa: BLE001 - the handler's deliberate 401 and 500 signals
        return Answer(status_of_error(exc), error=exc)
    return Answer(status_of(response), response)
