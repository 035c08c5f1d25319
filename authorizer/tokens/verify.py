"""From a compact JWS string to verified claims.

The order is the security argument (RFC 8725):

1. size cap and a strict shape check (ASCII, three segments) before any
   decoding; every segment is strict base64url, checked as it is decoded;
2. the protected header: a JSON object whose ``alg`` is on our allow-list and
   whose ``kid`` names the key; ``crit`` is refused; ``jku``, ``x5u``, ``jwk``
   and ``x5c`` are never read;
3. the key comes only from the issuer's key set, and must fit ``alg``;
4. the signature is checked by ``cryptography`` through PyJWT's algorithm objects;
5. only then is the payload decoded, and the claim rules applied.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from jwt.algorithms import Algorithm, get_default_algorithms

from ..errors import (
    BadSignature,
    DisallowedAlgorithm,
    IncompatibleKey,
    MalformedToken,
    TokenError,
    WrongIssuer,
    WrongTokenType,
)
from ..keys.cache import KeyCache
from ..keys.jwk import MAX_KID_LENGTH, VerificationKey
from ..strictjson import loads_object
from .cache import Entry, VerifiedTokenCache
from .claimchecks import TokenClaims
from .tenants import IssuerTemplate

_B64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
#: base64url to base64 for binascii's strict decoder; the base64-only characters
#: become "!", which it refuses like any other character outside the alphabet.
_TO_STANDARD_B64 = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")  # by length % 4 (1 is never valid)


class VerifiedToken:
    """A token whose signature and claims checked out.

    A plain slotted class: one is made per first-seen token, and a frozen
    dataclass costs several times more to construct. Its claims are a read-only
    view: the verified-token cache hands the same one to every repeat request.
    """

    __slots__ = ("alg", "claims", "header", "kid")

    def __init__(self, header: dict[str, Any], claims: dict[str, Any]) -> None:
        self.header = header
        # Read-only: a cached token's claims serve every later request with the same token.
        self.claims: Mapping[str, Any] = MappingProxyType(claims)
        # Read once: the cache looks the kid up again on every use of the token.
        self.kid = str(header["kid"])
        self.alg = str(header["alg"])

    def __repr__(self) -> str:
        return f"VerifiedToken(kid={self.kid!r}, alg={self.alg!r})"  # never the claims


class TokenVerifier:
    """Verify tokens from one issuer against its key cache and its claim rules."""

    def __init__(
        self,
        *,
        keys: KeyCache,
        algorithms: Sequence[str],
        claims: TokenClaims,
        max_token_bytes: int,
        clock: Callable[[], float],
        leeway: int = 0,
        cache_size: int = 0,
        required_typ: str | None = None,
    ) -> None:
        self._algorithms = algorithm_objects(algorithms)
        self._keys = keys
        self._claims = claims
        self._max_bytes = max_token_bytes
        self._clock = clock
        self._leeway = leeway
        self._cache: VerifiedTokenCache[VerifiedToken] = VerifiedTokenCache(cache_size)
        self._required_typ = required_typ
        #: Signatures checked so far (what the token cache saves; tests count with it).
        self.signature_checks = 0

    def verify(
        self,
        token: str,
        digest: bytes | None = None,
        segments: tuple[str, str, str] | None = None,
    ) -> VerifiedToken:
        """Return the verified header and claims, or raise a :class:`TokenError`.

        :class:`~authorizer.errors.KeysUnavailable` passes through untouched:
        it is not the token's fault. A token verified before is answered from
        the cache (see :mod:`authorizer.tokens.cache`) when its time and key allow.
        ``digest`` and ``segments`` are the token's cache key and parts where the
        caller has them already (:class:`IssuerChoice`): a token is split once.
        """
        if segments is None:
            segments = split_compact(token, self._max_bytes)
        data = token.encode("ascii")
        if digest is None:
            digest = self._cache.digest(data)
        entry = self._cache.get(digest, self._clock())
        if entry is not None:
            if self._keys.get_cached(entry.token.kid) is entry.key:
                return entry.token
            self._cache.discard(digest)
        verified, key = self._verify(data, segments)
        exp = verified.claims["exp"]  # TokenClaims.check made sure it is a finite number
        self._cache.put(digest, Entry(verified, key, float(exp) + self._leeway))
        return verified

    def knows(self, digest: bytes) -> bool:
        """True when the token with this cache key was verified here (it may have expired since)."""
        return digest in self._cache

    def forget(self) -> None:
        """Drop every cached verification (after a SnapStart restore)."""
        self._cache.clear()

    def _verify(
        self, data: bytes, segments: tuple[str, str, str]
    ) -> tuple[VerifiedToken, VerificationKey]:
        header_b64, payload_b64, signature_b64 = (part.encode("ascii") for part in segments)
        header = _json_object(_decode(header_b64, "header"), "header")
        alg, kid = self._check_header(header)
        try:
            key = self._keys.get(kid)
            if not key.accepts(alg):
                raise IncompatibleKey("the key named by kid cannot verify this alg")
            signature = _decode(signature_b64, "signature")
            # Decoded (so checked) before the signature, parsed only after it.
            payload = _decode(payload_b64, "payload")
            signing_input = data[: len(header_b64) + 1 + len(payload_b64)]
            self.signature_checks += 1
            if not self._algorithms[alg].verify(signing_input, key.key, signature):
                raise BadSignature("signature does not verify")
            claims = _json_object(payload, "payload")
            self._claims.check(claims, self._clock())
        except TokenError as exc:
            exc.details.update(kid=kid, alg=alg)
            raise
        return VerifiedToken(header=header, claims=claims), key

    def _check_header(self, header: dict[str, Any]) -> tuple[str, str]:
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise MalformedToken("header alg is missing or not a string")
        if alg not in self._algorithms:
            raise DisallowedAlgorithm("alg is not on the allow-list", details={"alg": alg[:32]})
        if "crit" in header:
            # RFC 7515 section 4.1.11: we understand no extensions, so we must refuse.
            raise MalformedToken("header carries crit extensions")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
            raise MalformedToken("header kid is missing, empty, too long or not a string")
        if self._required_typ is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or normalize_typ(typ) != self._required_typ:
                raise WrongTokenType(
                    f"typ is {str(typ)[:32]!r}, not {self._required_typ}",
                    details={"kid": kid[:64], "alg": alg},
                )
        return alg, kid


def algorithm_objects(names: Sequence[str]) -> dict[str, Algorithm]:
    """PyJWT's algorithm object for each allowed name (``cryptography`` does the work)."""
    implementations = get_default_algorithms()
    return {name: implementations[name] for name in names}


