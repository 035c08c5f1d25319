"""DPoP proofs (RFC 9449): the checks of section 4.3, then the token's binding (section 7.1).

:meth:`ProofVerifier.verify` takes the ``DPoP`` header of one request and
checks, in order, each failure raising :class:`~authorizer.errors.DpopInvalid`
with ``details["check"]`` naming the step:

1. ``shape``: one compact JWS, at most :data:`MAX_PROOF_BYTES`, strict base64url and JSON;
2. ``typ``: the header's ``typ`` is ``dpop+jwt``; no ``crit``;
3. ``alg``: asymmetric and on the allow-list (never ``none`` or ``HS*``);
4. ``jwk``: the header's ``jwk`` is a public key fit for ``alg`` (no private
   members; the strength rules of issuers' keys); ``kid``, ``x5c``, ``jku`` are never read;
5. ``signature``: made by that key;
6. ``claims``: ``jti``, ``htm``, ``htu``, ``iat`` and ``ath`` are present, with their types;
7. ``htm``: the request's method, exactly;
8. ``htu``: the request's URL as the client saw it (see :mod:`authorizer.gateway.events`),
   both sides normalised (scheme and host case, default port, percent-encoding;
   query and fragment ignored);
9. ``iat``: no older than ``max_age`` seconds, no more than ``leeway`` seconds ahead;
10. ``ath``: the base64url SHA-256 of the access token.

The proof's key thumbprint (RFC 7638) is returned for the caller to compare
with the token's ``cnf.jkt``; :meth:`ProofVerifier.remember` then records the
``jti`` (the last step, so a refused request uses up nothing). Server nonces
(section 8) are not issued; a proof's ``nonce`` is ignored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import DpopInvalid, DpopReplay, MalformedToken
from ..gateway.events import normalize_url
from ..keys.jwk import PublicKey, public_jwk
from ..tokens.verify import (
    algorithm_objects,
    b64url_decode,
    b64url_encode,
    decode_json_segment,
    normalize_typ,
    split_compact,
)
from .replay import KeyQuota, ReplayStore

#: A proof with a 4096-bit RSA key is about 1.2 KB; 8192-bit keys fit too.
MAX_PROOF_BYTES = 8192
MAX_JTI_LENGTH = 256
PROOF_TYP = "dpop+jwt"
#: The JWK members RFC 7638 section 3.2 hashes, by key type, in their sorted order.
THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
_SAFE_INTEGER = 2**53


@dataclass(frozen=True, slots=True)
class Proof:
    """A proof that passed every check: its key's thumbprint, and what identifies it."""

    jkt: str
    jti: str
    iat: float


class ProofVerifier:
    """Check DPoP proofs against an allow-list of algorithms, a time window and a replay store."""

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        max_age: int,
        leeway: int,
        clock: Callable[[], float],
        replay: ReplayStore,
        quota: KeyQuota,
    ) -> None:
        self._algorithms = algorithm_objects(algorithms)
        self._max_age = max_age
        self._leeway = leeway
        self._clock = clock
        self._replay = replay
        self._quota = quota

    def verify(self, proof: str, *, method: str, url: str, token: str) -> Proof:
        """Check ``proof`` for a request of ``method`` to ``url`` (normalised) with ``token``."""
        header_b64, payload_b64, signature_b64 = _segments(proof)
        header = _json(header_b64, "header")
        alg = self._check_header(header)
        key = _proof_key(header.get("jwk"), alg)
        signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
        signature = _decoded(signature_b64, "signature")
        if not self._algorithms[alg].verify(signing_input, key, signature):
            raise _invalid("signature", "the proof's signature does not verify with its jwk")
        claims = _json(payload_b64, "payload")
        jti, iat = _check_claims(claims)
        if claims["htm"] != method:
            raise _invalid("htm", f"the proof is for method {claims['htm'][:16]!r}, not {method}")
        if normalize_url(claims["htu"]) != url:
            raise _invalid("htu", f"the proof is for another URL than {url}")
        now = self._clock()
        if not now - self._max_age < iat <= now + self._leeway:
            raise _invalid("iat", f"the proof was made {now - iat:.0f} s ago; the window is"
                                  f" {self._max_age} s back, {self._leeway} s ahead")  # fmt: skip
        if claims["ath"] != token_hash(token):
            raise _invalid("ath", "the proof's ath is not the hash of this access token")
        return Proof(jkt=thumbprint(header["jwk"]), jti=jti, iat=iat)

    def remember(self, proof: Proof) -> None:
        """Record the proof as used; raise :class:`DpopReplay` if it was used before.

        A key already holding its share of the store (:class:`KeyQuota`) gets
        :class:`DpopInvalid` (``check: quota``) and records nothing.
        """
        key = hashlib.sha256(f"{proof.jkt}\0{proof.jti}".encode()).digest()
        expires_at, now = proof.iat + self._max_age, self._clock()
        if self._quota.full(proof.jkt, now):
            raise _invalid(
                "quota",
                f"this client key has {self._quota.limit} unexpired proofs here,"
                " the most one key may hold: wait for them to expire",
            )
        if not self._replay.first_use(key, expires_at, now):
            raise DpopReplay("this DPoP proof was used before", details={"check": "jti"})
        self._quota.add(proof.jkt, expires_at, now)

    def _check_header(self, header: dict[str, Any]) -> str:
        typ = header.get("typ")
        if not isinstance(typ, str) or normalize_typ(typ) != PROOF_TYP:
            raise _invalid("typ", f"the proof's typ is {str(typ)[:32]!r}, not {PROOF_TYP}")
        if "crit" in header:
            raise _invalid("typ", "the proof's header carries crit extensions")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            allowed = ", ".join(self._algorithms)
            raise _invalid("alg", f"the proof's alg {str(alg)[:16]!r} is not one of {allowed}")
        return alg


