"""One configured authorizer: event -> request -> verified claims -> decision -> response.

:class:`Authorizer` wires the key cache, the verifier and the rules together
and turns each event into an answer API Gateway understands. It holds no
global state: :mod:`authorizer.app` creates the one the Lambda uses.

Outcomes and what API Gateway makes of them:

============  ==========================================  ======
outcome       response                                    status
============  ==========================================  ======
allow         IAM Allow for the whole stage / isAuthorized  200
deny          IAM Deny for the whole stage / isAuthorized   403
unauthorized  ``raise Exception("Unauthorized")``           401
              (``{"isAuthorized": false}`` for simple)      (403)
error         any other exception                           500
============  ==========================================  ======
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics

from .config import Settings
from .context import build_context
from .errors import AccessDenied, KeysUnavailable, TokenError
from .events import AuthRequest, EventKind, to_request
from .fetch import HttpFetcher, JsonFetcher
from .jwks import IssuerKeySource, KeyCache
from .observe import Telemetry
from .policy import ApiArn, iam_response, parse_arn, simple_response
from .rules import (
    AudienceAnyOf,
    HasScopes,
    IssuedInPast,
    IssuerIs,
    NotAnIdToken,
    NotBefore,
    NotExpired,
    PrincipalPresent,
    RegisteredClaimTypes,
    Rule,
    check_claims,
    principal_of,
)
from .verify import TokenVerifier, VerifiedToken

Outcome = Literal["allow", "deny", "unauthorized", "error"]
SERVICE = "oidc-authorizer"
UNAUTHORIZED = "Unauthorized"  # API Gateway maps exactly this message to 401


class AuthorizerUnavailable(RuntimeError):
    """Raised to make API Gateway answer 500: we cannot decide, the client should retry."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request, before it is shaped into a response."""

    outcome: Outcome
    reason: str
    kind: EventKind | None = None
    arn: ApiArn | None = None
    token: VerifiedToken | None = None
    message: str = ""
    details: Mapping[str, str] = field(default_factory=dict)


