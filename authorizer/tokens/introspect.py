"""Opaque access tokens: asked about once at the issuer's introspection endpoint (RFC 7662).

A token that is not a compact JWS (not three dot-separated parts) goes here, to
the one issuer configured to introspect; a JWT-shaped token never does. The
answer is checked as a JWT's claims are: ``active`` must be true, ``exp`` present
and ahead, ``iss`` (when the endpoint says it) the issuer, the audience one of
those accepted, ``token_type`` (when said) an access token's, and a principal
claim present. The rules, context and downstream reader then see these claims as
they see a JWT's.

A token is introspected once: the answer is cached by the token's SHA-256 digest
(never the token) until its ``exp``, at most ``max_seconds``; an inactive or
refused token briefly (``negative_seconds``), so that a client retrying with a
revoked token does not make a request to the issuer each time. The cache is
bounded by entry count. An execution environment serves one request at a time,
so one lookup per token is in flight at most. The endpoint failing, slow or
answering nonsense means 500 (``introspection_unavailable``): never an allow.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    Expired,
    FetchError,
    InactiveToken,
    IntrospectionUnavailable,
    InvalidClaims,
    TokenError,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from ..keys.fetch import HttpFetcher, url_problem
from .claimchecks import principal_of
from .verify import VerifiedToken

#: What the decision line says for an introspected token's kid and alg.
INTROSPECTED = "introspected"
_ACCESS_TYPES = frozenset({"access_token", "bearer", "dpop", "n_a"})


@dataclass(frozen=True, slots=True)
class IntrospectionSettings:
    """Where and how one issuer's opaque tokens are asked about."""

    issuer: str
    endpoint: str | None  # None: the discovery document's introspection_endpoint
    discovery_uri: str
    client_id: str
    #: The secret; with ``private_key_jwt``, the client's private key (PEM).
    client_secret: str = field(repr=False)
    auth_method: str = "client_secret_basic"  # client_secret_post, private_key_jwt
    audiences: frozenset[str] = frozenset()
    principal_claims: tuple[str, ...] = ("sub",)
    leeway: int = 60
    max_seconds: int = 300
    negative_seconds: int = 10
    cache_size: int = 1024


class Introspector:
    """Verify opaque tokens by asking the issuer, each at most once while its answer holds."""

    def __init__(
        self,
        settings: IntrospectionSettings,
        fetcher: HttpFetcher,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._fetcher = fetcher
        self._clock = clock
        self._cache: OrderedDict[bytes, tuple[float, VerifiedToken | TokenError]] = OrderedDict()
        self._endpoint = settings.endpoint
        jwt_auth = settings.auth_method == "private_key_jwt"
        self._key: Any = private_key(settings.client_secret) if jwt_auth else None
        self.requests = 0  # introspection requests made (tests and benchmarks count them)

    def verify(self, token: str) -> VerifiedToken:
        """The token's claims as the issuer vouches for them; raises ``TokenError`` or 500."""
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(digest)
            return _result(cached[1])
        answer = self._ask(token)
        try:
            verified = self._check(answer, now)
        except TokenError as exc:
            self._remember(digest, now + self.settings.negative_seconds, exc)
            raise
        exp = float(answer["exp"])
        self._remember(digest, min(exp, now + self.settings.max_seconds), verified)
        return verified

    def _ask(self, token: str) -> Mapping[str, Any]:
        settings = self.settings
        fields = {"token": token, "token_type_hint": "access_token"}
        headers: dict[str, str] = {}
        if settings.auth_method == "client_secret_post":
            fields.update(client_id=settings.client_id, client_secret=settings.client_secret)
        elif settings.auth_method == "private_key_jwt":
            fields.update(
                client_id=settings.client_id,
                client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                client_assertion=self._assertion(),
            )
        else:
            pair = f"{_form(settings.client_id)}:{_form(settings.client_secret)}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        self.requests += 1
        try:
            return self._fetcher.post_form(self._endpoint or self._discover(), fields, headers)
        except FetchError as exc:
            raise IntrospectionUnavailable(f"introspection failed: {exc}") from None

    def _assertion(self) -> str:
        """RFC 7523 client authentication: a short JWT for the issuer, signed with the key."""
        import uuid  # noqa: PLC0415 - private_key_jwt only

        import jwt  # noqa: PLC0415

        settings, now = self.settings, int(self._clock())
        claims = {"iss": settings.client_id, "sub": settings.client_id, "aud": settings.issuer,
                  "jti": uuid.uuid4().hex, "iat": now, "exp": now + 60}  # fmt: skip
        return jwt.encode(claims, self._key, algorithm=signing_algorithm(self._key))

    def _discover(self) -> str:
        """The issuer's ``introspection_endpoint``, from its discovery document, once."""
        document = self._fetcher.get_json(self.settings.discovery_uri)
        endpoint = document.get("introspection_endpoint")
        problem = url_problem(endpoint) if isinstance(endpoint, str) else "missing"
        if problem is not None:
            raise FetchError(f"the discovery document's introspection_endpoint is {problem}")
        self._endpoint = str(endpoint)
        return self._endpoint

    def _check(self, answer: Mapping[str, Any], now: float) -> VerifiedToken:
        settings = self.settings
        if answer.get("active") is not True:
            raise InactiveToken("the issuer says the token is not active")
        exp = answer.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            raise InvalidClaims("the introspection answer has no exp")
        if now >= exp + settings.leeway:
            raise Expired("the token has expired (introspection exp)")
        iss = answer.get("iss")
        if iss is not None and iss != settings.issuer:
            raise WrongIssuer("the introspection answer names another issuer")
        kind = answer.get("token_type")
        if isinstance(kind, str) and kind.lower() not in _ACCESS_TYPES:
            raise WrongTokenType(f"the token is a {kind!r}, not an access token")
        aud = answer.get("aud")
        values = aud if isinstance(aud, list) else [aud]
        if not any(value in settings.audiences for value in values if isinstance(value, str)):
            raise WrongAudience("the token is not for this API (aud, from introspection)")
        if principal_of(answer, settings.principal_claims) is None:
            names = ", ".join(settings.principal_claims)
            raise InvalidClaims(f"none of {names} is a non-empty string in the answer")
        claims = {name: value for name, value in answer.items() if name != "active"}
        claims.setdefault("iss", settings.issuer)
        return VerifiedToken({"kid": INTROSPECTED, "alg": INTROSPECTED}, claims)

    def _remember(self, digest: bytes, until: float, result: VerifiedToken | TokenError) -> None:
        self._cache[digest] = (until, result)
        self._cache.move_to_end(digest)
        while len(self._cache) > self.settings.cache_size:
            self._cache.popitem(last=False)


def private_key(pem: str) -> Any:
    """The client's private key for ``private_key_jwt``; ValueError if it is none we sign with."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        load_pem_private_key,
    )

    key = load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError("the private key must be an RSA or EC key (PEM, unencrypted)")
    return key


def signing_algorithm(key: Any) -> str:
    """RS256 for an RSA key; ES256, ES384 or ES512 for an EC key on its curve."""
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return "RS256"
    return {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}[key.curve.name]


def _result(result: VerifiedToken | TokenError) -> VerifiedToken:
    if isinstance(result, TokenError):
        raise type(result)(str(result))
    return result


def _form(value: str) -> str:
    """RFC 6749 section 2.3.1: client id and secret form-encoded inside the Basic pair."""
    from urllib.parse import quote  # noqa: PLC0415 - introspection only

    return quote(value, safe="")
