"""Authorizer responses: IAM policies and HTTP API simple responses.

A policy answers for the whole API stage, never for the one method in the
event: API Gateway caches the answer per token and applies it to every route
the token is then used on, so a policy naming one method would wrongly deny
(or, with a Deny, wrongly allow) the others. Without route rules that is one
statement for ``.../{apiId}/{stage}/*``; with them, an Allow listing every
route the token may call and a Deny listing every route it may not (see
:mod:`authorizer.access`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import MalformedEvent

ContextValue = str | int | float | bool

# arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/{route}, in every
# partition: aws, aws-cn, aws-us-gov, aws-iso(-b/-e/-f) and the European Sovereign
# Cloud's aws-eusc, whose regions start with four letters (eusc-de-east-1). The length
# bounds keep the prefix within routes.MAX_ARN_PREFIX, which policy sizes are checked with.
_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+){0,3}):execute-api:(?P<region>[a-z]{2,4}(?:-[a-z]+)+-\d+):"
    r"(?P<account>\d{12}):(?P<api>[A-Za-z0-9]{1,16})/(?P<stage>[^/*?\s]{1,128})/(?P<route>\S*)"
)
_MAX_ARN_LENGTH = 1600  # API Gateway answers 414 beyond this; anything longer is not from it


@dataclass(frozen=True, slots=True)
class ApiArn:
    """The parts of a method or route ARN that a policy needs."""

    partition: str
    region: str
    account: str
    api_id: str
    stage: str
    route: str = ""  # after the stage: ``GET/orders/1``, or ``$connect``
    #: ``arn:...:{apiId}/{stage}/``: resources are this plus a route pattern.
    prefix: str = ""

    @property
    def stage_wildcard(self) -> str:
        """Every method and route of this API stage."""
        return self.prefix + "*"


@functools.lru_cache(maxsize=256)  # an API has few stages: the same ARNs come back
def parse_arn(arn: str) -> ApiArn:
    """Parse an ``execute-api`` ARN from an event; raise :class:`MalformedEvent` otherwise."""
    match = _ARN.fullmatch(arn) if len(arn) <= _MAX_ARN_LENGTH else None
    if match is None or len(match["partition"]) > 16 or len(match["region"]) > 25:
        raise MalformedEvent("methodArn/routeArn is not an execute-api ARN")
    return ApiArn(
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
        api_id=match["api"],
        stage=match["stage"],
        route=match["route"],
        prefix=arn[: match.start("route")],
    )


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
