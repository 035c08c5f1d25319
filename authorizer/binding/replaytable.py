"""Seen DPoP proofs in a DynamoDB table: one replay store for every execution environment.

Lambda runs many environments of the authorizer at once; a proof replayed to
another one is refused only if they share what they have seen. A conditional
``PutItem`` is DynamoDB's atomic "first use": of concurrent writes of one key,
one succeeds and the others fail their condition. The item is the key (a digest
of the client key's thumbprint and the proof's ``jti``, never the proof) and
its expiry (epoch seconds, the table's TTL attribute). DynamoDB deletes expired
items late (within days), so the condition admits an item whose expiry has
passed: an expired proof's key may be used again, as in memory.

boto3 comes from the Lambda runtime and is imported only when a table is
configured (the client is made at cold start). Each write has short timeouts
and at most one retry; a write that gets no answer in time, or any error but
the condition's, raises :class:`ReplayStoreUnavailable`: the request fails with
a 500, never an Allow.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ReplayStoreUnavailable

if TYPE_CHECKING:
    from botocore.config import Config

#: The table's partition key (binary) and TTL attribute (number): template.yaml's too.
KEY = "proof"
EXPIRES = "expiresAt"
CONNECT_SECONDS = 0.5
READ_SECONDS = 0.5
_CONDITION = f"attribute_not_exists({KEY}) OR {EXPIRES} <= :now"
#: A table name, or a table's ARN (another account's or region's table).
_TABLE = re.compile(
    r"[A-Za-z0-9_.-]{3,255}"
    r"|arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]{3,255}"
)


class DynamoDbReplayStore:
    """:class:`~authorizer.binding.replay.ReplayStore` on one DynamoDB table."""

    def __init__(self, table: str, client: Any) -> None:
        self._table = table
        self._client = client
        # Imported with boto3 (see the module docstring); kept to tell the condition apart.
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        self._errors = (BotoCoreError, ClientError)

    def first_use(self, key: bytes, expires_at: float, now: float) -> bool:
        """Write ``key`` unless an unexpired item holds it; True if this write made it."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={KEY: {"B": key}, EXPIRES: {"N": str(int(expires_at) + 1)}},
                ConditionExpression=_CONDITION,
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except self._errors as exc:
            code = _code(exc)
            if code == "ConditionalCheckFailedException":
                return False
            raise ReplayStoreUnavailable(
                f"the DPoP replay table did not answer: {code or type(exc).__name__}"
            ) from None
        return True


def dynamodb_replay_store(table: str, variable: str) -> DynamoDbReplayStore:
    """The store on ``table``, its client made now (at cold start); ``variable`` names it."""
    if _TABLE.fullmatch(table) is None:
        raise ConfigError(
            f"{variable} must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -) or a"
            f" table ARN, got {table!r}"
        )
    import boto3  # noqa: PLC0415 - see the module docstring

    # A table ARN may be in another region: DynamoDB answers for a table in its own region only.
    region = table.split(":")[3] if table.startswith("arn:") else None
    client = boto3.client("dynamodb", config=_config(), region_name=region)
    return DynamoDbReplayStore(table, client)


def _config() -> Config:
    from botocore.config import Config  # noqa: PLC0415 - see the module docstring

    # One retry at most: every DPoP request waits on this write.
    return Config(
        connect_timeout=CONNECT_SECONDS,
        read_timeout=READ_SECONDS,
        retries={"total_max_attempts": 2, "mode": "standard"},
    )


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    return str(error.get("Code", "")) if isinstance(error, dict) else ""
