"""Claim rules as data, checked by one function against an injected time.

Each rule is a small frozen object naming the claim it reads and the error it
raises. :func:`check_claims` runs a sequence of them in order and stops at the
first failure, so the order of a rule list is the order of the checks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import (
    Expired,
    InvalidClaims,
    NotYetValid,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)

Claims = Mapping[str, Any]


class Rule(Protocol):
    """A check of verified claims at time ``now`` (seconds since the epoch)."""

    def check(self, claims: Claims, now: float) -> None: ...


def check_claims(claims: Claims, rules: Iterable[Rule], now: float) -> None:
    """Apply ``rules`` in order; the first failing rule raises."""
    for rule in rules:
        rule.check(claims, now)


@dataclass(frozen=True, slots=True)
class IssuerIs:
    """``iss`` equals the configured issuer, character for character."""

    issuer: str

    def check(self, claims: Claims, now: float) -> None:
        value = claims.get("iss")
        if not isinstance(value, str):
            raise InvalidClaims("iss is missing or not a string")
        if value != self.issuer:
            raise WrongIssuer("iss does not match the configured issuer")


@dataclass(frozen=True, slots=True)
class AudienceAnyOf:
    """The audience claim (a string or an array of strings) holds one accepted audience.

    The claim is ``aud`` (RFC 7519), or ``client_id`` for Cognito access tokens,
    which carry no ``aud``.
    """

    audiences: frozenset[str]
    claim: str = "aud"

    def check(self, claims: Claims, now: float) -> None:
        value = claims.get(self.claim)
        if isinstance(value, str):
            values: Sequence[object] = (value,)
        elif isinstance(value, list) and value:
            values = value
        else:
            raise WrongAudience(f"{self.claim} is missing or not a string or array")
        if not all(isinstance(item, str) for item in values):
            raise InvalidClaims(f"{self.claim} holds a value that is not a string")
        if self.audiences.isdisjoint(values):
            raise WrongAudience(f"{self.claim} holds none of the accepted audiences")


@dataclass(frozen=True, slots=True)
class NotExpired:
    """``exp`` is present and ``now < exp + leeway`` (RFC 7519 section 4.1.4)."""

    leeway: int

    def check(self, claims: Claims, now: float) -> None:
        if now >= required_date(claims, "exp") + self.leeway:
            raise Expired("the token has expired")


@dataclass(frozen=True, slots=True)
class NotBefore:
    """``nbf``, when present, is not later than ``now + leeway``."""

    leeway: int

    def check(self, claims: Claims, now: float) -> None:
        nbf = numeric_date(claims, "nbf")
        if nbf is not None and nbf > now + self.leeway:
            raise NotYetValid("the token is not valid yet (nbf)")


@dataclass(frozen=True, slots=True)
class IssuedInPast:
    """``iat`` is present and not later than ``now + leeway``."""

    leeway: int

    def check(self, claims: Claims, now: float) -> None:
        if required_date(claims, "iat") > now + self.leeway:
            raise NotYetValid("the token was issued in the future (iat)")


@dataclass(frozen=True, slots=True)
class PrincipalPresent:
    """One of ``names`` (in order) is a non-empty string; the first becomes the principal.

    The default is ``sub`` alone (RFC 9068 section 2.2); machine-to-machine
    tokens of some providers need ``client_id`` as a fallback.
    """

    names: tuple[str, ...] = ("sub",)

    def check(self, claims: Claims, now: float) -> None:
        if principal_of(claims, self.names) is None:
            raise InvalidClaims(f"none of {', '.join(self.names)} is a non-empty string")


def principal_of(claims: Claims, names: Sequence[str]) -> str | None:
    """The first of ``names`` that holds a non-empty string, or ``None``."""
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


#: Claims only an OpenID Connect ID token carries (OIDC Core 2, 3.1.3.6, 3.3.2.11).
#: An access token never has them; an ID token sent in its place is the classic
#: token-substitution mistake.
_ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash", "s_hash")


@dataclass(frozen=True, slots=True)
class NotAnIdToken:
    """Refuse ID tokens presented as access tokens.

    Also caught: Cognito's ``token_use: id`` and Keycloak's ``typ: ID`` (payload
    claims those providers put in every token), and, where the configured
    audiences are client ids (Cognito), an ``aud`` naming one of them.
    """

    id_token_audiences: frozenset[str] = frozenset()

    def check(self, claims: Claims, now: float) -> None:
        for name in _ID_TOKEN_CLAIMS:
            if name in claims:
                raise WrongTokenType(f"an ID token (it carries {name}), not an access token")
        if claims.get("token_use") == "id" or claims.get("typ") == "ID":
            raise WrongTokenType("an ID token (its payload says so), not an access token")
        if self.id_token_audiences:
            aud = claims.get("aud")
            values = aud if isinstance(aud, list) else (aud,)
            if any(value in self.id_token_audiences for value in values):
                raise WrongTokenType("an ID token (aud is a client id), not an access token")


@dataclass(frozen=True, slots=True)
class TokenUse:
    """The payload claim ``name`` equals ``value``: how some providers mark access tokens."""

    name: str
    value: str

    def check(self, claims: Claims, now: float) -> None:
        if claims.get(self.name) != self.value:
            raise WrongTokenType(f"{self.name} is not {self.value!r}: not an access token")


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
}


@dataclass(frozen=True, slots=True)
class RegisteredClaimTypes:
    """Registered claims, when present, have their registered JSON types."""

    def check(self, claims: Claims, now: float) -> None:
        for name, types in REGISTERED_CLAIM_TYPES.items():
            value = claims.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
                raise InvalidClaims(f"{name} has the wrong type")


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
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidClaims(f"{name} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidClaims(f"{name} is out of range") from None
    if not math.isfinite(number):
        raise InvalidClaims(f"{name} is not a finite number")
    return number
