"""Where a configuration document comes from: the artifact, a layer, SSM Parameter Store or S3.

``AUTHORIZER_RULES``, ``JWT_KEYS_FILE`` and an issuer table's ``keys_file`` name a
document one of four ways:

- ``rules/api.toml``: a path relative to the function root (in the artifact);
- ``/opt/rules/api.toml``: an absolute path (a Lambda layer is mounted under ``/opt``);
- ``ssm:/name``: an SSM Parameter Store parameter (a ``SecureString`` is decrypted),
  read with Powertools' Parameters utility;
- ``s3://bucket/key``: an S3 object.

Each is read once, at cold start, with the same size cap and the same errors
naming the setting and the source. boto3 (which the Lambda runtime provides)
and Powertools' Parameters are imported only when a parameter or an object is
configured: a cold start that reads files loads neither.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ConfigError
from .values import function_root, read_capped

if TYPE_CHECKING:  # boto3 is imported only where a parameter or an object is configured
    from botocore.config import Config

SSM = "ssm:"
S3 = "s3://"
#: The longest an SSM or S3 read may take, connection and answer (the init has 10 s).
CONNECT_SECONDS = 2.0
READ_SECONDS = 3.0


class Document(NamedTuple):
    """A document as it was read: its source as named, and the SHA-256 of its bytes."""

    source: str
    sha256: str

    @classmethod
    def of(cls, source: str, raw: bytes) -> Document:
        return cls(source, hashlib.sha256(raw).hexdigest())


def is_remote(spec: str) -> bool:
    """Whether ``spec`` names a parameter or an object rather than a file."""
    return spec.startswith((SSM, S3))


def check_spec(spec: str, where: str) -> None:
    """Refuse a malformed source name before anything is read (the template checks the same)."""
    if spec.startswith(SSM):
        name = spec[len(SSM) :]
        if not name.startswith("/") or len(name) < 2 or name.endswith("/"):
            raise ConfigError(f"{where}: an SSM parameter is named ssm:/path/to/name")
    elif spec.startswith(S3):
        bucket, _, key = spec[len(S3) :].partition("/")
        if not bucket or not key:
            raise ConfigError(f"{where}: an S3 object is named s3://bucket/key")
    elif spec.startswith(("s3:", "arn:", "https:", "http:")):  # a near miss, not a file
        raise ConfigError(f"{where}: not a path, ssm:/name or s3://bucket/key")


def read_source(spec: str, limit: int, where: str) -> bytes:
    """The document's bytes, at most ``limit``; a ConfigError naming ``where`` otherwise."""
    check_spec(spec, where)
    if spec.startswith(SSM):
        return _parameter(spec[len(SSM) :], limit, where)
    if spec.startswith(S3):
        bucket, _, key = spec[len(S3) :].partition("/")
        return _object(bucket, key, limit, where)
    return read_capped(os.path.join(function_root(), spec), limit, where)  # absolute wins


#: Where a secret may come from: never the environment itself (a template's plain value).
SECRETS_MANAGER = "secretsmanager:"
_MAX_SECRET = 4096


def read_secret(spec: str, where: str) -> str:
    """A secret from SSM Parameter Store (``ssm:/name``, decrypted) or Secrets Manager.

    ``secretsmanager:name`` (or its ARN after the prefix). Read once at cold start
    through Powertools' Parameters; a secret given as a plain value is refused.
    """
    if spec.startswith(SSM):
        check_spec(spec, where)
        return _parameter(spec[len(SSM) :], _MAX_SECRET, where).decode("utf-8")
    if spec.startswith(SECRETS_MANAGER) and len(spec) > len(SECRETS_MANAGER):
        return _secret(spec[len(SECRETS_MANAGER) :], where)
    raise ConfigError(
        f"{where} must name where the secret is (ssm:/name or secretsmanager:name),"
        " never hold it: a plain value would sit in the function's configuration"
    )


def _secret(name: str, where: str) -> str:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider  # noqa: PLC0415
    from aws_lambda_powertools.utilities.parameters.exceptions import (  # noqa: PLC0415
        GetParameterError,
    )

    try:
        value: Any = SecretsProvider(boto_config=_config()).get(name, max_age=0)
    except GetParameterError as exc:
        raise ConfigError(f"{where}: cannot read the secret: {_why(str(exc))}") from None
    text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
    if len(text) > _MAX_SECRET:
        raise ConfigError(f"{where}: the secret is larger than {_MAX_SECRET} bytes")
    return text


def _config() -> Config:
    from botocore.config import Config  # noqa: PLC0415 - see the module docstring

    # One retry at most: a cold start that waits on AWS's APIs is billed and felt.
    return Config(
        connect_timeout=CONNECT_SECONDS,
        read_timeout=READ_SECONDS,
        retries={"total_max_attempts": 2, "mode": "standard"},
    )


def _parameter(name: str, limit: int, where: str) -> bytes:
    from aws_lambda_powertools.utilities.parameters import SSMProvider  # noqa: PLC0415
    from aws_lambda_powertools.utilities.parameters.exceptions import (  # noqa: PLC0415
        GetParameterError,
    )

    try:
        value: Any = SSMProvider(boto_config=_config()).get(name, decrypt=True, max_age=0)
    except GetParameterError as exc:
        raise ConfigError(f"{where}: cannot read the parameter: {_why(str(exc))}") from None
    raw = str(value).encode("utf-8")
    if len(raw) > limit:
        raise ConfigError(f"{where}: the parameter is larger than {limit} bytes")
    return raw


def _object(bucket: str, key: str, limit: int, where: str) -> bytes:
    import boto3  # noqa: PLC0415 - see the module docstring
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        answer = boto3.client("s3", config=_config()).get_object(Bucket=bucket, Key=key)
        if int(answer.get("ContentLength", 0)) > limit:
            answer["Body"].close()
            raise ConfigError(f"{where}: the object is larger than {limit} bytes")
        raw: bytes = answer["Body"].read(limit + 1)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        raise ConfigError(f"{where}: cannot read the object: {_why(code or str(exc))}") from None
    except BotoCoreError as exc:
        raise ConfigError(f"{where}: cannot read the object: {exc}") from None
    if len(raw) > limit:
        raise ConfigError(f"{where}: the object is larger than {limit} bytes")
    return raw


#: What AWS's error codes mean to the person fixing the configuration.
_REASONS = {
    "ParameterNotFound": "no such parameter (in this account and region)",
    "ResourceNotFoundException": "no such secret (in this account and region)",
    "NoSuchKey": "no such object",
    "NoSuchBucket": "no such bucket",
    "AccessDenied": "the function's role may not read it (see the template's grants)",
    "AccessDeniedException": "the function's role may not read it (see the template's grants)",
    "403": "the function's role may not read it (see the template's grants)",
    "404": "no such object",
}


def _why(text: str) -> str:
    for code, meaning in _REASONS.items():
        if text == code or f"({code})" in text:
            return meaning
    return text.splitlines()[0][:300] if text else "unknown error"