class Authorizer:
    """One configured authorizer: a key cache, a verifier and the rules, wired together."""

    def __init__(
        self,
        settings: Settings,
        *,
        logger: Logger,
        metrics: Metrics,
        fetcher: JsonFetcher | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._telemetry = Telemetry(logger, metrics, settings.issuer)
        self._clock = clock
        source = IssuerKeySource.create(
            settings.issuer,
            settings.discovery_uri,
            fetcher or HttpFetcher(timeout=settings.jwks_fetch_timeout_seconds),
            settings.jwks_uri,
        )
        self.keys = KeyCache(
            source,
            fresh_seconds=settings.jwks_cache_seconds,
            cooldown_seconds=settings.jwks_refresh_cooldown_seconds,
            max_stale_seconds=settings.jwks_max_stale_seconds,
            clock=monotonic,
            on_refresh=self._telemetry.refresh,
        )
        self.verifier = TokenVerifier(
            keys=self.keys,
            algorithms=settings.algorithms,
            rules=token_rules(settings),
            max_token_bytes=settings.max_token_bytes,
            clock=clock,
            leeway=settings.leeway_seconds,
            cache_size=settings.token_cache_size,
            required_typ=settings.required_typ,
        )
        self.access_rules: tuple[Rule, ...] = access_rules(settings)

    def prefetch(self) -> bool:
        """Warm the key cache at init; a failure is logged, never raised."""
        return self.keys.prefetch()

    def after_restore(self) -> None:
        """Refresh what a Lambda SnapStart snapshot froze: the key set and verified tokens.

        The authorizer keeps no random state of its own (no seeds, no pooled
        connections: each fetch opens its own), so nothing else needs renewing.
        """
        self.keys.expire()
        self.verifier.forget()

    def handle(self, event: object) -> dict[str, Any]:
        """Answer one authorizer event (see the module docstring for the mapping)."""
        try:
            decision = self.decide(event)
        except Exception as exc:  # noqa: BLE001 - a bug must fail closed, as a 500
            self._telemetry.unexpected()
            decision = Decision("error", "internal_error", message=type(exc).__name__)
        self._record(decision)
        return self._respond(decision)

    def decide(self, event: object) -> Decision:
        """Run the checks and return the decision; raises only on bugs."""
        try:
            request = self._request(event)
        except TokenError as exc:
            return Decision("unauthorized", exc.reason, message=str(exc))
        if request.token is None:
            reason = request.token_problem or "missing_token"
            return Decision("unauthorized", reason, request.kind)
        try:
            verified = self.verifier.verify(request.token)
            # The ARN is only needed to answer with a policy; parsed after the
            # token so that a flood of junk tokens costs as little as possible.
            arn = parse_arn(request.resource_arn)
        except TokenError as exc:
            return Decision(
                "unauthorized", exc.reason, request.kind, None, None, str(exc), exc.details
            )
        except KeysUnavailable as exc:
            return Decision("error", exc.reason, request.kind, None, None, str(exc))
        try:
            check_claims(verified.claims, self.access_rules, self._clock())
        except AccessDenied as exc:
            return Decision("deny", exc.reason, request.kind, arn, verified, str(exc))
        return Decision("allow", "allowed", request.kind, arn, verified)

    def _request(self, event: object) -> AuthRequest:
        return to_request(
            event,
            header=self.settings.token_header,
            query_parameter=self.settings.token_query_parameter,
        )

    def _respond(self, decision: Decision) -> dict[str, Any]:
        if decision.outcome == "error":
            raise AuthorizerUnavailable(f"authorizer cannot decide: {decision.reason}")
        simple = decision.kind is EventKind.HTTP_V2 and self.settings.http_api_response == "simple"
        if decision.outcome == "allow" and decision.token is not None and decision.arn is not None:
            memo = decision.token.memo
            context = memo.get("context")
            if context is None:
                context = memo["context"] = build_context(decision.token.claims)
            if simple:
                return simple_response(True, context)
            return iam_response(
                self._principal(decision.token),
                "Allow",
                decision.arn,
                context,
                self._usage_key(decision),
            )
        if simple:
            return simple_response(False)
        if decision.outcome == "deny" and decision.token is not None and decision.arn is not None:
            return iam_response(self._principal(decision.token), "Deny", decision.arn)
        raise Exception(UNAUTHORIZED)  # noqa: TRY002 - API Gateway matches this exact message

    def _principal(self, token: VerifiedToken) -> str:
        # PrincipalPresent guarantees one of the claims holds a non-empty string.
        return principal_of(token.claims, self.settings.principal_claims) or ""

    def _usage_key(self, decision: Decision) -> str | None:
        """The usage-plan API key, for REST APIs only (the others have no usage plans)."""
        name = self.settings.usage_identifier_claim
        if name is None or decision.token is None:
            return None
        if decision.kind not in (EventKind.REST_TOKEN, EventKind.REST_REQUEST):
            return None
        value = decision.token.claims.get(name)
        return value if isinstance(value, str) and value else None

    def _record(self, decision: Decision) -> None:
        if self._telemetry.quiet(decision.outcome):
            return
        facts = dict(decision.details)
        claims = None
        if decision.token is not None:
            claims = decision.token.claims
            facts.update(kid=decision.token.kid, alg=decision.token.alg)
        self._telemetry.decision(
            decision.outcome,
            decision.reason,
            event_kind=decision.kind.value if decision.kind else None,
            facts=facts,
            claims=claims,
            detail=decision.message,
        )


def token_rules(settings: Settings) -> tuple[Rule, ...]:
    """Checks that make a token valid at all (failures: 401)."""
    return (
        IssuerIs(settings.issuer),
        AudienceAnyOf(frozenset(settings.audiences)),
        NotExpired(settings.leeway_seconds),
        NotBefore(settings.leeway_seconds),
        IssuedInPast(settings.leeway_seconds),
        PrincipalPresent(settings.principal_claims),
        RegisteredClaimTypes(),
        *((NotAnIdToken(),) if settings.reject_id_tokens else ()),
    )


def access_rules(settings: Settings) -> tuple[Rule, ...]:
    """Checks that decide whether a valid token may call the API (failures: 403)."""
    if not settings.required_scopes:
        return ()
    return (HasScopes(frozenset(settings.required_scopes)),)
