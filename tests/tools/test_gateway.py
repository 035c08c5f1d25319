"""How an answer becomes the caller's status: IAM's rules, which every test's status relies on."""

from __future__ import annotations

from typing import Any

import pytest

from authorizer_tools.local.gateway import status_of, status_of_error

ARN = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/orders/42"


def policy(*statements: tuple[str, str | list[str], str | list[str]]) -> dict[str, Any]:
    return {
        "principalId": "someone",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": effect, "Action": action, "Resource": resource}
                for effect, action, resource in statements
            ],
        },
    }


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        ([("Allow", "execute-api:Invoke", ARN)], 200),
        ([("Allow", "execute-api:Invoke", "arn:aws:execute-api:*:*:api1/prod/*")], 200),
        (
            [
                (
                    "Allow",
                    "execute-api:Invoke",
                    "arn:aws:execute-api:us-east-1:*:api1/prod/GET/orders/4?",
                )
            ],
            200,
        ),
        (
            [
                (
                    "Allow",
                    "execute-api:Invoke",
                    "arn:aws:execute-api:us-east-1:*:api1/prod/GET/orders/?",
                )
            ],
            403,
        ),
        ([("Allow", "execute-api:Invoke", "arn:aws:execute-api:us-east-1:*:api1/test/*")], 403),
        ([("Allow", "*", ARN)], 200),
        ([("Allow", ["execute-api:ManageConnections", "execute-api:*"], ARN)], 200),
        ([("Allow", "execute-api:ManageConnections", ARN)], 403),  # not the invoke action
        ([("Allow", "execute-api:Invoke", "*"), ("Deny", "execute-api:Invoke", ARN)], 403),
        ([("Deny", "execute-api:Invoke", "*.nothing")], 403),
        ([], 403),
    ],
)
def test_a_policy_is_applied_as_iam_applies_it(
    statements: list[tuple[str, str | list[str], str | list[str]]], expected: int
) -> None:
    assert status_of(policy(*statements), ARN) == expected


def test_a_simple_response_says_it_itself() -> None:
    assert status_of({"isAuthorized": True}, ARN) == 200
    assert status_of({"isAuthorized": False}, ARN) == 403


def test_only_the_exact_unauthorized_exception_is_a_401() -> None:
    assert status_of_error(Exception("Unauthorized")) == 401
    assert status_of_error(Exception("unauthorized")) == 500
    assert status_of_error(ValueError("Unauthorized")) == 500
