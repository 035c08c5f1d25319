"""``WWW-Authenticate`` challenges for a protected resource (RFC 6750, 9470, 9449, 9728).

A Lambda authorizer cannot set a response header. On REST APIs a gateway
response can: the 401 one (``UNAUTHORIZED``) is static, because an authorizer
that answers 401 returns nothing but the error, so :func:`unauthorized` is what
the template writes there; the 403 one (``ACCESS_DENIED``) maps the header from
``context.authorizer.wwwAuthenticate``, which :func:`denied` fills.

API Gateway caches a policy for the token and applies it to every route, so a
403's challenge must be right for any route the policy denies, not only the one
requested: it names every scope that would satisfy a denied route, and the
strictest authentication age. A challenge that would not fit its budget drops
its ``scope`` (RFC 6750 makes it optional) rather than list some of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..claims import CHALLENGE_KEY, quoted_string
from ..errors import AccessDenied, AuthenticationTooOld, ClaimMismatch, InsufficientScope

#: The authorizer context key the ACCESS_DENIED gateway response reads.
CONTEXT_KEY = CHALLENGE_KEY
#: At most this many characters of challenge in a context (room for claims stays).
MAX_CHALLENGE = 1024


@dataclass(frozen=True, slots=True)
class Challenges:
    """What every challenge of one deployment says: where the metadata is, which schemes."""

    metadata_url: str
    bearer: bool = True
    #: The DPoP proof algorithms accepted (None: no issuer takes DPoP-bound tokens).
    dpop_algorithms: Sequence[str] | None = None

    def unauthorized(self) -> str:
        """The 401 challenge: no error code (RFC 6750 section 3.1: the request may carry none)."""
        return self._join([])

    def denied(self, failures: Iterable[AccessDenied]) -> str:
        """The 403 challenge for every route a policy with these ``failures`` denies."""
        scopes: set[str] = set()
        ages: list[int] = []
        classes: dict[str, None] = {}  # acr values, in the rules' order
        for failure in failures:
            if isinstance(failure, InsufficientScope):
                scopes.update(failure.scopes)
            elif isinstance(failure, AuthenticationTooOld) and failure.max_age is not None:
                ages.append(failure.max_age)
            elif isinstance(failure, ClaimMismatch):
                classes.update(dict.fromkeys(failure.acr_values))
        if scopes or not (ages or classes):
            params = [("error", quoted_string("insufficient_scope"))]
            if scopes:
                params.append(("scope", quoted_string(" ".join(sorted(scopes)))))
        else:
            # RFC 9470 section 3: the client must authenticate the user again: with one of
            # these authentication classes, recently enough.
            params = [("error", quoted_string("insufficient_user_authentication"))]
            if classes:
                params.append(("acr_values", quoted_string(" ".join(classes))))
            if ages:
                params.append(("max_age", str(min(ages))))
        text = self._join(params)
        if len(text) > MAX_CHALLENGE:
            kept = ("error", "max_age")
            text = self._join([param for param in params if param[0] in kept])
        return text

    def _join(self, params: list[tuple[str, str]]) -> str:
        metadata = ("resource_metadata", quoted_string(self.metadata_url))
        challenges = []
        if self.bearer:
            challenges.append(_challenge("Bearer", [*params, metadata]))
        if self.dpop_algorithms:
            algs = ("algs", quoted_string(" ".join(self.dpop_algorithms)))
            challenges.append(_challenge("DPoP", [algs, *params, metadata]))
        return ", ".join(challenges)


def _challenge(scheme: str, params: list[tuple[str, str]]) -> str:
    return f"{scheme} " + ", ".join(f"{name}={value}" for name, value in params)
