"""Policies answer for the whole stage, in the ARN's own partition."""

from __future__ import annotations

import pytest

from authorizer.errors import MalformedEvent
from authorizer.gateway.arn import parse_arn
from authorizer.gateway.responses import iam_response, simple_response


@pytest.mark.parametrize(
    ("arn", "wildcard"),
    [
        (
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request",
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/*",
        ),
        (
            "arn:aws-cn:execute-api:cn-north-1:123456789012:abc/prod/POST/orders/{id}",
            "arn:aws-cn:execute-api:cn-north-1:123456789012:abc/prod/*",
        ),
        (
            "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:abc/$default/GET/",
            "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:abc/$default/*",
        ),
        (
            "arn:aws:execute-api:eu-west-1:123456789012:abc/default/$connect",
            "arn:aws:execute-api:eu-west-1:123456789012:abc/default/*",
        ),
        (
            "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/a/b/c/d",
            "arn:aws:execute-api:us-east-1:123456789012:abc/prod/*",
        ),
    ],
)
def test_the_allow_resource_covers_every_route_of_the_stage(arn: str, wildcard: str) -> None:
    policy = iam_response("alice", parse_arn(arn), allow=["*"], context={"k": "v"})
    statement = policy["policyDocument"]["Statement"]
    assert statement == [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": wildcard}]
    assert policy["principalId"] == "alice"
    assert policy["context"] == {"k": "v"}
    assert policy["policyDocument"]["Version"] == "2012-10-17"


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "arn",
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "arn:aws:execute-api:us-east-1:1234:abc/prod/GET/",
        "arn:aws:execute-api:us-east-1:123456789012:abc",
        "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/",
        "arn:evil:execute-api:us-east-1:123456789012:abc/prod/GET/",
        "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/" + "a" * 1600,
        "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/x y",
        "arn:aws:execute-api:us-east-1:123456789012:ab-c/prod/GET/",
    ],
)
def test_arns_not_from_api_gateway_are_malformed(arn: str) -> None:
    with pytest.raises(MalformedEvent):
        parse_arn(arn)


def test_a_deny_has_no_context_and_the_same_wildcard() -> None:
    arn = parse_arn("arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/x")
    policy = iam_response("bob", arn)
    assert "context" not in policy
    assert policy["policyDocument"]["Statement"] == [
        {
            "Action": "execute-api:Invoke",
            "Effect": "Deny",
            "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/*",
        }
    ]


def test_route_policies_list_allowed_and_denied_resources_in_one_statement_each() -> None:
    arn = parse_arn("arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/x")
    policy = iam_response("bob", arn, allow=["GET/orders", "GET/orders/*"], deny=["DELETE/*"])
    prefix = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/"
    assert policy["policyDocument"]["Statement"] == [
        {
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Resource": [prefix + "GET/orders", prefix + "GET/orders/*"],
        },
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": prefix + "DELETE/*"},
    ]


def test_the_route_is_what_follows_the_stage() -> None:
    assert parse_arn("arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/a/b").route == (
        "GET/a/b"
    )
    assert parse_arn("arn:aws:execute-api:us-east-1:123456789012:abc/prod/$connect").route == (
        "$connect"
    )


def test_simple_responses() -> None:
    assert simple_response(False) == {"isAuthorized": False}
    assert simple_response(True, {"sub": "a"}) == {"isAuthorized": True, "context": {"sub": "a"}}
