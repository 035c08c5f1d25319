"""How API Gateway applies an authorizer's IAM policy to a request (the part tests need).

Written from the IAM evaluation rules, independently of ``authorizer``: an
explicit Deny that matches wins; otherwise a matching Allow allows; otherwise
the request is denied. In ``execute-api`` resources ``*`` matches any run of
characters (``/`` included) and ``?`` any one character.
"""

from __future__ import annotations

import re
from typing import Any


def _glob(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def _resources(statement: dict[str, Any]) -> list[str]:
    resource = statement["Resource"]
    return [resource] if isinstance(resource, str) else list(resource)


def policy_allows(response: dict[str, Any], method_arn: str) -> bool:
    """Whether API Gateway lets a request for ``method_arn`` through under ``response``."""
    statements = response["policyDocument"]["Statement"]
    allowed = False
    for statement in statements:
        assert statement["Action"] in ("execute-api:Invoke", "execute-api:*", "*")
        if not any(_glob(r).fullmatch(method_arn) for r in _resources(statement)):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = allowed or statement["Effect"] == "Allow"
    return allowed
