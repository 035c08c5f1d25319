"""What makes a token's claims valid: one issuer's claim rules as data, checked in one pass.

:class:`TokenClaims` holds the rules (issuer, audiences, leeway, principal
claims, token-type markers) and :meth:`TokenClaims.check` applies them all, in
a fixed order, against an injected time; the first failure raises a
:class:`~authorizer.errors.TokenError` (401). Like joserfc's claims registry,
it is one object rather than a list of rule objects, and the verifier takes it
as it is. Authorization rules, which deployments
compose freely, are separate: see :mod:`authorizer.access.rules`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import (
    Expired,
    InvalidClaims,
    NotYetValid,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from .tenants import IssuerTemplate

Claims = Mapping[str, Any]


#: Claims only an OpenID Connect ID token carries (OIDC Core 2, 3.1.3.6, 3.3.2.11).
#: An access token never has them; an ID token sent in its place is the classic
#: token-substitution mistake.
ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash", "s_hash")
_ID_TOKEN_CLAIM_SET = frozenset(ID_TOKEN_CLAIMS)
#: Every claim whose presence can make a token an ID token (the values of the last two decide).
_ID_TOKEN_MARKERS = _ID_TOKEN_CLAIM_SET | {"token_use", "typ"}
#: Integers in this range are exact as doubles (and finite): NumericDates as issuers write them.
_SAFE_INTEGER = 2**53

#: JSON types of the registered claims we pass downstream (RFC 7519 section 4.1,
#: RFC 9068 section 2.2, RFC 8693 section 4.2, OIDC Core section 2). A claim of
#: the wrong type is a broken or forged token, not something to pass along.
REGISTERED_CLAIM_TYPES: dict[str, tuple[type, ...]] = {
    "jti": (str,),
    "client_id": (str,),
    "scope": (str,),
    "azp": (str,),
    "auth_time": (int, float),
    "acr": (str,),
    "amr": (list,),
    "cnf": (dict,),  # RFC 7800; its members are checked by authorizer.binding.confirmation
}
_REGISTERED_NAMES = frozenset(REGISTERED_CLAIM_TYPES)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The claim rules for one issuer's access tokens, in the order they are checked.

    1. ``iss`` equals ``issuer``, character for character; or, for an issuer with a
       tenant in it, fits ``template`` (see :mod:`authorizer.tokens.tenants`).
    2. Not an ID token (when ``reject_id_tokens``): none of :data:`ID_TOKEN_CLAIMS`,
       no Cognito ``token_use: id`` or Keycloak ``typ: ID``, no ``aud`` naming one of
       ``id_token_audiences`` (Cognito app clients); and ``token_use``, when set, is
       the payload claim and value the provider marks access tokens with. Claims of
       ``access_token_id_claims`` (Keycloak's ``nonce``) are let through on tokens
       that carry that marker.
    3. The ``audience_claim`` (``aud``, or ``client_id`` for Cognito), a string or a
       non-empty array of strings, holds one of ``audiences``.
    4. ``exp`` is present and ``now < exp + leeway`` (RFC 7519 section 4.1.4);
       ``nbf``, when present, is at most ``now + leeway``; ``iat`` is present and
       at most ``now + leeway``.
    5. One of ``principal_claims`` (in order) is a non-empty string.
    6. Registered claims, when present, have their registered JSON types.

    Token-type checks come before the audience: an ID token is reported as one,
    not as a token for the wrong audience.
    """

    issuer: str
    audiences: frozenset[str]
    audience_claim: str = "aud"
    template: IssuerTemplate | None = None
    leeway: int = 0
    principal_claims: tuple[str, ...] = ("sub",)
    reject_id_tokens: bool = True
    id_token_audiences: frozenset[str] = frozenset()
    token_use: tuple[str, tuple[str, ...]] | None = None
    access_token_id_claims: frozenset[str] = frozenset()

    def check(self, claims: Claims, now: float) -> None:
        """Apply the rules above in order; the first that fails raises a ``TokenError``."""
        iss = claims.get("iss")
        if iss != self.issuer:
            if not isinstance(iss, str):
                raise InvalidClaims("iss is missing or not a string")
            if self.template is None:
                raise WrongIssuer("iss does not match the configured issuer")
            self.template.check(claims)
        if self.reject_id_tokens and (
            # Most access tokens carry no marker at all: one set operation says so.
            self.id_token_audiences
            or self.token_use is not None
            or not _ID_TOKEN_MARKERS.isdisjoint(claims)
        ):
            self._check_token_type(claims)
        self._check_audience(claims)
        self._check_times(claims, now)
        if principal_of(claims, self.principal_claims) is None:
            raise InvalidClaims(f"none of {', '.join(self.principal_claims)} is a non-empty string")
        for name in _REGISTERED_NAMES.intersection(claims):  # usually one or two of them
            value = claims[name]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, REGISTERED_CLAIM_TYPES[name])
            ):
                raise InvalidClaims(f"{name} has the wrong type")

    def _check_times(self, claims: Claims, now: float) -> None:
        leeway = self.leeway
        if now >= required_date(claims, "exp") + leeway:
            raise Expired("the token has expired")
        nbf = numeric_date(claims, "nbf")
        if nbf is not None and nbf > now + leeway:
            raise NotYetValid("the token is not valid yet (nbf)")
        if required_date(claims, "iat") > now + leeway:
            raise NotYetValid("the token was issued in the future (iat)")

    def _check_token_type(self, claims: Claims) -> None:
        present = _ID_TOKEN_CLAIM_SET.intersection(claims)
        if present and present <= self.access_token_id_claims and self._marked_access(claims):
            present = frozenset()  # the provider's own access-token marker outweighs these claims
        if present:
            name = next(name for name in ID_TOKEN_CLAIMS if name in present)
            raise WrongTokenType(f"an ID token (it carries {name}), not an access token")
        if claims.get("token_use") == "id" or claims.get("typ") == "ID":
            raise WrongTokenType("an ID token (its payload says so), not an access token")
        if self.id_token_audiences:
            aud = claims.get("aud")
            values = aud if isinstance(aud, list) else (aud,)
            if any(value in self.id_token_audiences for value in values):
                raise WrongTokenType("an ID token (aud is a client id), not an access token")
        if self.token_use is not None and not self._marked_access(claims):
            name, expected = self.token_use
            marks = " or ".join(repr(value) for value in expected)
            raise WrongTokenType(f"{name} is not {marks}: not an access token")

    def _marked_access(self, claims: Claims) -> bool:
        if self.token_use is None:
            return False
        name, expected = self.token_use
        return claims.get(name) in expected

    def _check_audience(self, claims: Claims) -> None:
        name = self.audience_claim
        value = claims.get(name)
        if isinstance(value, str):
            values: Sequence[object] = (value,)
        elif isinstance(value, list) and value:
            values = value
        else:
            raise WrongAudience(f"{name} is missing or not a string or array")
        if not all(isinstance(item, str) for item in values):
            raise InvalidClaims(f"{name} holds a value that is not a string")
        if self.audiences.isdisjoint(values):
            raise WrongAudience(f"{name} holds none of the accepted audiences")


def principal_of(claims: Claims, names: Sequence[str]) -> str | None:
    """The first of ``names`` that holds a non-empty string, or ``None``."""
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def required_date(claims: Claims, name: str) -> float:
    """Read a NumericDate claim that must be present."""
    value = numeric_date(claims, name)
    if value is None:
        raise InvalidClaims(f"{name} is required")
    return value


def numeric_date(claims: Claims, name: str) -> float | None:
    """Read an optional NumericDate claim: a finite JSON number, never a boolean or a string."""
    value = claims.get(name)
    if value is None:
        return None
    if type(value) is int and -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
        return value  # the usual case; exact as a float, and finite
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidClaims(f"{name} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidClaims(f"{name} is out of range") from None
    if not math.isfinite(number):
        raise InvalidClaims(f"{name} is not a finite number")
    return number
