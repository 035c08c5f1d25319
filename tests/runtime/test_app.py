"""The handler end to end: real tokens, a real loopback issuer, every event kind and outcome."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from authorizer.app import AuthorizerUnavailable
from authorizer_tools.devissuer.issuer import DevIssuer, Reply
from authorizer_tools.eventgen import KINDS, make_event
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, mint
from tests.tokens import b64, segment, signed

IAM_KINDS = ("rest_token", "rest_request", "http_v1", "websocket")


def log_records(log: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.getvalue().splitlines() if line.strip()]


def decisions(log: io.StringIO) -> list[dict[str, Any]]:
    return [r for r in log_records(log) if r["message"] == "authorization decision"]


def expect_unauthorized(call: Any) -> None:
    with pytest.raises(Exception) as caught:
        call()
    assert type(caught.value) is Exception
    assert str(caught.value) == "Unauthorized"


@pytest.mark.parametrize("kind", IAM_KINDS)
def test_a_valid_token_gets_an_allow_for_the_whole_stage(
    issuer: DevIssuer, clock: FakeClock, kind: str
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log)
    token = mint(issuer, clock, sub="alice", scope="read:orders")
    response = authorizer.handle(make_event(kind, f"Bearer {token}", method="POST", path="/o/1"))
    assert response["principalId"] == "alice"
    statement = response["policyDocument"]["Statement"]
    assert statement == [
        {
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Resource": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/*",
        }
    ]
    assert response["context"]["sub"] == "alice"
    assert response["context"]["scope"] == "read:orders"
    record = decisions(log)[-1]
    assert record["decision"] == "allow" and record["reason"] == "allowed"
    assert record["sub"] == "alice" and record["kid"] == next(iter(issuer.keys))
    assert record["event_kind"] == kind


def test_http_api_v2_gets_a_simple_response_by_default(issuer: DevIssuer, clock: FakeClock) -> None:
    authorizer = build_authorizer(issuer, clock)
    response = authorizer.handle(make_event("http_v2", f"Bearer {mint(issuer, clock)}"))
    assert response["isAuthorized"] is True
    assert response["context"]["sub"] == "user-123"
    assert "policyDocument" not in response


def test_http_api_v2_gets_an_iam_policy_when_configured(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock, AUTHORIZER_HTTP_API_RESPONSE="iam")
    response = authorizer.handle(make_event("http_v2", f"Bearer {mint(issuer, clock)}"))
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handle(make_event("http_v2", None))


def test_the_arn_partition_is_kept(issuer: DevIssuer, clock: FakeClock) -> None:
    authorizer = build_authorizer(issuer, clock)
    event = make_event("rest_token", f"Bearer {mint(issuer, clock)}", partition="aws-cn")
    resource = authorizer.handle(event)["policyDocument"]["Statement"][0]["Resource"]
    assert resource.startswith("arn:aws-cn:execute-api:")


@pytest.mark.parametrize("kind", IAM_KINDS)
def test_no_token_raises_exactly_unauthorized(
    issuer: DevIssuer, clock: FakeClock, kind: str
) -> None:
    authorizer = build_authorizer(issuer, clock)
    expect_unauthorized(lambda: authorizer.handle(make_event(kind, None)))


@pytest.mark.parametrize("response_shape", ["simple", "iam"])
def test_refused_tokens_on_http_api_are_401_with_either_response_shape(
    issuer: DevIssuer, clock: FakeClock, response_shape: str
) -> None:
    """A client that refreshes its token on 401 must see one on HTTP APIs too."""
    authorizer = build_authorizer(
        issuer, clock, AUTHORIZER_HTTP_API_RESPONSE=response_shape, JWT_REQUIRED_SCOPES="read"
    )
    other = DevIssuer(algorithms=())  # not started: only its key, under the real kid, is used
    kid = other.add_key("RS256", next(iter(issuer.keys)))
    forged = other.mint(
        {"iss": issuer.issuer, "aud": AUDIENCE, "scope": "read"}, kid=kid, now=clock.now
    )
    other.stop()
    refused = {
        "missing": None,
        "malformed": "Bearer a.b.c",
        "expired": f"Bearer {mint(issuer, clock, exp=int(clock.now) - 3600)}",
        "forged": f"Bearer {forged}",
        "wrong audience": f"Bearer {mint(issuer, clock, aud='someone-else')}",
    }
    for why, authorization in refused.items():
        with pytest.raises(Exception, match="^Unauthorized$"):
            authorizer.handle(make_event("http_v2", authorization))
            pytest.fail(why)
    # A valid token without the required scope is a 403, not a 401.
    denied = authorizer.handle(make_event("http_v2", f"Bearer {mint(issuer, clock)}"))
    if response_shape == "simple":
        assert denied == {"isAuthorized": False}
    else:
        assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"


@pytest.mark.parametrize("kind", IAM_KINDS)
def test_a_missing_scope_is_an_explicit_deny(
    issuer: DevIssuer, clock: FakeClock, kind: str
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(
        issuer, clock, log=log, JWT_REQUIRED_SCOPES="read:orders write:orders"
    )
    token = mint(issuer, clock, sub="bob", scope="read:orders read:orders:all")
    response = authorizer.handle(make_event(kind, f"Bearer {token}"))
    assert response["principalId"] == "bob"
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert response["policyDocument"]["Statement"][0]["Resource"].endswith("/prod/*")
    assert "context" not in response
    record = decisions(log)[-1]
    assert record["decision"] == "deny" and record["reason"] == "insufficient_scope"
    assert "write:orders" in record["detail"]


def test_scopes_may_come_from_an_scp_array(issuer: DevIssuer, clock: FakeClock) -> None:
    authorizer = build_authorizer(issuer, clock, JWT_REQUIRED_SCOPES="orders.read")
    token = mint(issuer, clock, scp=["orders.read", "profile"])
    assert (
        authorizer.handle(make_event("rest_token", f"Bearer {token}"))["policyDocument"][
            "Statement"
        ][0]["Effect"]
        == "Allow"
    )


def test_a_missing_scope_on_http_api_simple_is_not_authorized(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock, JWT_REQUIRED_SCOPES="admin")
    response = authorizer.handle(make_event("http_v2", f"Bearer {mint(issuer, clock)}"))
    assert response == {"isAuthorized": False}


@pytest.mark.parametrize("kind", KINDS)
def test_an_unreachable_issuer_with_nothing_cached_is_a_500_not_a_401(
    clock: FakeClock, kind: str
) -> None:
    log = io.StringIO()
    with DevIssuer() as issuer:
        token = mint(issuer, clock)
        issuer.responder = lambda path: Reply(503, b"maintenance")
        authorizer = build_authorizer(issuer, clock, log=log)
        with pytest.raises(AuthorizerUnavailable) as caught:
            authorizer.handle(make_event(kind, f"Bearer {token}"))
        assert str(caught.value) != "Unauthorized"
    records = log_records(log)
    assert any(r["message"] == "issuer keys fetch failed" for r in records)
    decision = decisions(log)[-1]
    assert decision["level"] == "ERROR" and decision["reason"] == "jwks_unavailable"


class ExplodingFetcher:
    def get_json(self, url: str) -> dict[str, Any]:
        raise RuntimeError("a bug, not a network failure")


def test_an_unexpected_error_fails_closed_as_a_500(issuer: DevIssuer, clock: FakeClock) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, fetcher=ExplodingFetcher())
    with pytest.raises(AuthorizerUnavailable, match="internal_error"):
        authorizer.handle(make_event("http_v2", f"Bearer {mint(issuer, clock)}"))
    assert decisions(log)[-1]["reason"] == "internal_error"


def reason_cases(issuer: DevIssuer, clock: FakeClock) -> dict[str, tuple[str, dict[str, str]]]:
    """One token (or event tweak) per reason code, with the settings that provoke it."""
    key = next(iter(issuer.keys.values()))
    head = {"alg": "RS256", "kid": key.kid}
    good = {
        "iss": issuer.issuer,
        "sub": "u",
        "aud": AUDIENCE,
        "iat": int(clock.now),
        "exp": int(clock.now) + 60,
    }
    return {
        "malformed": (f"{b64(b'not json')}.{segment(good)}.{b64(b'signature-bytes')}", {}),
        "disallowed_algorithm": (
            f"{segment({'alg': 'none', 'kid': key.kid})}.{segment(good)}.{b64(b'sig')}",
            {},
        ),
        "unknown_kid": (signed(issuer, {**head, "kid": "nope"}, good), {}),
        "bad_signature": (
            signed(issuer, head, good).rsplit(".", 1)[0]
            + "."
            + signed(issuer, head, {**good, "sub": "other"}).rsplit(".", 1)[1],
            {},
        ),
        # A PS256 signature under a JWK that pins alg RS256.
        "incompatible_key": (
            signed(issuer, {**head, "alg": "PS256"}, good, alg="PS256"),
            {"JWT_ALGORITHMS": "RS256,PS256"},
        ),
        "invalid_claims": (signed(issuer, head, {**good, "exp": "soon"}), {}),
        "expired": (signed(issuer, head, {**good, "exp": int(clock.now) - 3600}), {}),
        "not_yet_valid": (signed(issuer, head, {**good, "nbf": int(clock.now) + 3600}), {}),
        "wrong_issuer": (signed(issuer, head, {**good, "iss": issuer.issuer + "/"}), {}),
        "wrong_audience": (signed(issuer, head, {**good, "aud": "someone-else"}), {}),
        "insufficient_scope": (signed(issuer, head, good), {"JWT_REQUIRED_SCOPES": "admin"}),
        "wrong_token_type": (signed(issuer, head, {**good, "at_hash": "x"}), {}),
    }


REASONS = [
    "malformed",
    "disallowed_algorithm",
    "unknown_kid",
    "bad_signature",
    "incompatible_key",
    "invalid_claims",
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "insufficient_scope",
    "wrong_token_type",
]


@pytest.mark.parametrize("reason", REASONS)
def test_every_reason_code_is_logged_and_counted_without_the_token(
    issuer: DevIssuer, clock: FakeClock, capsys: pytest.CaptureFixture[str], reason: str
) -> None:
    token, env = reason_cases(issuer, clock)[reason]
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log, env=env)
    try:
        response = authorizer.handle(make_event("rest_request", f"Bearer {token}"))
        assert response["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    except Exception as exc:
        assert str(exc) == "Unauthorized"
    record = decisions(log)[-1]
    assert record["reason"] == reason
    # The decision line carries its own metric (EMF): Decisions by Outcome and Reason.
    assert record["Reason"] == reason and record["Decisions"] == 1
    assert record["Outcome"] == ("deny" if reason == "insufficient_scope" else "unauthorized")
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": "Decisions", "Unit": "Count"}]
    assert directive["Dimensions"] == [["Outcome", "Reason", "service"], ["Outcome", "service"]]
    emitted = capsys.readouterr().out
    everything = log.getvalue() + emitted
    assert token not in everything
    assert token.split(".")[2] not in everything  # never the signature


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"type": "TOKEN"}, "malformed_event"),
        ({"not": "an authorizer event"}, "malformed_event"),
        (None, "malformed_event"),
    ],
)
def test_malformed_events_are_unauthorized_with_a_reason(
    issuer: DevIssuer, clock: FakeClock, event: object, reason: str
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log)
    expect_unauthorized(lambda: authorizer.handle(event))
    assert decisions(log)[-1]["reason"] == reason


def test_a_bad_arn_is_unauthorized_even_with_a_valid_token(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock)
    event = make_event("rest_token", f"Bearer {mint(issuer, clock)}")
    event["methodArn"] = "arn:aws:lambda:us-east-1:123456789012:function:x"
    expect_unauthorized(lambda: authorizer.handle(event))


def test_missing_token_is_logged_with_its_event_kind(issuer: DevIssuer, clock: FakeClock) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log)
    expect_unauthorized(lambda: authorizer.handle(make_event("http_v2", None)))
    record = decisions(log)[-1]
    assert record["reason"] == "missing_token" and record["event_kind"] == "http_v2"


def test_key_fetches_are_counted_in_their_own_metric_lines(
    issuer: DevIssuer, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log)
    for _ in range(3):
        authorizer.handle(make_event("rest_token", f"Bearer {mint(issuer, clock)}"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    fetches = [line for line in lines if "JwksFetches" in line]
    assert len(fetches) == 1
    assert "Reason" not in fetches[0]
    assert [r["Decisions"] for r in decisions(log)] == [1, 1, 1]  # one line per decision
    assert issuer.fetches() == 1


def test_with_info_logging_off_the_decision_metric_still_goes_out(
    issuer: DevIssuer, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    authorizer = build_authorizer(issuer, clock)
    logging.getLogger(authorizer.telemetry.logger.name).setLevel(logging.WARNING)
    authorizer.handle(make_event("http_v2", f"Bearer {mint(issuer, clock)}"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    decided = [line for line in lines if "Decisions" in line]
    assert [(d["Outcome"], d["Reason"]) for d in decided] == [("allow", "allowed")]


def test_warm_invocations_reuse_the_cache_across_many_tokens(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock)
    assert authorizer.prefetch() is True
    for index in range(25):
        token = mint(issuer, clock, sub=f"user-{index}")
        assert authorizer.handle(make_event("http_v2", f"Bearer {token}"))["isAuthorized"]
        clock.advance(5)
    assert issuer.fetches() == 1


def _scribble(value: Any) -> None:
    """Change everything changeable inside a response, as a careless caller might."""
    if isinstance(value, dict):
        for key in list(value):
            if isinstance(value[key], (dict, list)):
                _scribble(value[key])
            else:
                value[key] = "changed"
        value["added"] = "changed"
    elif isinstance(value, list):
        for item in value:
            _scribble(item)
        value.append("changed")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rules", [False, True])
def test_no_response_shares_anything_with_a_later_one(
    issuer: DevIssuer, clock: FakeClock, kind: str, rules: bool, tmp_path: Any
) -> None:
    env = {}
    if rules:
        path = tmp_path / "rules.toml"
        path.write_text('[[route]]\nmatch = "GET /orders"\nscopes_all = ["read"]\n')
        env["AUTHORIZER_RULES"] = str(path)
        env["AUTHORIZER_SIMPLE_RESPONSE_CACHE"] = "off"  # simple responses for their route
    token = mint(issuer, clock, sub="alice", scope="read", groups=["a", "b"], n=3)
    event = make_event(kind, f"Bearer {token}")
    fresh = build_authorizer(issuer, clock, env=env).handle(event)
    authorizer = build_authorizer(issuer, clock, env=env)
    first = authorizer.handle(event)
    assert first == fresh
    _scribble(first)
    assert authorizer.handle(event) == fresh  # the token cache answers; nothing leaked
    other = make_event(kind, f"Bearer {mint(issuer, clock, sub='bob', scope='read')}")
    assert authorizer.handle(other)["context"]["sub"] == "bob"


@pytest.mark.parametrize(
    ("partition", "region"),
    [
        ("aws", "us-east-1"),
        ("aws", "ap-southeast-5"),
        ("aws-cn", "cn-northwest-1"),
        ("aws-us-gov", "us-gov-east-1"),
        ("aws-iso", "us-iso-east-1"),
        ("aws-iso-b", "us-isob-east-1"),
        ("aws-iso-e", "eu-isoe-west-1"),
        ("aws-iso-f", "us-isof-south-1"),
        ("aws-eusc", "eusc-de-east-1"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_every_aws_partition_and_its_regions_are_answered(
    issuer: DevIssuer, clock: FakeClock, partition: str, region: str, kind: str
) -> None:
    authorizer = build_authorizer(issuer, clock, AUTHORIZER_HTTP_API_RESPONSE="iam")
    event = make_event(kind, f"Bearer {mint(issuer, clock)}", partition=partition)
    name = "routeArn" if "routeArn" in event else "methodArn"
    event[name] = event[name].replace(":us-east-1:", f":{region}:")
    response = authorizer.handle(event)
    [statement] = response["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"].startswith(f"arn:{partition}:execute-api:{region}:123456789012:")


def test_a_verified_tokens_claims_are_read_only_for_every_request_that_shares_it(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    """The verified-token cache hands one token to each repeat request: nobody may change it."""
    authorizer = build_authorizer(issuer, clock)
    event = make_event("rest_token", f"Bearer {mint(issuer, clock, sub='alice')}")
    first = authorizer.decide(event).token
    assert first is not None
    with pytest.raises(TypeError):
        first.claims["sub"] = "mallory"  # type: ignore[index]
    again = authorizer.decide(event).token
    assert again is first and again.claims["sub"] == "alice"


@pytest.mark.parametrize("kind", ["rest_request", "http_v1", "http_v2", "websocket"])
def test_the_decision_line_names_the_api_request_the_integration_sees(
    issuer: DevIssuer, clock: FakeClock, kind: str
) -> None:
    """API Gateway's requestContext.requestId reaches the integration too: the join key."""
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log)
    event = make_event(kind, f"Bearer {mint(issuer, clock)}")
    authorizer.handle(event)
    assert decisions(log)[-1]["api_request_id"] == event["requestContext"]["requestId"]


def test_a_token_event_has_no_api_request_to_name(issuer: DevIssuer, clock: FakeClock) -> None:
    log = io.StringIO()
    authorizer = build_authorizer(issuer, clock, log=log)
    authorizer.handle(make_event("rest_token", f"Bearer {mint(issuer, clock)}"))
    assert "api_request_id" not in decisions(log)[-1]
