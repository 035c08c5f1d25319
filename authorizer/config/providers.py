"""Identity-provider presets (``JWT_PROVIDER``): what each provider does differently.

A preset only supplies defaults; every one of them can be overridden by the
matching setting. What the presets encode, from each provider's documentation:

=========  ==================================================================
authgear   user tokens: ``aud`` is the project endpoint (the issuer), so that is
           the default audience; machine tokens: ``aud`` is the API resource
           (list it in the audiences). Roles at
           ``https://authgear.com/claims/user/roles``; optional denial of
           anonymous users and of unverified ones.
auth0      the issuer ends with ``/``; RBAC permissions in ``permissions``.
cognito    access tokens carry no ``aud``: the audience (app client id) is
           checked against ``client_id``, and ``token_use`` must be ``access``
           (an ID token has ``aud`` = the client id); groups in
           ``cognito:groups``. The issuer is the user pool's, either form:
           ``https://cognito-idp.<region>.amazonaws.com/<pool id>`` or the
           multi-Region one, ``https://issuer-cognito-idp.<region>...`` (every
           replica of a replicated pool writes it, with the primary region, and
           serves its keys); a user pool *domain* (``*.amazoncognito.com``), a
           trailing slash or a region other than the pool id's fails the cold start.
okta       scopes in the ``scp`` array; groups in ``groups`` (a custom claim
           most Okta set-ups add).
keycloak   realm roles at ``realm_access.roles`` and client roles at
           ``resource_access.<audience>.roles``; access tokens say
           ``"typ": "Bearer"`` (DPoP-bound ones ``"DPoP"``) in the payload
           (ID tokens ``"ID"``), and may carry a ``nonce`` as well.
entra      v1 (``https://sts.windows.net/<tenant>/``) and v2
           (``https://login.microsoftonline.com/<tenant>/v2.0``) issuers are
           both accepted when either is configured; ``roles`` and ``scp``. A
           multi-tenant application's issuer is either with ``{tenant}``: the
           keys are the ``common`` endpoint's, and ``tid`` must name the tenant.
generic    RFC 9068: ``aud``, ``scope``/``scp``, no roles claim.
=========  ==================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..access.rules import ClaimPath

AUTHGEAR_ROLES = "https://authgear.com/claims/user/roles"
AUTHGEAR_ANONYMOUS = "https://authgear.com/claims/user/is_anonymous"
AUTHGEAR_VERIFIED = "https://authgear.com/claims/user/is_verified"

_ENTRA_V1 = re.compile(r"https://sts\.windows\.net/(?P<tenant>[0-9a-fA-F-]{36})/")
_ENTRA_V2 = re.compile(r"https://login\.microsoftonline\.com/(?P<tenant>[0-9a-fA-F-]{36})/v2\.0")
#: A multi-tenant application's issuers, and the key set every tenant signs with.
_ENTRA_V1_TEMPLATE = "https://sts.windows.net/{tenant}/"
_ENTRA_V2_TEMPLATE = "https://login.microsoftonline.com/{tenant}/v2.0"
_ENTRA_COMMON_KEYS = {
    _ENTRA_V1_TEMPLATE: "https://login.microsoftonline.com/common/discovery/keys",
    _ENTRA_V2_TEMPLATE: "https://login.microsoftonline.com/common/discovery/v2.0/keys",
}
#: A user pool's issuer: the original form, or the multi-Region one (``issuer-`` prefix).
_COGNITO = re.compile(
    r"https://(?:issuer-)?cognito-idp(?:-fips)?\.(?P<host_region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"(?P<path>/.*)?"
)
_POOL_ID = re.compile(r"/(?P<region>[a-z0-9-]+)_[0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class Provider:
    """Defaults for one identity provider."""

    name: str
    audience_claim: str = "aud"
    scope_claims: tuple[str, ...] = ("scope", "scp")
    role_claims: tuple[ClaimPath, ...] = ()
    #: A payload claim and the values that mark an access token (Cognito, Keycloak).
    token_use: tuple[str, tuple[str, ...]] | None = None
    #: ID-token claims the provider also writes into access tokens: they do not make
    #: a token an ID token while its ``token_use`` marker says it is an access token.
    access_token_id_claims: frozenset[str] = frozenset()
    #: The issuer as the provider writes it in ``iss`` ends with a slash.
    issuer_trailing_slash: bool = False
    #: With no audience configured, accept tokens whose ``aud`` is the issuer itself.
    issuer_is_default_audience: bool = False
    #: The configured audiences are client ids: an ``aud`` holding one marks an ID token.
    audiences_are_client_ids: bool = False
    #: Client roles live under ``resource_access.<audience>.roles``.
    client_roles_per_audience: bool = False
    #: Offers the Authgear user-state options (anonymous, verified).
    authgear_user_claims: bool = False
    #: In an issuer template, the claim that names the tenant too (Entra: ``tid``).
    tenant_claim: str | None = None

    def role_paths(self, audiences: tuple[str, ...]) -> tuple[ClaimPath, ...]:
        """Where roles are, given the configured audiences."""
        if not self.client_roles_per_audience:
            return self.role_claims
        return self.role_claims + tuple(("resource_access", aud, "roles") for aud in audiences)

    def normalize_issuer(self, issuer: str) -> str:
        """The issuer exactly as the provider writes it in ``iss``."""
        if self.issuer_trailing_slash and not issuer.endswith("/"):
            return issuer + "/"
        return issuer

    def issuer_problem(self, issuer: str) -> str | None:
        """What is wrong with ``issuer`` for this provider, when it is a near miss; else None."""
        return _cognito_issuer_problem(issuer) if self.name == "cognito" else None

    def sibling_issuers(self, issuer: str) -> tuple[str, ...]:
        """Other issuer strings the same tenant signs with (their keys: :meth:`jwks_uri_for`)."""
        if self.name != "entra":
            return ()
        siblings = {_ENTRA_V1_TEMPLATE: _ENTRA_V2_TEMPLATE, _ENTRA_V2_TEMPLATE: _ENTRA_V1_TEMPLATE}
        if issuer in siblings:
            return (siblings[issuer],)
        v1 = _ENTRA_V1.fullmatch(issuer)
        if v1 is not None:
            return (f"https://login.microsoftonline.com/{v1['tenant']}/v2.0",)
        v2 = _ENTRA_V2.fullmatch(issuer)
        if v2 is not None:
            return (f"https://sts.windows.net/{v2['tenant']}/",)
        return ()

    def jwks_uri_for(self, issuer: str) -> str | None:
        """A key-set URI to use without discovery, where the issuer's own is not discoverable."""
        if self.name == "entra" and issuer in _ENTRA_COMMON_KEYS:
            return _ENTRA_COMMON_KEYS[issuer]  # a multi-tenant template: every tenant's keys
        match = _ENTRA_V1.fullmatch(issuer) if self.name == "entra" else None
        if match is None:
            return None
        # Discovery at the v1 issuer host (sts.windows.net) is not relied on: the v1 keys
        # are published under login.microsoftonline.com, where the v1 metadata points.
        return f"https://login.microsoftonline.com/{match['tenant']}/discovery/keys"