def thumbprint(jwk: dict[str, Any]) -> str:
    """The JWK SHA-256 thumbprint of RFC 7638, base64url (what ``cnf.jkt`` holds)."""
    members = THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def token_hash(token: str) -> str:
    """The ``ath`` of ``token``: base64url SHA-256 of its ASCII bytes (RFC 9449 section 4.2)."""
    return b64url_encode(hashlib.sha256(token.encode("ascii")).digest())


def _segments(proof: str) -> tuple[str, str, str]:
    try:
        return split_compact(proof, MAX_PROOF_BYTES)
    except MalformedToken as exc:
        raise _invalid("shape", f"the DPoP header is not a proof JWT: {exc}") from None


def _json(segment: str, what: str) -> dict[str, Any]:
    try:
        return decode_json_segment(segment, f"proof {what}")
    except MalformedToken as exc:
        raise _invalid("shape", str(exc)) from None


def _decoded(segment: str, what: str) -> bytes:
    try:
        return b64url_decode(segment, f"proof {what}")
    except MalformedToken as exc:
        raise _invalid("shape", str(exc)) from None


def _proof_key(jwk: object, alg: str) -> PublicKey:
    if not isinstance(jwk, dict):
        raise _invalid("jwk", "the proof's header has no jwk")
    try:
        # PyJWT decodes every member the thumbprint hashes, so each one is a string.
        return public_jwk(jwk, alg, "the proof's jwk")
    except ValueError as exc:
        raise _invalid("jwk", str(exc)) from None


def _check_claims(claims: dict[str, Any]) -> tuple[str, float]:
    jti, iat = claims.get("jti"), claims.get("iat")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise _invalid("claims", f"the proof's jti is missing, empty or over {MAX_JTI_LENGTH}")
    for name in ("htm", "htu", "ath"):
        if not isinstance(claims.get(name), str):
            raise _invalid("claims", f"the proof's {name} is missing or not a string")
    for name in ("jti", "htm", "htu", "ath"):
        try:  # JSON may escape a lone surrogate, which no text encoding (nor the store) takes
            claims[name].encode("utf-8")
        except UnicodeEncodeError:
            raise _invalid("claims", f"the proof's {name} is not Unicode text") from None
    # strictjson refuses non-finite floats; integers may still have 4,300 digits.
    if isinstance(iat, bool) or not isinstance(iat, (int, float)):
        raise _invalid("claims", "the proof's iat is missing or not a number")
    if not -_SAFE_INTEGER < iat < _SAFE_INTEGER:
        raise _invalid("claims", "the proof's iat is not a NumericDate")
    return jti, float(iat)


def _invalid(check: str, message: str) -> DpopInvalid:
    return DpopInvalid(message, details={"check": check})
