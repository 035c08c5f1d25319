"""Route patterns (``GET /orders/{id}``) and how they match API Gateway ARNs.

A pattern matches exactly the requests that the IAM ``Resource`` built from
it matches, because API Gateway applies a cached policy by IAM rules, not by
ours. So the matcher *is* IAM's: the pattern becomes the ARN suffix
``GET/orders/*`` and ``*`` matches any run of characters, ``/`` included.
``{id}`` and ``{proxy+}`` therefore also cover deeper paths
(``GET /orders/{id}`` covers ``/orders/1/items``); a more specific rule for a
deeper path still applies, since every rule that matches must pass.

Accepted forms:

* ``METHOD /path`` - METHOD is an HTTP method, ``ANY`` or ``*``; the path
  starts with ``/``, and may hold ``{param}``, ``{param+}`` and ``*``;
* ``$connect`` (or any other ``$route``) - a WebSocket route key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
#: The longest ``arn:...:{api}/{stage}/`` prefix :func:`authorizer.gateway.arn.parse_arn` accepts.
MAX_ARN_PREFIX = len("arn:") + 16 + len(":execute-api:") + 25 + 1 + 12 + 1 + 16 + 1 + 128 + 1
#: IAM refuses a policy ``Resource`` longer than this many characters.
MAX_RESOURCE_LENGTH = 512
MAX_SUFFIX_LENGTH = MAX_RESOURCE_LENGTH - MAX_ARN_PREFIX

# Characters a path pattern may hold (RFC 3986 pchar, minus the IAM wildcard "?").
_PATH = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()+,;=:@%/*]|\{[A-Za-z_][A-Za-z0-9_]*\+?\})*")
_ROUTE_KEY = re.compile(r"\$[A-Za-z0-9_]+")
_PARAM = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True, slots=True)
class RoutePattern:
    """One route pattern, as written and as the IAM resource suffix it stands for."""

    text: str
    suffix: str  # after ``{apiId}/{stage}/``, e.g. ``GET/orders/*``
    _regex: re.Pattern[str]

    def matches(self, route: str) -> bool:
        """True when ``route`` (the ARN part after the stage) is covered by this pattern."""
        return self._regex.fullmatch(route) is not None


def parse_route(text: str, where: str) -> RoutePattern:
    """Parse one pattern; ``where`` names the setting for the error message."""
    raw = text.strip()
    if _ROUTE_KEY.fullmatch(raw):
        suffix = raw
    else:
        method, _, path = raw.partition(" ")
        method = method.upper()
        path = path.strip()
        if method not in METHODS | {"ANY", "*"}:
            raise ConfigError(
                f"{where}: route {text!r} must start with an HTTP method, ANY or *"
                " (or be a WebSocket route key such as $connect)"
            )
        if not _PATH.fullmatch(path):
            raise ConfigError(
                f"{where}: route {text!r} needs a path starting with / (letters, digits,"
                " {param}, {proxy+} and * only; no ? or spaces)"
            )
        verb = "*" if method in ("ANY", "*") else method
        suffix = verb + _PARAM.sub("*", path)
    suffix = re.sub(r"\*+", "*", suffix)
    if len(suffix) > MAX_SUFFIX_LENGTH:
        raise ConfigError(
            f"{where}: route {text!r} is too long for an IAM Resource"
            f" ({len(suffix)} > {MAX_SUFFIX_LENGTH} characters after the stage)"
        )
    regex = re.compile(".*".join(re.escape(part) for part in suffix.split("*")), re.DOTALL)
    return RoutePattern(text=raw, suffix=suffix, _regex=regex)


# -- What one cached answer covers ------------------------------------------------------
#
# An HTTP API simple response (``isAuthorized``) carries no policy: API Gateway reuses it
# for every request with the same identity-source values. With ``$context.routeKey`` among
# them that is every request the route key serves (``ANY /orders/{id}``: every method, and
# every value of ``{id}``); without it, every route of the API. The languages below are
# compared exactly, so that an answer can be made to hold for all of them at once.

# A pattern is a tuple of steps: a literal character, or one or any number of characters of a
# class ("any", or "seg": anything but "/").
Step = tuple[str, str]  # ("lit", c) | ("one", cls) | ("star", cls)
_ANY: tuple[Step, ...] = (("star", "any"),)
#: The most states one coverage question may explore before it is answered "uncovered".
MAX_COVERAGE_STATES = 20000


def rule_steps(suffix: str) -> tuple[Step, ...]:
    """A rule pattern's IAM suffix (``GET/orders/*``) as steps: ``*`` is any run of characters."""
    return tuple(("star", "any") if char == "*" else ("lit", char) for char in suffix)