PROVIDERS: dict[str, Provider] = {
    provider.name: provider
    for provider in (
        Provider("generic"),
        Provider(
            "authgear",
            role_claims=((AUTHGEAR_ROLES,),),
            issuer_is_default_audience=True,
            authgear_user_claims=True,
        ),
        Provider("auth0", scope_claims=("scope", "permissions"), issuer_trailing_slash=True),
        Provider(
            "cognito",
            audience_claim="client_id",
            scope_claims=("scope",),
            role_claims=(("cognito:groups",),),
            token_use=("token_use", ("access",)),
            audiences_are_client_ids=True,
        ),
        Provider("okta", role_claims=(("groups",),)),
        Provider(
            "keycloak",
            scope_claims=("scope",),
            role_claims=(("realm_access", "roles"),),
            # DPoP-bound access tokens say typ "DPoP" (keycloak/keycloak#22244).
            token_use=("typ", ("Bearer", "DPoP")),
            # Keycloak copies the request's nonce into access tokens in some flows
            # (keycloak/keycloak#26893); its ID tokens say typ "ID".
            access_token_id_claims=frozenset({"nonce"}),
            client_roles_per_audience=True,
        ),
        Provider("entra", role_claims=(("roles",),), tenant_claim="tid"),
    )
}


def _cognito_issuer_problem(issuer: str) -> str | None:
    """A Cognito issuer that no user pool writes in ``iss`` (other hosts are not judged)."""
    form = "https://cognito-idp.<region>.amazonaws.com/<user pool id>"
    host = issuer.split("://", 1)[-1].split("/", 1)[0]
    if host.endswith(".amazoncognito.com"):
        return (
            f"is a user pool domain, where users sign in, not the pool's issuer: use {form}"
            " (or, for a replicated pool, its multi-Region issuer https://issuer-cognito-idp..."
            " as the pool's settings show it)"
        )
    match = _COGNITO.fullmatch(issuer)
    if match is None:
        return None  # not Cognito's host: a proxy or a local issuer, judged by its tokens
    pool = _POOL_ID.fullmatch(match["path"] or "")
    if pool is None:
        return f"must be {form} exactly (the pool id, no trailing slash), got {issuer!r}"
    if pool["region"] != match["host_region"]:
        return (
            f"names region {match['host_region']} but the user pool id is from"
            f" {pool['region']}: a pool's issuer names the region it was created in, also in"
            " every replica of a replicated pool (the multi-Region issuer), got"
            f" {issuer!r}"
        )
    return None
