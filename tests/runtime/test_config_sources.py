"""Rules and key sets from outside the artifact: a layer's path, SSM Parameter Store, S3.

SSM and S3 are moto's server on loopback, reached by boto3 over HTTP as the
Lambda runtime's boto3 reaches AWS; the authorizer is built from the settings
they yield and answers requests, so each test checks what a user deploys.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from authorizer.config.settings import load_settings
from authorizer.config.sources import read_secret
from authorizer.errors import ConfigError
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event
from tests import ROOT
from tests.answers import status
from tests.aws import CREDENTIALS, moto_server
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, mint
from tests.processes import run

RULES = (ROOT / "rules" / "example.toml").read_text(encoding="utf-8")
ROLES = {"AUTHORIZER_ROLES_CLAIMS": "roles"}


def put_parameter(name: str, value: str, kind: str = "SecureString") -> None:
    boto3.client("ssm").put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)


def put_object(bucket: str, key: str, body: bytes) -> None:
    s3 = boto3.client("s3")
    if bucket not in {entry["Name"] for entry in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def orders(issuer: DevIssuer, clock: FakeClock, method: str, **rules: str) -> int:
    """The status a reader's request gets from an authorizer built with ``rules``."""
    authorizer = build_authorizer(issuer, clock, env={**ROLES, **rules})
    token = mint(issuer, clock, scope="orders:read")
    return status(authorizer, make_event("rest_request", f"Bearer {token}", method=method,
                                         path="/orders/7"))  # fmt: skip


@pytest.mark.parametrize("kind", ["String", "SecureString"])
def test_rules_from_a_parameter_decide_requests(
    aws: str, issuer: DevIssuer, clock: FakeClock, kind: str
) -> None:
    put_parameter("/orders-api/rules", RULES, kind)
    rules = {"AUTHORIZER_RULES": "ssm:/orders-api/rules"}
    assert orders(issuer, clock, "GET", **rules) == 200
    assert orders(issuer, clock, "DELETE", **rules) == 403


def test_rules_as_json_from_an_object_decide_requests(
    aws: str, issuer: DevIssuer, clock: FakeClock
) -> None:
    document = {"route": [{"match": "GET /orders/{id}", "scopes_any": ["orders:read"]}]}
    put_object("orders-config", "authorizer/rules.json", json.dumps(document).encode())
    rules = {"AUTHORIZER_RULES": "s3://orders-config/authorizer/rules.json"}
    assert orders(issuer, clock, "GET", **rules) == 200
    assert orders(issuer, clock, "POST", **rules) == 403  # no rule matches: denied


def test_a_parameter_without_a_suffix_is_read_as_json_when_it_is_json(aws: str) -> None:
    put_parameter("/orders-api/json-rules", '{"route": [{"match": "GET /a"}]}')
    settings = load_settings(
        {"JWT_ISSUER": "https://idp.example", "JWT_AUDIENCE": AUDIENCE,
         "AUTHORIZER_RULES": "ssm:/orders-api/json-rules"}
    )  # fmt: skip
    assert settings.route_rules is not None
    assert [[p.text for p in rule.patterns] for rule in settings.route_rules.routes] == [["GET /a"]]


def test_a_pinned_key_set_from_an_object_verifies_without_asking_the_issuer(
    aws: str, issuer: DevIssuer, tmp_path: Path
) -> None:
    clock = FakeClock(time.time())  # the key set was pinned just now, by the wall clock
    out = tmp_path / "keys.json"
    pinned = run("keys", "pin", "--out", str(out), "--env", f"JWT_ISSUER={issuer.issuer}",
                 "--env", f"JWT_AUDIENCE={AUDIENCE}")  # fmt: skip
    assert pinned.returncode == 0, pinned.stderr
    put_object("orders-config", "keys.json", out.read_bytes())
    authorizer = build_authorizer(issuer, clock, JWT_KEYS_FILE="s3://orders-config/keys.json")
    issuer.stop()  # nothing to ask: the bundled set is fresh
    assert status(authorizer, make_event("rest_token", f"Bearer {mint(issuer, clock)}")) == 200


def test_keys_pin_will_not_write_to_a_parameter_and_says_how_to_upload(
    issuer: DevIssuer,
) -> None:
    env = [f"JWT_ISSUER={issuer.issuer}", f"JWT_AUDIENCE={AUDIENCE}", "JWT_KEYS_FILE=ssm:/k/keys"]
    pinned = run("keys", "pin", *[part for item in env for part in ("--env", item)])
    assert pinned.returncode != 0
    assert "keys pin writes files only: pin with --out FILE" in pinned.stderr


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("ssm:/orders-api/missing", "cannot read the parameter: no such parameter"),
        ("s3://orders-config/missing.toml", "cannot read the object: no such object"),
        ("s3://no-such-bucket-here/rules.toml", "cannot read the object: no such bucket"),
    ],
)
def test_a_missing_source_fails_the_cold_start_naming_it(aws: str, source: str, why: str) -> None:
    put_object("orders-config", "present.toml", b"")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_for_rules(source))
    assert str(caught.value).startswith(f"AUTHORIZER_RULES ({source}): {why}")
    assert str(caught.value).endswith("[template parameter RulesFile]")


