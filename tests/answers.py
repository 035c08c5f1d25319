"""What the caller of an API gets for an event: the one status helper of the tests.

The status comes from :func:`authorizer_tools.local.gateway.status_of` (IAM's
evaluation rules, written apart from ``authorizer``). Unlike the tools, which
answer 500 for any exception as Lambda would, a test treats an exception
other than the two deliberate ones as a bug and lets it fail the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authorizer.pipeline import Authorizer
from authorizer.respond import AuthorizerUnavailable
from authorizer_tools.local.gateway import request_arn, status_of


@dataclass(frozen=True)
class Answered:
    status: int  # 200, 401, 403 or 500
    response: dict[str, Any] = field(default_factory=dict)  # empty when the handler raised


def answer(authorizer: Authorizer, event: object) -> Answered:
    """Run ``event`` through ``authorizer.handle`` and say what API Gateway would answer."""
    try:
        response = authorizer.handle(event)
    except AuthorizerUnavailable:
        return Answered(500)
    except Exception as exc:
        if type(exc) is Exception and str(exc) == "Unauthorized":
            return Answered(401)
        raise
    return Answered(status_of(response, request_arn(event)), response)


def status(authorizer: Authorizer, event: object) -> int:
    """The status alone: 200, 401, 403 or 500."""
    return answer(authorizer, event).status