def normalize_typ(value: str) -> str:
    """RFC 7515 section 4.1.9: compare media types case-insensitively, ``application/`` optional.

    Nothing else is forgiven (RFC 9068 section 4): ``" at+jwt "`` is not ``at+jwt``.
    """
    return value.lower().removeprefix("application/")


T = TypeVar("T")


class IssuerChoice(Generic[T]):
    """Which issuer a token goes to: its verifier, and what it is known by (``T``).

    With one issuer there is nothing to choose: its ``iss`` is checked after the
    signature, like every other claim. Of several, a token one of them verified
    before goes back to it (its ``iss`` was verified then); any other is sent by
    its unverified ``iss``: to the issuer of that name, else to the issuer template
    it fits (``templates``, the same issuers by their templates). Choosing by an
    unverified claim is safe because the choice only decides which key set the
    signature must verify against: a token naming issuer B is checked with B's
    keys alone and then must carry B's ``iss``.
    """

    def __init__(
        self,
        issuers: Sequence[tuple[str, TokenVerifier, T]],
        max_bytes: int,
        templates: Sequence[tuple[IssuerTemplate, TokenVerifier, T]] = (),
    ) -> None:
        self._issuers = tuple(issuers)
        self._by_name = {name: (verifier, item) for name, verifier, item in self._issuers}
        self._templates = tuple(templates)
        self._max_bytes = max_bytes

    def choose(self, token: str) -> Choice[T]:
        """The issuer ``token`` goes to; raises :class:`WrongIssuer` or :class:`MalformedToken`."""
        if len(self._issuers) == 1:
            _, verifier, item = self._issuers[0]
            return Choice(item, verifier, token)  # the verifier splits it
        segments = split_compact(token, self._max_bytes)
        digest = VerifiedTokenCache.digest(token)
        for _, verifier, item in self._issuers:
            if verifier.knows(digest):
                return Choice(item, verifier, token, digest, segments)
        iss = peek_issuer(segments[1])
        named = self._by_name.get(iss)
        if named is None:
            named = next(
                ((verifier, item) for template, verifier, item in self._templates
                 if template.tenant_of(iss) is not None),
                None,
            )  # fmt: skip
        if named is None:
            raise WrongIssuer("iss is not one of the configured issuers")
        return Choice(named[1], named[0], token, digest, segments)


