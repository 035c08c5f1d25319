"""One configured authorizer: event -> request -> verified claims -> decision -> response.

:class:`Authorizer` runs the parts :func:`authorizer.wiring.assemble` builds (key
caches, verifiers, rules, the response shaper) and turns each event into an answer
API Gateway understands. A verified token must then pass its binding
(:mod:`authorizer.binding.confirmation`: a DPoP proof or a client certificate, as its
issuer's policy says), on every request. It holds no global state: :mod:`authorizer.app`
creates the one the Lambda uses.

Outcomes and what API Gateway makes of them:

============  ==========================================  ======
outcome       response                                    status
============  ==========================================  ======
allow         IAM Allow (see below) / isAuthorized          200
deny          IAM Deny for the route / isAuthorized false   403
unauthorized  ``raise Exception("Unauthorized")``, on       401
              every API kind (HTTP API simple responses
              too: ``isAuthorized: false`` would be a 403)
error         any other exception                           500
============  ==========================================  ======

Without route rules, the policy allows or denies the whole stage. With them
(``AUTHORIZER_RULES``) it allows every route the token passes and explicitly
denies every route it fails, so that the policy API Gateway caches for the
token answers every route the way a fresh evaluation would; the decision for
the requested route is taken from the same evaluation. HTTP API simple
responses carry no policy: they answer for the requested route only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from .binding.confirmation import check_binding
from .config.issuers import IssuerSettings
from .config.settings import Settings
from .decision import Allowed, Decision, Denied, Failed, Unauthorized
from .errors import (
    AccessDenied,
    IntrospectionUnavailable,
    KeysUnavailable,
    ReplayStoreUnavailable,
    TokenError,
)
from .gateway.events import AuthRequest, EventKind, api_request_id, to_request
from .keys.fetch import JsonFetcher
from .observe import Telemetry
from .respond import AuthorizerUnavailable
from .tokens.verify import VerifiedToken
from .wiring import TrustedIssuer, assemble

if TYPE_CHECKING:  # loaded by the rules file parser, only where access rules exist
    from .access.rules import Reach, Subject, Verdicts
    from .binding.replay import ReplayStore
    from .tokens.introspect import Introspector
    from .wellknown import MetadataServer

__all__ = ["SERVICE", "Authorizer", "AuthorizerUnavailable", "Decision", "TrustedIssuer"]

SERVICE = "oidc-authorizer"
#: The longest the init waits for key sets, all issuers together (Lambda allows 10 s).
PREFETCH_BUDGET_SECONDS = 6.0


class Authorizer:
    """One configured authorizer: the pipeline over the parts :func:`wiring.assemble` builds."""

    def __init__(
        self,
        settings: Settings,
        *,
        logger: Logger,
        metrics: Metrics,
        fetcher: JsonFetcher | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        replay_store: ReplayStore | None = None,
    ) -> None:
        self.settings = settings
        self.telemetry = Telemetry(logger, metrics)
        self._clock = clock
        parts = assemble(
            settings,
            self.telemetry,
            fetcher=fetcher,
            clock=clock,
            monotonic=monotonic,
            replay_store=replay_store,
        )
        self.issuers = parts.issuers
        self._tokens, self._responder = parts.tokens, parts.responder
        self._shared, self._proofs = parts.shared, parts.proofs
        self._opaque = parts.opaque
        self.route_rules = settings.route_rules
        #: Called with every decision before it is shaped (for local tools that show why).
        self.on_decision: Callable[[Decision], None] | None = None
        self._metadata: MetadataServer | None = None  # built on the first metadata request

    def prefetch(self, budget: float = PREFETCH_BUDGET_SECONDS) -> bool:
        """Warm every issuer's key cache at init, concurrently, within ``budget`` seconds in all.

        True when every issuer's keys arrived in time. A failure is logged, never
        raised. A fetch still running when the budget is spent goes on in the
        background, and the first request that needs its keys waits for it
        (single-flight), so several slow issuers cannot add up past Lambda's
        10-second init limit.
        """
        fetches = [
            threading.Thread(target=trusted.keys.prefetch, name="prefetch", daemon=True)
            for trusted in self.issuers
        ]
        for fetch in fetches:
            fetch.start()
        deadline = time.monotonic() + budget  # real time: it bounds the real init
        for fetch in fetches:
            fetch.join(max(0.0, deadline - time.monotonic()))
        return all(trusted.keys.loaded for trusted in self.issuers)

    def after_restore(self) -> None:
        """Refresh what a Lambda SnapStart snapshot froze: the key sets and verified tokens.

        The authorizer keeps no random state of its own (no seeds), and a
        connection kept alive from before the snapshot is closed, never reused.
        """
        from .keys.fetch import close_kept_connections  # noqa: PLC0415 - SnapStart only

        close_kept_connections()
        for trusted in self.issuers:
            trusted.keys.expire()
            trusted.verifier.forget()

    def metadata(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Answer a proxy integration's event: the resource's metadata route (RFC 9728)."""
        if self._metadata is None:
            from .wellknown import MetadataServer  # noqa: PLC0415 - served rarely, cached by clients

            self._metadata = MetadataServer(self.settings)
        return self._metadata.answer(event)

    def handle(self, event: object) -> dict[str, Any]:
        """Answer one authorizer event (see the module docstring for the mapping)."""
        try:
            decision = self.decide(event)
        except Exception as exc:  # noqa: BLE001 - a bug must fail closed, as a 500
            self.telemetry.unexpected()
            decision = Failed(reason="internal_error", message=type(exc).__name__)
        self.telemetry.decision(
            decision, with_route=self.route_rules is not None, request_id=api_request_id(event)
        )
        if self.on_decision is not None:
            self.on_decision(decision)
        return self._responder.respond(decision)

    def decide(self, event: object) -> Decision:
        """Run the checks and return the decision; raises only on bugs."""
        settings = self.settings
        try:
            request = to_request(
                event, header=settings.token_header, query_parameter=settings.token_query_parameter
            )
        except TokenError as exc:
            return Unauthorized(reason=exc.reason, message=str(exc))
        if request.token is None:
            return Unauthorized(
                reason=request.token_problem or "missing_token",
                message=request.token_problem_detail,
                kind=request.kind,
            )
        return self._verify(request, request.token)

    def _verify(self, request: AuthRequest, token: str) -> Decision:
        """Verify the token with its issuer's keys and its binding, then decide for it."""
        if self._opaque is not None and token.count(".") != 2:  # not a JWS: never introspected
            return self._introspected(request, token, *self._opaque)
        kind = request.kind
        issuer: str | None = None
        try:
            choice = self._tokens.choose(token)
            trusted = choice.issuer
            issuer = trusted.settings.issuer
            verified = choice.verify()
            policy = trusted.settings.binding
            bound = check_binding(policy, request, token, verified.claims, self._proofs)
        except TokenError as exc:
            return Unauthorized(
                reason=exc.reason,
                kind=kind,
                message=str(exc),
                details=exc.details,
                issuer=issuer,
            )
        except (KeysUnavailable, ReplayStoreUnavailable) as exc:
            return Failed(reason=exc.reason, kind=kind, message=str(exc), issuer=issuer)
        return self._authorize(request, verified, trusted.settings, bound)

    def _introspected(
        self, request: AuthRequest, token: str, trusted: TrustedIssuer, introspector: Introspector
    ) -> Decision:
        """An opaque token, as its issuer's introspection endpoint vouches for it (RFC 7662)."""
        issuer = trusted.settings.issuer
        try:
            verified = introspector.verify(token)
        except TokenError as exc:
            return Unauthorized(
                reason=exc.reason, kind=request.kind, message=str(exc), issuer=issuer
            )
        except IntrospectionUnavailable as exc:
            return Failed(reason=exc.reason, kind=request.kind, message=str(exc), issuer=issuer)
        return self._authorize(request, verified, trusted.settings, None)

    def _authorize(
        self,
        request: AuthRequest,
        verified: VerifiedToken,
        settings: IssuerSettings,
        bound: str | None,
    ) -> Decision:
        """Decide for a verified token: issuer-wide rules, then the route rules."""
        details = {"binding": bound} if bound else {}
        kind, arn, issuer = request.kind, request.arn, settings.issuer
        template = settings.template  # a tenant's token: its tenant goes to the rules and on
        tenant = template.tenant_of(verified.claims.get("iss")) if template is not None else None
        if not settings.requirements and self.route_rules is None:
            return Allowed(
                kind=kind, token=verified, issuer=issuer, arn=arn, details=details, tenant=tenant
            )
        from .access.rules import check_access  # noqa: PLC0415 - loaded already, with the rules

        now = self._clock()
        try:
            subject = self._subject(verified, settings, tenant)
            check_access(subject, settings.requirements, now)
        except TokenError as exc:  # a scope or role claim of the wrong type
            return Unauthorized(
                kind=kind,
                token=verified,
                issuer=issuer,
                reason=exc.reason,
                message=str(exc),
                details=details,
            )
        except AccessDenied as exc:
            # Issuer-wide rules hold on every route: the whole stage is denied.
            return Denied(
                kind=kind,
                token=verified,
                issuer=issuer,
                reason=exc.reason,
                arn=arn,
                message=str(exc),
                details=details,
                failure=exc,
                tenant=tenant,
            )
        verdicts = self._verdicts(subject, now)
        failure = None if verdicts is None else self._failure(verdicts, request)
        if failure is not None:
            return Denied(
                kind=kind, token=verified, issuer=issuer, reason=failure.reason, arn=arn,
                message=str(failure), details=details, verdicts=verdicts, failure=failure,
                tenant=tenant,
            )  # fmt: skip
        return Allowed(
            kind=kind, token=verified, issuer=issuer, arn=arn, details=details, verdicts=verdicts,
            tenant=tenant,
        )  # fmt: skip

    def _failure(self, verdicts: Verdicts, request: AuthRequest) -> AccessDenied | None:
        """Why the route rules deny: for this route, or for every request a simple response serves.

        API Gateway reuses an HTTP API simple response for every request with the
        same identity-source values; the answer must then hold for all of them.
        """
        shared = self._shared
        if shared is None or request.kind is not EventKind.HTTP_V2:
            return verdicts.for_route(request.arn.route)
        reach, new = shared.reach(request.route_key)
        if new and reach.merged:
            self._warn_shared(request.route_key, reach)
        return verdicts.for_reach(reach)

    def _warn_shared(self, route_key: str | None, reach: Reach) -> None:
        """Once per route key: why its simple responses answer for the strictest request."""
        rules = self.route_rules.routes if self.route_rules is not None else ()
        names = ", ".join(repr(rules[index].label) for index in reach.rules)
        served = f"route key {route_key!r}" if self.settings.simple_response_cache == "route" else (
            "every route (AUTHORIZER_SIMPLE_RESPONSE_CACHE=api)"
        )  # fmt: skip
        self.telemetry.warning(
            f"API Gateway reuses one simple response for {served}, whose requests the route"
            f" rules treat differently ({names}"
            f"{', and requests no rule matches' if reach.gap else ''}): the authorizer answers"
            " for the strictest of them. Give each method and path its own route with"
            " $context.routeKey among the identity sources (AUTHORIZER_SIMPLE_RESPONSE_CACHE="
            "route), turn the authorizer cache off (=off), or use IAM responses"
            " (AUTHORIZER_HTTP_API_RESPONSE=iam)",
            reason="shared_simple_response",
            route_key=route_key,
        )

    @staticmethod
    def _subject(token: VerifiedToken, issuer: IssuerSettings, tenant: str | None) -> Subject:
        from .access.rules import subject_of  # noqa: PLC0415 - loaded already, with the rules

        return subject_of(
            token.claims,
            issuer=issuer.issuer,
            scope_claims=issuer.scope_claims,
            role_claims=issuer.role_claims,
            tenant=tenant,
        )

    def _verdicts(self, subject: Subject, now: float) -> Verdicts | None:
        rules = self.route_rules
        return None if rules is None else rules.evaluate(subject, now)
