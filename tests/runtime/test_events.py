"""Five event shapes to one request; hostile events end as a clean 401 reason."""

from __future__ import annotations

from typing import Any

import pytest

from authorizer.errors import MalformedEvent, MalformedToken, MissingToken
from authorizer.gateway.events import EventKind, classify, credential, to_request
from authorizer_tools.eventgen import KINDS, make_event

TOKEN = "aaa.bbb.ccc"


def request_for(event: object, query: str | None = "access_token"):  # type: ignore[no-untyped-def]
    return to_request(event, header="Authorization", query_parameter=query)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("rest_token", EventKind.REST_TOKEN),
        ("rest_request", EventKind.REST_REQUEST),
        ("http_v1", EventKind.HTTP_V1),
        ("http_v2", EventKind.HTTP_V2),
        ("websocket", EventKind.WEBSOCKET),
    ],
)
def test_each_shape_is_recognised_and_its_token_extracted(kind: str, expected: EventKind) -> None:
    request = request_for(make_event(kind, f"Bearer {TOKEN}"))
    assert request.kind is expected
    assert request.token == TOKEN
    assert request.resource_arn.startswith(
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_token_is_reported_not_raised(kind: str) -> None:
    request = request_for(make_event(kind, None))
    assert request.token is None
    assert request.token_problem == "missing_token"


@pytest.mark.parametrize(
    "value",
    ["bearer aaa.bbb.ccc", "BEARER aaa.bbb.ccc", "Bearer   aaa.bbb.ccc ", "\tBearer aaa.bbb.ccc"],
)
def test_the_bearer_scheme_is_case_insensitive_and_whitespace_tolerant(value: str) -> None:
    assert credential(value) == ("bearer", TOKEN)


@pytest.mark.parametrize("value", ["DPoP aaa.bbb.ccc", "dpop aaa.bbb.ccc", " DPOP  aaa.bbb.ccc"])
def test_the_dpop_scheme_is_read_case_insensitively_too(value: str) -> None:
    assert credential(value) == ("dpop", TOKEN)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, MissingToken),
        ("", MissingToken),
        ("   ", MissingToken),
        (42, MissingToken),
        ("aaa.bbb.ccc", MalformedToken),
        ("Basic dXNlcjpwYXNz", MalformedToken),
        ("Bearer", MalformedToken),
        ("Bearer a.b.c d.e.f", MalformedToken),
        ("Bearer a.b.c, Bearer d.e.f", MalformedToken),
        ("Token aaa.bbb.ccc", MalformedToken),
        ("DPoP", MalformedToken),
        ("DPoP a.b.c d.e.f", MalformedToken),
        ("Bearer-DPoP a.b.c", MalformedToken),
    ],
)
def test_values_that_are_not_one_bearer_or_dpop_credential_are_refused(
    value: object, error: type
) -> None:
    with pytest.raises(error):
        credential(value)


@pytest.mark.parametrize("name", ["authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"])
def test_header_names_match_case_insensitively(name: str) -> None:
    event = make_event("rest_request", None)
    event["headers"][name] = f"Bearer {TOKEN}"
    assert request_for(event).token == TOKEN


def test_two_different_authorization_headers_are_refused() -> None:
    event = make_event("rest_request", f"Bearer {TOKEN}")
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {TOKEN}", "Bearer x.y.z"]
    request = request_for(event)
    assert request.token is None and request.token_problem == "malformed"


def test_a_header_repeated_with_the_same_value_is_one_value() -> None:
    event = make_event("http_v1", f"Bearer {TOKEN}")
    event["multiValueHeaders"]["authorization"] = [f"Bearer {TOKEN}"]
    assert request_for(event).token == TOKEN


def test_a_custom_header_name_is_honoured() -> None:
    event = make_event("http_v2", None)
    event["headers"]["x-access-token"] = f"Bearer {TOKEN}"
    request = to_request(event, header="X-Access-Token", query_parameter=None)
    assert request.token == TOKEN


def test_websocket_falls_back_to_the_query_parameter() -> None:
    event = make_event("websocket", None, query={"access_token": TOKEN})
    assert request_for(event).token == TOKEN
    assert request_for(event, query=None).token_problem == "missing_token"


def test_websocket_prefers_the_header_over_the_query() -> None:
    event = make_event("websocket", f"Bearer {TOKEN}", query={"access_token": "q.q.q"})
    assert request_for(event).token == TOKEN


def test_websocket_query_with_conflicting_values_is_refused() -> None:
    event = make_event("websocket", None, query={"access_token": TOKEN})
    event["multiValueQueryStringParameters"]["access_token"] = [TOKEN, "x.y.z"]
    assert request_for(event).token_problem == "malformed"


def test_the_query_parameter_is_ignored_outside_websocket() -> None:
    event = make_event("rest_request", None, query={"access_token": TOKEN})
    assert request_for(event).token is None


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "TOKEN",
        42,
        {},
        {"type": "SOMETHING"},
        {"version": "3.0"},
    ],
)
def test_events_of_no_known_shape_are_malformed(event: object) -> None:
    with pytest.raises(MalformedEvent):
        classify(event)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("arn", [None, "", 17, ["arn"]])
def test_events_without_an_arn_are_malformed(kind: str, arn: object) -> None:
    event = make_event(kind, f"Bearer {TOKEN}")
    field = "routeArn" if kind == "http_v2" else "methodArn"
    event[field] = arn
    with pytest.raises(MalformedEvent):
        request_for(event)


@pytest.mark.parametrize(
    "mutation",
    [
        {"headers": None},
        {"headers": "Authorization: Bearer x"},
        {"headers": {1: "Bearer x"}},
        {"headers": {"Authorization": None}},
        {"headers": {"Authorization": ["Bearer aaa.bbb.ccc"]}},
        {"multiValueHeaders": {"Authorization": "Bearer aaa.bbb.ccc"}},
        {"multiValueHeaders": None, "headers": None},
        {"requestContext": None},
    ],
)
def test_hostile_header_shapes_never_raise_unexpected_errors(mutation: dict[str, Any]) -> None:
    event = make_event("rest_request", None)
    event.update(mutation)
    request = request_for(event)
    assert request.token is None


def test_unknown_event_kinds_are_refused_by_the_generator() -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        make_event("sqs", None)