@dataclass(frozen=True, slots=True)
class Choice(Generic[T]):
    """A token and the issuer it goes to, with what choosing it computed already."""

    issuer: T
    verifier: TokenVerifier
    token: str
    digest: bytes | None = None
    segments: tuple[str, str, str] | None = None

    def verify(self) -> VerifiedToken:
        """Verify the token with this issuer's keys and rules (see :meth:`TokenVerifier.verify`)."""
        return self.verifier.verify(self.token, self.digest, self.segments)


def peek_issuer(payload_b64: str) -> str:
    """The unverified ``iss`` of a token's payload segment, only to choose whose keys to try.

    Raises :class:`MalformedToken` when the payload is not a JSON object holding
    a string ``iss``.
    """
    iss = decode_json_segment(payload_b64, "payload").get("iss")
    if not isinstance(iss, str):
        raise MalformedToken("payload iss is missing or not a string")
    return iss


def split_compact(token: str, max_bytes: int) -> tuple[str, str, str]:
    """Split a JWS Compact Serialization into its three non-empty segments.

    The segments' characters are checked as they are decoded (:func:`b64url_decode`).
    """
    if len(token) > max_bytes:
        raise MalformedToken(f"token is longer than {max_bytes} bytes")
    if not token.isascii():
        raise MalformedToken("not a compact JWS (characters outside ASCII)")
    segments = token.split(".")
    if len(segments) != 3 or not all(segments):
        count = len(segments)
        kind = "JWE tokens are not accepted" if count == 5 else "not a compact JWS"
        raise MalformedToken(f"{kind} ({count} segments, or an empty one)")
    header, payload, signature = segments
    return header, payload, signature


def b64url_encode(raw: bytes) -> str:
    """base64url without padding (RFC 7515 section 2): how JOSE writes bytes as text."""
    return binascii.b2a_base64(raw, newline=False).rstrip(b"=").translate(_TO_URLSAFE).decode()


def b64url_decode(segment: str, what: str) -> bytes:
    """Decode unpadded base64url, refusing any other character and non-canonical encodings."""
    if not segment.isascii():
        raise MalformedToken(f"{what} is not valid base64url")
    return _decode(segment.encode("ascii"), what)


def _decode(segment: bytes, what: str) -> bytes:
    remainder = len(segment) % 4
    if remainder == 1:
        raise MalformedToken(f"{what} is not valid base64url")
    try:
        # Strict mode refuses every character outside the (translated) alphabet,
        # padding included: base64.urlsafe_b64decode would skip them silently.
        raw = binascii.a2b_base64(
            segment.translate(_TO_STANDARD_B64) + _PADDING[remainder], strict_mode=True
        )
    except (binascii.Error, ValueError):
        raise MalformedToken(f"{what} is not valid base64url") from None
    # The last character of a 2- or 3-character group carries 4 or 2 unused
    # bits; canonical encoders leave them zero (RFC 4648 section 3.5).
    if remainder and _B64URL.find(segment[-1]) & (0x0F if remainder == 2 else 0x03):
        raise MalformedToken(f"{what} is not canonical base64url")
    return raw


def decode_json_segment(segment: str, what: str) -> dict[str, Any]:
    """Decode a segment as a UTF-8 JSON object (strict: see :mod:`authorizer.strictjson`)."""
    return _json_object(b64url_decode(segment, what), what)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        return loads_object(raw)
    except ValueError:
        raise MalformedToken(f"{what} is not a valid JSON object") from None
