"""Authorization: what a verified token may call, as rules-as-data.

A verified token becomes a :class:`Subject` (its issuer, claims, granted
scopes and roles, read the way its provider writes them). Access rules check
a subject and raise an :class:`~authorizer.errors.AccessDenied` (403) on
failure, like the claim rules of :mod:`authorizer.tokens.claimchecks` do for 401s.

A :class:`RuleSet` maps route patterns to rules. Its semantics are IAM's, so
that the policy API Gateway caches answers every route as a fresh evaluation
would (see :meth:`Verdicts.for_route`):

* a request is allowed when every rule whose pattern matches it passes, and
  at least one matches (or the rule set's default is ``allow``);
* each passing rule becomes an Allow, each failing one an explicit Deny,
  and an explicit Deny wins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import (
    AccessDenied,
    AuthenticationTooOld,
    ClaimMismatch,
    InsufficientScope,
    InvalidClaims,
    IssuerNotAllowed,
    MissingRole,
    NoMatchingRoute,
    TenantNotAllowed,
)
from .routes import MAX_ARN_PREFIX, RoutePattern, coverage, route_key_steps, rule_steps

ClaimPath = tuple[str, ...]
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Subject:
    """A verified token, as access rules see it."""

    issuer: str  # the configured issuer (an issuer template, for a tenant's token)
    claims: Mapping[str, Any]
    scopes: frozenset[str]
    roles: frozenset[str]
    tenant: str | None = None  # the tenant in iss, for an issuer template's token


def subject_of(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    scope_claims: Sequence[str],
    role_claims: Sequence[ClaimPath],
    tenant: str | None = None,
) -> Subject:
    """Read scopes and roles from where the issuer's provider puts them."""
    return Subject(
        issuer=issuer,
        tenant=tenant,
        claims=claims,
        scopes=granted_scopes(claims, scope_claims),
        roles=granted_roles(claims, role_claims),
    )


