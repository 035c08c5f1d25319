"""The response step: every decision becomes the answer API Gateway understands.

An allow or a deny becomes an IAM policy (or, for HTTP API payload 2.0 with
simple responses, ``isAuthorized``) with the verified claims as its context; an
unauthorized decision raises the exact ``Unauthorized`` error (401, on every API
kind: ``isAuthorized: false`` would be a 403), and an error raises
:class:`AuthorizerUnavailable` (500).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .claims import RESOURCE_METADATA_KEY, TENANT_KEY
from .decision import Allowed, Decision, Denied, Failed, Unauthorized
from .gateway.challenges import CONTEXT_KEY, MAX_CHALLENGE, Challenges
from .gateway.context import MAX_CONTEXT_BYTES, ContextSettings, build_context
from .gateway.events import EventKind
from .gateway.responses import iam_response, simple_response
from .tokens.claimchecks import principal_of
from .tokens.verify import VerifiedToken

if TYPE_CHECKING:  # loaded by the rules file parser, only where access rules exist
    from .access.rules import RuleSet

#: API Gateway's response limit for WebSocket authorizers, kept for every API kind.
MAX_RESPONSE_BYTES = 8 * 1024


UNAUTHORIZED = "Unauthorized"  # API Gateway maps exactly this message to 401


class AuthorizerUnavailable(RuntimeError):
    """Raised to make API Gateway answer 500: we cannot decide, the client should retry."""


class Responder:
    """Shapes decisions for one configuration (response kind, principal, context)."""

    def __init__(
        self,
        *,
        simple_responses: bool,
        principal_claims: tuple[str, ...],
        usage_identifier_claim: str | None,
        context: ContextSettings,
        route_rules: RuleSet | None,
        challenges: Challenges | None = None,
        tenants: bool = False,
    ) -> None:
        """``simple_responses``: HTTP API 2.0 events get ``isAuthorized`` (else IAM policies).

        With ``challenges`` (a protected resource), every policy that can deny a route
        carries the 403's ``WWW-Authenticate`` value in its context, for the gateway response.
        ``tenants``: an issuer template is trusted, whose tokens' tenant goes in the context.
        """
        self._simple = simple_responses
        self._principal_claims = principal_claims
        self._usage_claim = usage_identifier_claim
        self._context_bytes = context_budget(route_rules, challenges=challenges, tenants=tenants)
        self._selection = context if context.active else None
        self._challenges = challenges
        #: For the integration's own challenges (``authorizer.claims.challenge``).
        self._metadata_url = challenges.metadata_url if challenges is not None else None

    def respond(self, decision: Decision) -> dict[str, Any]:
        """Shape an allow or a deny into a new response; raise for a 401 or a 500.

        Every response is built for its request alone and shares nothing with
        another: a caller may change what it gets without changing the next answer.
        """
        if isinstance(decision, Unauthorized):
            # A 401 on every API kind, so that clients know to get a new token.
            raise Exception(UNAUTHORIZED)  # noqa: TRY002 - API Gateway matches this exact message
        if isinstance(decision, Failed):
            raise AuthorizerUnavailable(f"authorizer cannot decide: {decision.reason}")
        return self._shape(decision)

    def _shape(self, decision: Allowed | Denied) -> dict[str, Any]:
        token, arn, verdicts = decision.token, decision.arn, decision.verdicts
        allowed = isinstance(decision, Allowed)
        if decision.kind is EventKind.HTTP_V2 and self._simple:
            context = self._context(token, decision.tenant) if allowed else None
            return simple_response(allowed, context)
        if verdicts is None:
            allow = ["*"] if allowed else []
            deny: list[str] = []
        else:
            # The whole policy, even when this route is denied: API Gateway
            # caches it for the token and applies it to the other routes too.
            allow, deny = verdicts.allowed_suffixes(), verdicts.denied_suffixes()
        context = self._context(token, decision.tenant) if allow else None
        challenges = self._challenges
        if challenges is not None and (not allowed or verdicts is not None):
            context = {**(context or {}), CONTEXT_KEY: _challenge(challenges, decision)}
        return iam_response(
            self._principal(token),
            arn,
            allow=allow,
            deny=deny,
            context=context,
            usage_identifier_key=self._usage_key(decision) if allow else None,
        )

    def _context(self, token: VerifiedToken, tenant: str | None) -> dict[str, Any]:
        context = build_context(token.claims, self._context_bytes, self._selection)
        if self._metadata_url is not None:
            context[RESOURCE_METADATA_KEY] = self._metadata_url
        if tenant is not None:  # at most 64 characters (tokens.tenants): within the reserve
            context[TENANT_KEY] = tenant
        return context

    def _principal(self, token: VerifiedToken) -> str:
        # TokenClaims.check made sure one of the principal claims is a non-empty string.
        return principal_of(token.claims, self._principal_claims) or ""

    def _usage_key(self, decision: Allowed | Denied) -> str | None:
        """The usage-plan API key, for REST APIs only (the others have no usage plans)."""
        name = self._usage_claim
        if name is None:
            return None
        if decision.kind not in (EventKind.REST_TOKEN, EventKind.REST_REQUEST):
            return None
        value = decision.token.claims.get(name)
        return value if isinstance(value, str) and value else None


def _challenge(challenges: Challenges, decision: Allowed | Denied) -> str:
    """The 403 challenge for whichever route of this cached policy API Gateway denies."""
    verdicts = decision.verdicts
    if verdicts is not None:
        failures = verdicts.refusals()
    else:
        failure = decision.failure if isinstance(decision, Denied) else None
        failures = [failure] if failure is not None else []
    return challenges.denied(failures)


def context_budget(
    route_rules: RuleSet | None, *, challenges: Challenges | None = None, tenants: bool = False
) -> int:
    """Bytes the claims context may take, leaving room for the policy, challenges and tenant."""
    reserve = len(TENANT_KEY) + 72 if tenants else 0  # a tenant: 64 characters at most
    if challenges is not None:  # the 403's challenge, and the metadata URL for the integration
        reserve += MAX_CHALLENGE + len(CONTEXT_KEY) + 8
        reserve += len(challenges.metadata_url) + len(RESOURCE_METADATA_KEY) + 8
    if route_rules is None:
        return MAX_CONTEXT_BYTES - reserve
    room = MAX_RESPONSE_BYTES - 1024 - reserve - route_rules.worst_case_policy_bytes()
    return max(1024, min(MAX_CONTEXT_BYTES - reserve, room))
