"""The exception tree of the authorizer.

One root, :class:`AuthorizerError`, with a branch per way a request can end:

* :class:`TokenError` - the caller sent no usable token (API Gateway: 401).
* :class:`AccessDenied` - the token is valid but fails an authorization rule (403).
* :class:`KeysUnavailable`, :class:`ReplayStoreUnavailable` - nothing to check
  against (500, clients retry).
* :class:`ConfigError` - the deployment is misconfigured (fails the cold start).

Every request-time error carries a fixed ``reason`` code. Codes are the
vocabulary of logs and metrics, so they never change meaning; messages are for
humans and never contain the token or its signature.
"""

from __future__ import annotations


class AuthorizerError(Exception):
    """Root of every error this package raises on purpose."""

    reason: str = "error"

    def __init__(
        self, message: str, *, reason: str | None = None, details: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        #: Safe, bounded facts for the decision log (``kid``, ``alg``); never the token.
        self.details: dict[str, str] = dict(details or {})


class ConfigError(AuthorizerError):
    """A setting is missing or invalid; the message names the setting."""

    reason = "config_error"


# --- 401: the request carries no token we can accept -------------------------


class TokenError(AuthorizerError):
    """The token is missing, malformed or fails verification (401)."""

    reason = "invalid_token"


class MissingToken(TokenError):
    reason = "missing_token"


class MalformedToken(TokenError):
    """Not a compact JWS we are willing to parse (shape, size, encoding, JSON)."""

    reason = "malformed"


class MalformedEvent(TokenError):
    """The event is not one of the API Gateway authorizer shapes we know."""

    reason = "malformed_event"


class DisallowedAlgorithm(TokenError):
    reason = "disallowed_algorithm"


class UnknownKid(TokenError):
    """No key with the token's ``kid`` in the issuer's key set."""

    reason = "unknown_kid"


class IncompatibleKey(TokenError):
    """The key named by ``kid`` cannot be used with the token's ``alg``."""

    reason = "incompatible_key"


class BadSignature(TokenError):
    reason = "bad_signature"


class InvalidClaims(TokenError):
    """A registered claim is missing or has the wrong type."""

    reason = "invalid_claims"


class Expired(TokenError):
    reason = "expired"


class NotYetValid(TokenError):
    """``nbf`` or ``iat`` lies in the future beyond the leeway."""

    reason = "not_yet_valid"


class WrongIssuer(TokenError):
    reason = "wrong_issuer"


class WrongAudience(TokenError):
    reason = "wrong_audience"


class InactiveToken(TokenError):
    """An opaque token the issuer says is not active, or not for this API (RFC 7662)."""

    reason = "inactive_token"


class UnknownTenant(TokenError):
    """``iss`` fits an issuer template, but its tenant is not one of those accepted."""

    reason = "unknown_tenant"


class TenantMismatch(TokenError):
    """The tenant claim (Entra: ``tid``) names another tenant than ``iss`` does."""

    reason = "tenant_mismatch"


class WrongTokenType(TokenError):
    """Not an access token: a ``typ`` other than the required one, or an ID token."""

    reason = "wrong_token_type"


class SenderConstraintError(TokenError):
    """The token is bound to a key or certificate the request does not prove (RFC 9449, 8705).

    ``details["check"]`` names the check that failed, for the log and ``doctor``.
    """

    reason = "sender_constraint"


class DpopMissing(SenderConstraintError):
    """A DPoP proof is needed and there is none (a bound token sent as Bearer, a TOKEN event)."""

    reason = "dpop_missing"


class DpopInvalid(SenderConstraintError):
    """The DPoP proof fails a check of RFC 9449 section 4.3 (shape, key, signature, htu ...)."""

    reason = "dpop_invalid"


class DpopReplay(SenderConstraintError):
    """The proof's ``jti`` was used before, within the proof's lifetime."""

    reason = "dpop_replay"


class DpopBinding(SenderConstraintError):
    """The proof's key is not the one the token is bound to (``cnf.jkt``), or there is none."""

    reason = "dpop_binding"


class CertBinding(SenderConstraintError):
    """The token's ``cnf["x5t#S256"]`` does not match the request's client certificate."""

    reason = "cert_binding"


# --- 403: valid token, not allowed ---------------------------------------------


class AccessDenied(AuthorizerError):
    """The token verified but fails an authorization rule (403)."""

    reason = "forbidden"


class InsufficientScope(AccessDenied):
    """``scopes``: what would satisfy the rule (the challenge's ``scope``, RFC 6750 section 3)."""

    reason = "insufficient_scope"

    def __init__(self, message: str, *, scopes: frozenset[str] = frozenset()) -> None:
        super().__init__(message)
        self.scopes = scopes


class MissingRole(AccessDenied):
    reason = "missing_role"


class ClaimMismatch(AccessDenied):
    """A claim a rule constrains is absent or holds a value the rule does not accept.

    ``acr_values``: where the claim is ``acr``, the classes that would satisfy the rule
    (the step-up challenge's ``acr_values``, RFC 9470).
    """

    reason = "claim_mismatch"

    def __init__(self, message: str, *, acr_values: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.acr_values = acr_values


class AuthenticationTooOld(AccessDenied):
    """``auth_time`` is missing or older than the route's maximum authentication age.

    ``max_age``: that age in seconds (the step-up challenge's ``max_age``, RFC 9470).
    """

    reason = "authentication_too_old"

    def __init__(self, message: str, *, max_age: int | None = None) -> None:
        super().__init__(message)
        self.max_age = max_age


class IssuerNotAllowed(AccessDenied):
    reason = "issuer_not_allowed"


class TenantNotAllowed(AccessDenied):
    """A route accepts tokens of other tenants only (a rule's ``tenants``)."""

    reason = "tenant_not_allowed"


class NoMatchingRoute(AccessDenied):
    """Rules are configured, none covers the requested route, and the default is deny."""

    reason = "no_matching_route"


# --- 500: we cannot decide ------------------------------------------------------


class FetchError(AuthorizerError):
    """Fetching a document from the issuer failed (network, status, size, JSON)."""

    reason = "fetch_failed"


class ReplayStoreUnavailable(AuthorizerError):
    """The DPoP replay store cannot say whether a proof is new (full, or unreachable)."""

    reason = "replay_store_unavailable"


class KeysUnavailable(AuthorizerError):
    """No usable key set: the issuer is unreachable and nothing fresh enough is cached."""

    reason = "jwks_unavailable"


class IntrospectionUnavailable(AuthorizerError):
    """The issuer's introspection endpoint did not answer, in time or at all (RFC 7662)."""

    reason = "introspection_unavailable"