def route_key_steps(route_key: str | None) -> tuple[Step, ...]:
    """The route ARN suffixes (``GET/orders/7``) an HTTP API route key serves, as steps.

    ``ANY`` is any method; ``{id}`` one path segment; ``{proxy+}`` one or more;
    ``$default``, an unknown or missing key: every request of the API.
    """
    method, _, path = (route_key or "").partition(" ")
    if not path.startswith("/") or method.upper() not in METHODS | {"ANY"}:
        return _ANY
    steps: list[Step] = (
        [("one", "seg"), ("star", "seg")] if method.upper() == "ANY" else
        [("lit", char) for char in method.upper()]
    )  # fmt: skip
    for part in re.split(r"(\{[^}]*\})", path):
        if part.startswith("{"):
            cls = "any" if part.endswith("+}") else "seg"
            steps += [("one", cls), ("star", cls)]
        else:
            steps += [("lit", char) for char in part]
    return tuple(steps)


def _accepts(step: Step, char: str) -> bool:
    kind, value = step
    if kind == "lit":
        return value == char
    return value == "any" or char != "/"


def _closure(pattern: tuple[Step, ...], positions: frozenset[int]) -> frozenset[int]:
    """``positions`` and every position reached by letting ``star`` steps match nothing."""
    found = set(positions)
    for start in sorted(positions):
        position = start
        while position < len(pattern) and pattern[position][0] == "star":
            position += 1
            found.add(position)
    return frozenset(found)


def _advance(pattern: tuple[Step, ...], positions: frozenset[int], char: str) -> frozenset[int]:
    moved = set()
    for position in positions:
        if position < len(pattern) and _accepts(pattern[position], char):
            moved.add(position if pattern[position][0] == "star" else position + 1)
    return _closure(pattern, frozenset(moved))


@dataclass(frozen=True, slots=True)
class Coverage:
    """How the requests one route key serves meet a list of patterns."""

    reached: frozenset[int]  # the patterns some of those requests match
    gap: bool  # some of those requests match no pattern


def coverage(served: tuple[Step, ...], patterns: tuple[tuple[Step, ...], ...]) -> Coverage:
    """Which ``patterns`` meet the language ``served``, and whether any of it escapes them all.

    Both sides run as sets of positions over one character at a time. From each
    set of positions only a few characters lead to different places: the
    literals due there, ``/``, and any other character (NUL stands for all of
    those, as no pattern holds it). Past :data:`MAX_COVERAGE_STATES` the answer
    is "a gap and every pattern reached", the strictest, so a huge rule set fails
    closed.
    """
    start = (
        _closure(served, frozenset({0})),
        tuple(_closure(pattern, frozenset({0})) for pattern in patterns),
    )
    reached: set[int] = set()
    gap = False
    seen = {start}
    todo = [start]
    while todo:
        if len(seen) > MAX_COVERAGE_STATES:
            return Coverage(frozenset(range(len(patterns))), True)
        mine, theirs = todo.pop()
        if len(served) in mine:
            done = {k for k, at in enumerate(theirs) if len(patterns[k]) in at}
            reached |= done
            gap = gap or not done
        for char in _next_chars(served, mine, patterns, theirs):
            state = (_advance(served, mine, char), tuple(
                _advance(pattern, at, char) for pattern, at in zip(patterns, theirs, strict=True)
            ))  # fmt: skip
            if state[0] and state not in seen:
                seen.add(state)
                todo.append(state)
    return Coverage(frozenset(reached), gap)


def _next_chars(
    served: tuple[Step, ...],
    mine: frozenset[int],
    patterns: tuple[tuple[Step, ...], ...],
    theirs: tuple[frozenset[int], ...],
) -> set[str]:
    """The characters that can lead somewhere different from these positions."""
    chars = {"/", "\x00"}
    for pattern, positions in ((served, mine), *zip(patterns, theirs, strict=True)):
        for position in positions:
            if position < len(pattern) and pattern[position][0] == "lit":
                chars.add(pattern[position][1])
    return chars
