"""The ``execute-api`` ARN of the requested method or route: the one place it is parsed.

A policy's resources are the ARN's prefix (up to the stage) plus a route
pattern; the route after the stage is what route rules match.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..errors import MalformedEvent

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
