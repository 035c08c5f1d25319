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

from .errors import ConfigError

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
#: The longest ``arn:...:{api}/{stage}/`` prefix :func:`authorizer.policy.parse_arn` accepts.
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
