"""Routes of a template whose cached simple response would serve requests the rules split.

API Gateway reuses an HTTP API simple response for every request with the same
identity-source values: with ``$context.routeKey`` among them, every request of
the route (an ``ANY`` route: every method); without it, every route of the API.
Where the route rules treat those requests differently, the authorizer answers
for the strictest (:class:`authorizer.access.rules.SharedAnswers`), which denies some
requests a fresh evaluation would allow. `serve` and `doctor` say so up front.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from authorizer.access.rules import SharedAnswers
from authorizer.config.settings import Settings, load_settings
from authorizer.errors import ConfigError

from .local.apis import apis_of
from .local.template import TemplateError, parameters


def merged_routes(
    template: Mapping[str, Any], values: Mapping[str, str], settings: Settings
) -> list[str]:
    """One line per HTTP API route whose shared answer spans requests the rules treat apart."""
    rules = settings.route_rules
    if rules is None or settings.http_api_response != "simple":
        return []
    try:
        apis = apis_of(template, values)
    except TemplateError:  # no API deployed with these parameters: nothing is cached here
        return []
    lines = []
    for api in apis:
        if api.kind != "http" or not api.simple_responses or api.cache_seconds <= 0:
            continue
        shared = SharedAnswers(rules, "route" if api.identity_route_key else "api")
        for route in api.routes:
            reach, _ = shared.reach(route.key)
            if reach.merged:
                names = ", ".join(rules.routes[index].label for index in reach.rules)
                lines.append(
                    f"{api.name} route {route.key!r}: API Gateway caches one simple response"
                    f" for requests the route rules treat differently ({names}); the authorizer"
                    " answers for the strictest of them. Give each method its own route, or"
                    " set AuthorizerCacheSeconds=0 or HttpApiResponse=iam"
                )
    return lines


def template_check(
    template: Mapping[str, Any], overrides: Mapping[str, str]
) -> Callable[[Settings], list[str]]:
    """:func:`merged_routes` for the template deployed with ``overrides`` (doctor's check)."""
    values = parameters(template, overrides)
    return lambda settings: merged_routes(template, values, settings)


def serve_warnings(
    template: Mapping[str, Any], values: Mapping[str, str], env: Mapping[str, str]
) -> list[str]:
    """:func:`merged_routes` for the authorizer ``env`` that `serve` runs (its ``warnings``).

    A configuration the authorizer refuses gives none: its runtime says why, at its cold start.
    """
    try:
        settings = load_settings(env)
    except ConfigError:
        return []
    return merged_routes(template, values, settings)
