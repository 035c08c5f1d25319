"""The answers API Gateway takes from an authorizer: IAM policies and HTTP API simple responses.

A policy answers for the whole API stage, never for the one method in the
event: API Gateway caches the answer per token and applies it to every route
the token is then used on, so a policy naming one method would wrongly deny
(or, with a Deny, wrongly allow) the others. Without route rules that is one
statement for ``.../{apiId}/{stage}/*``; with them, an Allow listing every
route the token may call and a Deny listing every route it may not (see
:mod:`authorizer.access.rules`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .arn import ApiArn

ContextValue = str | int | float | bool


def iam_response(
    principal_id: str,
    arn: ApiArn,
    *,
    allow: Sequence[str] = (),
    deny: Sequence[str] = (),
    context: Mapping[str, ContextValue] | None = None,
    usage_identifier_key: str | None = None,
) -> dict[str, Any]:
    """An IAM policy response: ``allow`` and ``deny`` are route patterns (``*``: the stage).

    With neither, the policy denies the whole stage. ``usage_identifier_key`` is
    the API key of a usage plan (REST APIs whose ``apiKeySource`` is ``AUTHORIZER``).

    Each call builds a new response; ``context`` is included as given (the
    caller passes one made for this response).
    """
    document = _document(arn, allow, deny)
    response: dict[str, Any] = {"principalId": principal_id, "policyDocument": document}
    if context:
        response["context"] = context
    if usage_identifier_key is not None:
        response["usageIdentifierKey"] = usage_identifier_key
    return response


def _document(arn: ApiArn, allow: Sequence[str], deny: Sequence[str]) -> dict[str, Any]:
    prefix = arn.prefix
    statements: list[dict[str, Any]] = []
    for effect, suffixes in (("Allow", allow), ("Deny", deny)):
        if suffixes:
            resources = [prefix + suffix for suffix in suffixes]
            statements.append(
                {
                    "Action": "execute-api:Invoke",
                    "Effect": effect,
                    "Resource": resources[0] if len(resources) == 1 else resources,
                }
            )
    if not statements:
        statements.append(
            {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": arn.stage_wildcard}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def simple_response(
    authorized: bool, context: Mapping[str, ContextValue] | None = None
) -> dict[str, Any]:
    """An HTTP API payload 2.0 simple response (``enableSimpleResponses: true``).

    ``context`` is included as given: the response is serialized, never changed.
    """
    response: dict[str, Any] = {"isAuthorized": authorized}
    if context:
        response["context"] = context
    return response