def claim_at(claims: Mapping[str, Any], path: ClaimPath) -> Any:
    """The value at ``path`` (object keys, outermost first), or ``_MISSING``."""
    value: Any = claims.get(path[0], _MISSING)  # claims: any mapping (a read-only view)
    for name in path[1:]:
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(name, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def granted_scopes(claims: Mapping[str, Any], names: Sequence[str]) -> frozenset[str]:
    """Scopes from each of ``names``: a space-separated string (``scope``) or an array.

    ``scp`` is a string on Entra ID and an array on Okta; Auth0 lists RBAC
    permissions in a ``permissions`` array.
    """
    granted: set[str] = set()
    for name in names:
        value = claims.get(name)
        if isinstance(value, str):
            granted.update(value.split())
        elif isinstance(value, list):
            granted.update(item for item in value if isinstance(item, str))
        elif value is not None:
            raise InvalidClaims(f"{name} is neither a string nor an array")
    return frozenset(granted)


def granted_roles(claims: Mapping[str, Any], paths: Sequence[ClaimPath]) -> frozenset[str]:
    """Roles (or groups) from each claim path: an array of strings, or one string."""
    roles: set[str] = set()
    for path in paths:
        value = claim_at(claims, path)
        if isinstance(value, str):
            roles.add(value)
        elif isinstance(value, list):
            roles.update(item for item in value if isinstance(item, str))
    return frozenset(roles)


class AccessRule(Protocol):
    """A check of a subject at time ``now``; raises :class:`AccessDenied` when it fails."""

    def check(self, subject: Subject, now: float) -> None: ...


@dataclass(frozen=True, slots=True)
class ScopesAll:
    scopes: frozenset[str]

    def check(self, subject: Subject, now: float) -> None:
        missing = self.scopes - subject.scopes
        if missing:
            raise InsufficientScope(
                f"missing required scopes: {' '.join(sorted(missing))}", scopes=self.scopes
            )


@dataclass(frozen=True, slots=True)
class ScopesAny:
    scopes: frozenset[str]

    def check(self, subject: Subject, now: float) -> None:
        if self.scopes.isdisjoint(subject.scopes):
            raise InsufficientScope(
                f"needs one of the scopes: {' '.join(sorted(self.scopes))}", scopes=self.scopes
            )


@dataclass(frozen=True, slots=True)
class RolesAll:
    roles: frozenset[str]

    def check(self, subject: Subject, now: float) -> None:
        missing = self.roles - subject.roles
        if missing:
            raise MissingRole(f"missing required roles: {' '.join(sorted(missing))}")


@dataclass(frozen=True, slots=True)
class RolesAny:
    roles: frozenset[str]

    def check(self, subject: Subject, now: float) -> None:
        if self.roles.isdisjoint(subject.roles):
            raise MissingRole(f"needs one of the roles: {' '.join(sorted(self.roles))}")


def same_json(left: Any, right: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``, arrays and objects compare deeply."""
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same_json, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_json(left[k], right[k]) for k in left)
    return type(left) is type(right) and left == right


def _acr_values(path: ClaimPath, values: tuple[Any, ...]) -> tuple[str, ...]:
    """The authentication context classes a rule on ``acr`` accepts (none for other claims)."""
    if path != ("acr",):
        return ()
    return tuple(value for value in values if isinstance(value, str))


def _path_text(path: ClaimPath) -> str:
    return ".".join(path) if len(path) > 1 else path[0]


@dataclass(frozen=True, slots=True)
class ClaimEquals:
    """The claim at ``path`` is present and equal to ``value`` (JSON equality)."""

    path: ClaimPath
    value: Any

    def check(self, subject: Subject, now: float) -> None:
        if not same_json(claim_at(subject.claims, self.path), self.value):
            raise ClaimMismatch(
                f"{_path_text(self.path)} is not {json.dumps(self.value)}",
                acr_values=_acr_values(self.path, (self.value,)),
            )


@dataclass(frozen=True, slots=True)
class ClaimIsNot:
    """The claim at ``path`` is absent or differs from ``value`` (e.g. not anonymous)."""

    path: ClaimPath
    value: Any

    def check(self, subject: Subject, now: float) -> None:
        if same_json(claim_at(subject.claims, self.path), self.value):
            raise ClaimMismatch(f"{_path_text(self.path)} is {json.dumps(self.value)}")


@dataclass(frozen=True, slots=True)
class ClaimIn:
    """The claim at ``path`` is one of ``values``, or is an array holding one of them."""

    path: ClaimPath
    values: tuple[Any, ...]

    def check(self, subject: Subject, now: float) -> None:
        value = claim_at(subject.claims, self.path)
        candidates = value if isinstance(value, list) else (value,)
        if value is _MISSING or not any(
            same_json(item, allowed) for item in candidates for allowed in self.values
        ):
            raise ClaimMismatch(
                f"{_path_text(self.path)} holds none of the accepted values",
                acr_values=_acr_values(self.path, self.values),
            )


@dataclass(frozen=True, slots=True)
class MaxAuthAge:
    """``auth_time`` is present and at most ``seconds`` ago (step-up; no ``auth_time``: fail)."""

    seconds: int

    def check(self, subject: Subject, now: float) -> None:
        value = subject.claims.get("auth_time")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AuthenticationTooOld("auth_time is required on this route", max_age=self.seconds)
        if now - value > self.seconds:
            raise AuthenticationTooOld(
                f"authenticated more than {self.seconds} seconds ago", max_age=self.seconds
            )


@dataclass(frozen=True, slots=True)
class IssuerIn:
    """The token comes from one of ``issuers`` (routes that only some issuers may call)."""

    issuers: frozenset[str]

    def check(self, subject: Subject, now: float) -> None:
        if subject.issuer not in self.issuers:
            raise IssuerNotAllowed("this issuer's tokens are not accepted on this route")


@dataclass(frozen=True, slots=True)
class TenantIn:
    """The token's tenant (of an issuer template) is one of ``tenants`` (per-tenant routes)."""

    tenants: frozenset[str]

    def check(self, subject: Subject, now: float) -> None:
        if subject.tenant not in self.tenants:
            raise TenantNotAllowed("this tenant's tokens are not accepted on this route")


def _step_up(route: RouteRule) -> list[AccessDenied]:
    """The step-up requirements of ``route``, as the refusals they would give."""
    found: list[AccessDenied] = []
    for rule in route.requirements:
        if isinstance(rule, MaxAuthAge):
            found.append(AuthenticationTooOld("step-up", max_age=rule.seconds))
        elif isinstance(rule, ClaimIn | ClaimEquals):
            values = rule.values if isinstance(rule, ClaimIn) else (rule.value,)
            if acr := _acr_values(rule.path, values):
                found.append(ClaimMismatch("step-up", acr_values=acr))
    return found


def check_access(subject: Subject, rules: Sequence[AccessRule], now: float) -> None:
    """Apply ``rules`` in order; the first failing rule raises."""
    for rule in rules:
        rule.check(subject, now)


@dataclass(frozen=True, slots=True)
class RouteRule:
    """Requirements for the routes that match one of ``patterns``."""

    label: str  # where the rule was written, for messages: ``rules.toml route 3``
    patterns: tuple[RoutePattern, ...]
    requirements: tuple[AccessRule, ...]

    def matches(self, route: str) -> bool:
        return any(pattern.matches(route) for pattern in self.patterns)

    @property
    def time_dependent(self) -> bool:
        return any(isinstance(rule, MaxAuthAge) for rule in self.requirements)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Route rules and what happens to routes none of them match."""

    routes: tuple[RouteRule, ...]
    default_allow: bool = False

    def evaluate(self, subject: Subject, now: float) -> Verdicts:
        """Check every route rule against ``subject`` (each rule's first failure, or None)."""
        failures: list[AccessDenied | None] = []
        for route in self.routes:
            try:
                check_access(subject, route.requirements, now)
            except AccessDenied as exc:
                failures.append(exc)
            else:
                failures.append(None)
        return Verdicts(self, tuple(failures))

    @property
    def time_dependent(self) -> bool:
        """True when a verdict can change with time alone (``max_auth_age``)."""
        return any(route.time_dependent for route in self.routes)

    def worst_case_policy_bytes(self) -> int:
        """An upper bound on the serialized statements of any policy this set can produce."""
        per_resource = MAX_ARN_PREFIX + 3  # quotes and comma around each resource
        suffixes = [pattern.suffix for route in self.routes for pattern in route.patterns]
        resources = sum(per_resource + len(suffix) for suffix in suffixes)
        stage_allow = per_resource + 1 if self.default_allow else 0
        # Two statements' fixed text: {"Action":"execute-api:Invoke","Effect":"Allow","Resource":[]}
        return resources + stage_allow + 2 * 64


@dataclass(frozen=True, slots=True)
class Verdicts:
    """The result of :meth:`RuleSet.evaluate` for one subject."""

    rule_set: RuleSet
    failures: tuple[AccessDenied | None, ...]

    def allowed_suffixes(self) -> list[str]:
        """Resource suffixes to Allow: every pattern of every passing rule (and ``*``)."""
        suffixes = ["*"] if self.rule_set.default_allow else []
        for route, failure in zip(self.rule_set.routes, self.failures, strict=True):
            if failure is None:
                suffixes.extend(pattern.suffix for pattern in route.patterns)
        return list(dict.fromkeys(suffixes))

    def denied_suffixes(self) -> list[str]:
        """Resource suffixes to Deny explicitly: every pattern of every failing rule."""
        suffixes = [
            pattern.suffix
            for route, failure in zip(self.rule_set.routes, self.failures, strict=True)
            if failure is not None
            for pattern in route.patterns
        ]
        return list(dict.fromkeys(suffixes))

    def refusals(self) -> list[AccessDenied]:
        """Why each denied route is denied, for a challenge that must hold for all of them.

        A route refused for a step-up rule (``max_auth_age``, a rule on ``acr``) adds its
        other step-up rules too: its first failure alone would ask for a new sign-in that
        the next rule refuses again.
        """
        found: list[AccessDenied] = []
        for route, failure in zip(self.rule_set.routes, self.failures, strict=True):
            if failure is None:
                continue
            found.append(failure)
            if isinstance(failure, AuthenticationTooOld) or (
                isinstance(failure, ClaimMismatch) and failure.acr_values
            ):
                found.extend(_step_up(route))
        return found

    def for_route(self, route: str) -> AccessDenied | None:
        """Why ``route`` is denied (the first failing rule that matches it), or None if allowed."""
        matched = False
        for rule, failure in zip(self.rule_set.routes, self.failures, strict=True):
            if rule.matches(route):
                if failure is not None:
                    return failure
                matched = True
        if matched or self.rule_set.default_allow:
            return None
        return NoMatchingRoute("no rule allows this route")

    def for_reach(self, reach: Reach) -> AccessDenied | None:
        """Why an answer reused for every request of ``reach`` must deny, or None (the strictest).

        The first failing rule that any of those requests matches, as
        :meth:`for_route` would find it for the request that matches it; else
        ``no_matching_route`` when some request matches no rule and the default is deny.
        """
        for index in reach.rules:
            failure = self.failures[index]
            if failure is not None:
                return failure
        if reach.gap and not self.rule_set.default_allow:
            return NoMatchingRoute("a request this answer is reused for matches no rule")
        return None


#: Route keys whose reach is remembered; an API has few routes.
_MAX_ROUTE_KEYS = 512


@dataclass(frozen=True, slots=True)
class Reach:
    """The route rules that the requests sharing one cached answer meet."""

    rules: tuple[int, ...]  # indices into RuleSet.routes: rules some of the requests match
    gap: bool  # some of the requests match no rule
    merged: bool  # the rules do not treat all of the requests alike


class SharedAnswers:
    """Per route key, the :class:`Reach` of a simple response API Gateway reuses (memoised).

    ``cache`` is :data:`authorizer.config.settings.SimpleResponseCache`: ``route`` when the
    route key is in the API's cache key, else (``api``) every request shares the answer.

    Computed once per route key (an exact comparison of route languages, see
    :func:`authorizer.access.routes.coverage`), so the request path pays a dictionary lookup.
    """

    def __init__(self, rule_set: RuleSet, cache: str) -> None:
        self.rule_set = rule_set
        self.cache = cache
        self._patterns = [
            tuple(rule_steps(pattern.suffix) for pattern in route.patterns)
            for route in rule_set.routes
        ]
        self._known: dict[str, Reach] = {}

    def reach(self, route_key: str | None) -> tuple[Reach, bool]:
        """The reach of the answer for a request of ``route_key``, and whether it is new here."""
        key = route_key if self.cache == "route" and route_key else "$default"
        known = self._known.get(key)
        if known is not None:
            return known, False
        reach = self._compute(key)
        if len(self._known) < _MAX_ROUTE_KEYS:
            self._known[key] = reach
        return reach, True

    def _compute(self, route_key: str) -> Reach:
        served = route_key_steps(route_key)
        flat = [steps for patterns in self._patterns for steps in patterns]
        owner = [index for index, patterns in enumerate(self._patterns) for _ in patterns]
        met = coverage(served, tuple(flat))
        rules = tuple(sorted({owner[k] for k in met.reached}))
        partial = any(coverage(served, self._patterns[index]).gap for index in rules)
        return Reach(rules=rules, gap=met.gap, merged=partial or (met.gap and bool(rules)))
