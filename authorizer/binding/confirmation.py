"""Sender-constrained tokens: is the request made by the holder the token is bound to?

After the token verified (signature and claims), its ``cnf`` claim and the
issuer's policy decide what the request must prove:

==========================  ===========================  ==============================
token                       ``Bearer`` scheme            ``DPoP`` scheme + proof
==========================  ===========================  ==============================
unbound                     allowed, except ``dpop``     refused (``dpop_binding``)
``cnf.jkt`` (DPoP)          refused (``dpop_missing``)   proof checked (:mod:`.dpop`)
``cnf["x5t#S256"]`` (mTLS)  client certificate checked   refused (no ``cnf.jkt``)
==========================  ===========================  ==============================

That is the ``either`` and ``dpop`` policies (``JWT_SENDER_CONSTRAINT``);
``dpop`` also refuses unbound tokens. ``bearer``, the default, takes only
the Bearer scheme and refuses any token that carries ``cnf``, whose binding it
does not check, unless ``JWT_BOUND_TOKENS_AS_BEARER`` says to ignore bindings.
Nothing here is cached: a proof and a certificate belong to one request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import CertBinding, DpopBinding, DpopInvalid, DpopMissing
from ..gateway.events import AuthRequest, EventKind
from ..tokens.verify import b64url_encode

if TYPE_CHECKING:  # loaded only where an issuer takes DPoP proofs
    from .dpop import ProofVerifier

SenderConstraint = Literal["bearer", "either", "dpop"]
SENDER_CONSTRAINTS: tuple[SenderConstraint, ...] = ("bearer", "either", "dpop")
#: The most a client certificate may weigh (API Gateway allows chains up to 16 KB).
MAX_CERTIFICATE_BYTES = 16384


@dataclass(frozen=True, slots=True)
class BindingPolicy:
    """One issuer's rule for sender-constrained tokens."""

    constraint: SenderConstraint = "bearer"
    #: With ``bearer``: accept bound tokens as plain bearer tokens (their binding unchecked).
    bound_tokens_as_bearer: bool = False


def check_binding(
    policy: BindingPolicy,
    request: AuthRequest,
    token: str,
    claims: Mapping[str, Any],
    proofs: ProofVerifier | None,
) -> str | None:
    """Raise a :class:`~authorizer.errors.SenderConstraintError` unless ``request`` may use it.

    Returns how the token was bound (``"dpop"``, ``"mtls"``) or None for a bearer
    token, for the decision log. ``proofs`` is None where every issuer's policy is
    ``bearer``: no proof is accepted then.
    """
    if policy.constraint == "bearer" or proofs is None:
        _check_bearer_only(policy, request, claims)
        return None
    jkt, x5t = _confirmation(claims)
    if request.scheme == "dpop":
        return _check_proof(proofs, request, token, jkt, x5t)
    if jkt is not None:
        raise DpopMissing(
            "the token is DPoP-bound (cnf.jkt): send it as Authorization: DPoP with a DPoP proof",
            details={"check": "scheme"},
        )
    if x5t is not None:
        _check_certificate(request, x5t)
        return "mtls"
    if policy.constraint == "dpop":
        raise DpopMissing(
            "this issuer takes only sender-constrained tokens (JWT_SENDER_CONSTRAINT is dpop)",
            details={"check": "unbound"},
        )
    return None


def _check_bearer_only(
    policy: BindingPolicy, request: AuthRequest, claims: Mapping[str, Any]
) -> None:
    """``bearer``: the Bearer scheme, and no binding (unless told to ignore bindings)."""
    if request.scheme == "dpop":
        raise DpopInvalid(
            "DPoP is not accepted from this issuer (JWT_SENDER_CONSTRAINT is bearer)",
            details={"check": "scheme"},
        )
    if policy.bound_tokens_as_bearer:
        return  # cnf is not looked at, as before bindings were understood
    jkt, x5t = _confirmation(claims)
    if jkt or x5t:
        unproven = DpopMissing if jkt else CertBinding
        raise unproven(
            "the token is bound to a key (cnf) and this issuer takes bearer tokens only"
            " (JWT_SENDER_CONSTRAINT is bearer)",
            details={"check": "policy"},
        )


def _check_proof(
    proofs: ProofVerifier, request: AuthRequest, token: str, jkt: str | None, x5t: str | None
) -> str:
    """The DPoP scheme: the proof (RFC 9449 section 4.3), its key, the certificate too, the jti."""
    if jkt is None:
        raise DpopBinding(
            "a DPoP proof was sent with a token that is not DPoP-bound (no cnf.jkt)",
            details={"check": "unbound"},
        )
    proof = proofs.verify(_proof(request), **_target(request), token=token)
    if proof.jkt != jkt:
        raise DpopBinding(
            "the proof is signed by another key than the token's cnf.jkt",
            details={"check": "jkt"},
        )
    if x5t is not None:
        _check_certificate(request, x5t)
    proofs.remember(proof)  # last: a refused request uses up nothing
    return "dpop"


def _confirmation(claims: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``cnf.jkt`` and ``cnf["x5t#S256"]`` (RFC 7800); any other ``cnf`` cannot be proven here."""
    cnf = claims.get("cnf")
    if cnf is None:
        return None, None
    if not isinstance(cnf, dict) or not cnf:
        raise DpopBinding("the token's cnf is not a confirmation object", details={"check": "cnf"})
    jkt, x5t = cnf.get("jkt"), cnf.get("x5t#S256")
    if jkt is None and x5t is None:
        raise DpopBinding(
            f"the token's cnf binds it by {', '.join(sorted(cnf))[:64]},"
            " which cannot be proven here",
            details={"check": "cnf"},
        )
    for name, value in (("jkt", jkt), ("x5t#S256", x5t)):
        if value is not None and not (isinstance(value, str) and value):
            raise DpopBinding(f"the token's cnf.{name} is not a string", details={"check": "cnf"})
    return jkt, x5t


def _proof(request: AuthRequest) -> str:
    if request.kind is EventKind.REST_TOKEN:
        raise DpopMissing(
            "a TOKEN authorizer receives the Authorization header only:"
            " DPoP needs a REQUEST authorizer",
            details={"check": "token_event"},
        )
    values = request.proofs
    if not values:
        raise DpopMissing(
            "the DPoP scheme was used without a DPoP header", details={"check": "header"}
        )
    if len(values) > 1:
        raise DpopInvalid(f"{len(values)} DPoP headers", details={"check": "header"})
    return values[0]


def _target(request: AuthRequest) -> dict[str, str]:
    target = request.target()
    if target is None:
        raise DpopInvalid(
            "the event does not say which method and URL were requested",
            details={"check": "htu"},
        )
    return {"method": target.method, "url": target.url}


def _check_certificate(request: AuthRequest, x5t: str) -> None:
    pem = request.certificate
    if pem is None:
        raise CertBinding(
            "the token is bound to a client certificate (cnf x5t#S256) and the request has none"
            " (mutual TLS on a custom domain, and a REQUEST authorizer)",
            details={"check": "certificate"},
        )
    if certificate_thumbprint(pem) != x5t:
        raise CertBinding(
            "the client certificate is not the one the token is bound to",
            details={"check": "x5t"},
        )


def certificate_thumbprint(pem: str) -> str | None:
    """base64url SHA-256 of the certificate's DER (RFC 8705 section 3.1); None if unreadable."""
    if len(pem) > MAX_CERTIFICATE_BYTES:
        return None
    from cryptography import x509  # noqa: PLC0415 - only certificate-bound tokens need it
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415

    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    digest = certificate.fingerprint(hashes.SHA256())
    return b64url_encode(digest)
