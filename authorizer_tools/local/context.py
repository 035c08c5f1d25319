"""A stand-in for the context object Lambda passes to a handler, for local runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast


@dataclass(frozen=True)
class LocalContext:
    """Just the attributes Powertools' logger reads from Lambda's context."""

    aws_request_id: str = "local-request"
    function_name: str = "AuthorizerFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:authorizer"


def local_context(request_id: str) -> Any:
    """A context typed as Lambda's own, for passing to ``lambda_handler``."""
    return cast(Any, LocalContext(aws_request_id=request_id))