@pytest.mark.integration
def test_a_role_that_may_not_read_the_source_fails_the_cold_start_saying_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # moto enforces IAM after the seven set-up calls below: the "function" is a user
    # allowed to read only another parameter and another object, as a template
    # granting the wrong resource would leave it.
    with moto_server(unchecked_calls=7) as endpoint:
        for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(name, value)
        iam = boto3.client("iam")
        iam.create_user(UserName="authorizer")
        iam.put_user_policy(UserName="authorizer", PolicyName="reads-another",
                            PolicyDocument=json.dumps(_READS_ANOTHER))  # fmt: skip
        key = iam.create_access_key(UserName="authorizer")["AccessKey"]
        put_parameter("/orders-api/rules", RULES)
        put_object("orders-config", "rules.toml", RULES.encode())  # three calls
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it keeps the first credentials
        for source, what in [("ssm:/orders-api/rules", "parameter"),
                             ("s3://orders-config/rules.toml", "object")]:  # fmt: skip
            with pytest.raises(ConfigError) as caught:
                load_settings(env_for_rules(source))
            assert str(caught.value).startswith(
                f"AUTHORIZER_RULES ({source}): cannot read the {what}: "
                "the function's role may not read it (see the template's grants)"
            )


_READS_ANOTHER = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "ssm:GetParameter",
         "Resource": "arn:aws:ssm:us-east-1:123456789012:parameter/orders-api/other"},
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::orders-config/other.toml"},
    ],
}  # fmt: skip


def test_an_oversized_object_fails_the_cold_start_without_being_read_whole(aws: str) -> None:
    put_object("orders-config", "huge.toml", b"#" * (256 * 1024 + 1))
    with pytest.raises(ConfigError, match=r"the object is larger than 262144 bytes"):
        load_settings(env_for_rules("s3://orders-config/huge.toml"))


def test_an_invalid_document_from_a_parameter_is_refused_like_a_file(aws: str) -> None:
    put_parameter("/orders-api/bad", '[[route]]\nmatch = "GET /a"\nscope = ["x"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(env_for_rules("ssm:/orders-api/bad"))
    assert "AUTHORIZER_RULES (ssm:/orders-api/bad): route 1" in str(caught.value)
    assert "unknown key 'scope' (did you mean scopes_any?)" in str(caught.value)


def test_an_unreachable_aws_api_fails_the_cold_start_in_seconds(
    monkeypatch: pytest.MonkeyPatch, aws: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    started = time.monotonic()
    with pytest.raises(
        ConfigError, match=r"^AUTHORIZER_RULES \(ssm:/x\): cannot read the parameter"
    ):
        load_settings(env_for_rules("ssm:/x"))
    assert time.monotonic() - started < 10  # within Lambda's init limit, with its retry


@pytest.mark.parametrize(
    "source",
    ["ssm:orders-api/rules", "ssm:/", "ssm:/orders/", "s3://bucket-only", "s3://", "s3:/b/k",
     "arn:aws:ssm:us-east-1:123456789012:parameter/x", "https://example.com/rules.toml"],
)  # fmt: skip
def test_a_malformed_source_name_fails_before_anything_is_read(source: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env_for_rules(source))
    message = str(caught.value)
    assert message.startswith(f"AUTHORIZER_RULES ({source}): ")
    assert any(
        why in message
        for why in ("not a path, ssm:/name or s3://bucket/key", "an SSM parameter is named",
                    "an S3 object is named")
    ), message  # fmt: skip


def test_doctor_reads_the_same_source_and_explains_a_missing_one(aws: str) -> None:
    result = run("doctor", "--env", "JWT_ISSUER=https://idp.example", "--env",
                 f"JWT_AUDIENCE={AUDIENCE}", "--env", "AUTHORIZER_RULES=ssm:/orders-api/none",
                 "--env", f"AWS_ENDPOINT_URL={aws}", *_credentials())  # fmt: skip
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "AUTHORIZER_RULES (ssm:/orders-api/none): cannot read the parameter" in output


def env_for_rules(source: str) -> dict[str, Any]:
    return {"JWT_ISSUER": "https://idp.example", "JWT_AUDIENCE": AUDIENCE,
            "AUTHORIZER_RULES": source, **ROLES}  # fmt: skip


def _credentials() -> list[str]:

    return [part for name, value in CREDENTIALS.items() for part in ("--env", f"{name}={value}")]


def test_a_secret_is_read_from_secrets_manager_or_a_secure_parameter(aws: str) -> None:
    boto3.client("secretsmanager").create_secret(Name="orders-api/introspection",
                                                 SecretString="from-secrets-manager")  # fmt: skip
    put_parameter("/orders-api/introspection", "from-parameter-store")
    assert read_secret("secretsmanager:orders-api/introspection", "X") == "from-secrets-manager"
    assert read_secret("ssm:/orders-api/introspection", "X") == "from-parameter-store"
    with pytest.raises(ConfigError, match=r"^X \(secretsmanager:none\): cannot read the secret"):
        read_secret("secretsmanager:none", "X (secretsmanager:none)")
    with pytest.raises(ConfigError, match="must name where the secret is"):
        read_secret("secretsmanager:", "X")
