"""Trusted issuers: :class:`IssuerSettings`, read from ``JWT_*`` or the rules file's ``[[issuer]]``.

Each issuer is built from its provider's preset (:mod:`authorizer.config.providers`):
the preset supplies what a provider always does (its audience claim, where
its roles live, its sibling issuers), and a setting overrides it. Read once at
cold start; every mistake raises :class:`~authorizer.errors.ConfigError` naming
the variable or the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..binding.confirmation import SENDER_CONSTRAINTS, BindingPolicy
from ..errors import ConfigError
from ..keys.fetch import discovery_uri
from ..tokens.tenants import TENANT, IssuerTemplate, is_tenant
from ..tokens.verify import normalize_typ
from .bundledkeys import BundledKeys, KeysFile
from .providers import AUTHGEAR_ANONYMOUS, AUTHGEAR_VERIFIED, PROVIDERS, Provider
from .resource import ResourceSettings, audiences_for
from .rulesfile import REQUIREMENT_KEYS, claim_path, numbered_tables, only_keys, parse_requirements
from .sources import read_secret
from .values import (
    Env,
    Label,
    algorithm_names,
    check_url,
    flag,
    place,
    scope_list,
    split,
    text,
    texts,
    whole,
)

if TYPE_CHECKING:  # the rule classes load only where rules are configured (cold start)
    from ..access.rules import AccessRule, ClaimPath

#: Issuer settings and the environment variable for each. With ``[[issuer]]``
#: tables in the rules file these are set there instead, per issuer.
ISSUER_VARIABLES: dict[str, str] = {
    "issuer": "JWT_ISSUER",
    "provider": "JWT_PROVIDER",
    "audiences": "JWT_AUDIENCE",
    "audience_claim": "JWT_AUDIENCE_CLAIM",
    "jwks_uri": "JWT_JWKS_URI",
    "algorithms": "JWT_ALGORITHMS",
    "scopes_all": "JWT_REQUIRED_SCOPES",
    "required_typ": "JWT_REQUIRED_TYP",
    "reject_id_tokens": "JWT_REJECT_ID_TOKENS",
    "role_claims": "AUTHORIZER_ROLES_CLAIMS",
    "scope_claims": "AUTHORIZER_SCOPE_CLAIMS",
    "deny_anonymous": "AUTHORIZER_DENY_ANONYMOUS",
    "require_verified": "AUTHORIZER_REQUIRE_VERIFIED",
    "keys_file": "JWT_KEYS_FILE",
    "keys_file_fresh_seconds": "JWT_KEYS_FILE_FRESH_SECONDS",
    "keys_file_max_age_seconds": "JWT_KEYS_FILE_MAX_AGE_SECONDS",
    "sender_constraint": "JWT_SENDER_CONSTRAINT",
    "bound_tokens_as_bearer": "JWT_BOUND_TOKENS_AS_BEARER",
    "tenants": "JWT_TENANTS",
    "tenant_claim": "JWT_TENANT_CLAIM",
    "introspection_client_id": "JWT_INTROSPECTION_CLIENT_ID",
    "introspection_client_secret": "JWT_INTROSPECTION_CLIENT_SECRET",
    "introspection_endpoint": "JWT_INTROSPECTION_ENDPOINT",
    "introspection_auth": "JWT_INTROSPECTION_AUTH",
}
#: How the authorizer authenticates to an introspection endpoint (RFC 7662 section 2.1).
INTROSPECTION_AUTH = ("client_secret_basic", "client_secret_post", "private_key_jwt")


@dataclass(frozen=True, slots=True)
class Introspection:
    """How to ask an issuer about its opaque tokens (RFC 7662); the secret never printed.

    With ``private_key_jwt`` the secret is the client's private key (PEM).
    """

    client_id: str
    client_secret: str = field(repr=False)
    endpoint: str | None = None  # None: the discovery document's introspection_endpoint
    auth_method: str = "client_secret_basic"


AUDIENCE_CLAIMS = ("aud", "client_id", "azp")
_FLAGS = ("reject_id_tokens", "deny_anonymous", "require_verified", "bound_tokens_as_bearer")
MAX_ISSUERS = 16


@dataclass(frozen=True, slots=True)
class IssuerSettings:
    """One trusted issuer: where its keys are and what its tokens must look like."""

    issuer: str
    audiences: tuple[str, ...]
    provider: str = "generic"
    jwks_uri: str | None = None
    algorithms: tuple[str, ...] = ("RS256",)
    audience_claim: str = "aud"
    required_typ: str | None = None
    reject_id_tokens: bool = True
    #: A payload claim and value that every access token of this provider carries.
    token_use: tuple[str, tuple[str, ...]] | None = None
    #: ID-token claims that access tokens carrying the ``token_use`` marker may hold too.
    access_token_id_claims: frozenset[str] = frozenset()
    #: ``aud`` values that only ID tokens carry (Cognito app client ids).
    id_token_audiences: tuple[str, ...] = ()
    scope_claims: tuple[str, ...] = ("scope", "scp")
    role_claims: tuple[ClaimPath, ...] = ()
    #: Access requirements every request with this issuer's tokens must pass (403 otherwise).
    requirements: tuple[AccessRule, ...] = ()
    #: Where a key set bundled in the artifact is (``JWT_KEYS_FILE``) ...
    keys_file: KeysFile | None = None
    #: ... and that set, read at cold start: the first one the key cache holds.
    bundled_keys: BundledKeys | None = None
    #: Bearer, DPoP or certificate-bound tokens: what a request must prove (see :mod:`.binding`).
    binding: BindingPolicy = field(default_factory=BindingPolicy)
    #: An issuer with ``{tenant}`` in it: the tenants it accepts, one key set for all.
    template: IssuerTemplate | None = None
    #: Its opaque access tokens are introspected (RFC 7662): how.
    introspection: Introspection | None = None

    @property
    def discovery_uri(self) -> str:
        """OpenID Connect Discovery 1.0 section 4: strip one trailing slash, then append."""
        return discovery_uri(self.issuer)


def env_issuers(
    env: Env, *, resource: ResourceSettings | None = None
) -> tuple[IssuerSettings, ...]:
    """Issuers from ``JWT_ISSUER`` (comma-separated), all sharing the other JWT_* settings.

    With a protected ``resource``, each accepts tokens for that resource alone.
    """
    issuers = split(env.required("JWT_ISSUER"))
    if not issuers:
        raise ConfigError("JWT_ISSUER must name at least one issuer")
    values: dict[str, Any] = {}
    for key, name in ISSUER_VARIABLES.items():
        raw = env.optional(name)
        if raw is None or key == "issuer":
            continue
        if key in ("audiences", "algorithms", "scope_claims", "tenants"):
            values[key] = split(raw)
        elif key == "scopes_all":
            values[key] = scope_list(name, raw)
        elif key == "role_claims":
            values[key] = _role_claims_text(raw)
        elif key in _FLAGS:
            values[key] = env.boolean(name, False)
        else:
            values[key] = raw
    if len(issuers) > 1 and "jwks_uri" in values:
        # One key set for several issuers would let each one's keys sign for the others.
        raise ConfigError(
            "JWT_JWKS_URI cannot serve several issuers: give each issuer its own key set"
            " in [[issuer]] tables of AUTHORIZER_RULES, or rely on discovery"
        )
    label = ISSUER_VARIABLES.get
    built = [
        build_issuers({**values, "issuer": issuer}, lambda key: label(key, key), resource)
        for issuer in issuers
    ]
    return _at_most(_with_siblings(built), "JWT_ISSUER")


def file_issuers(
    tables: object, where: str, *, resource: ResourceSettings | None = None
) -> tuple[IssuerSettings, ...]:
    """Issuers from the rules file's ``[[issuer]]`` tables, each with its own settings.

    With a protected ``resource``, each accepts tokens for that resource alone.
    """
    built: list[list[IssuerSettings]] = []
    key_sets: dict[object, str] = {}
    for here, table in numbered_tables(tables, where, "issuer"):
        only_keys(table, frozenset(ISSUER_VARIABLES) | REQUIREMENT_KEYS - {"issuers"}, here)
        jwks_uri = table.get("jwks_uri")
        if jwks_uri is not None and key_sets.setdefault(jwks_uri, here) != here:
            raise ConfigError(
                f"{here}: jwks_uri is also {key_sets[jwks_uri].rsplit(': ', 1)[-1]}'s;"
                " each issuer's keys must be its own"
            )
        built.append(build_issuers(table, place(here), resource))
    return _at_most(_with_siblings(built), where)


def _with_siblings(built: list[list[IssuerSettings]]) -> tuple[IssuerSettings, ...]:
    """The configured issuers, then the siblings their presets add (unless configured too)."""
    configured = [group[0] for group in built]
    names = {issuer.issuer for issuer in configured}
    siblings = [s for group in built for s in group[1:] if s.issuer not in names]
    return (*configured, *siblings)


def _at_most(issuers: tuple[IssuerSettings, ...], where: str) -> tuple[IssuerSettings, ...]:
    if len(issuers) > MAX_ISSUERS:
        raise ConfigError(f"{where}: at most {MAX_ISSUERS} issuers, got {len(issuers)}")
    return issuers


def build_issuers(
    values: Mapping[str, Any], label: Label, resource: ResourceSettings | None = None
) -> list[IssuerSettings]:
    """One issuer's settings (plus its provider's sibling issuers) from raw ``values``.

    ``values`` uses the rules-file keys; ``label(key)`` names a key in errors
    (the environment variable, or the place in the rules file).
    """
    provider_name = text(values, "provider", label) or "generic"
    provider = PROVIDERS.get(provider_name.lower())
    if provider is None:
        raise ConfigError(
            f"{label('provider')} must be one of {', '.join(PROVIDERS)}, got {provider_name!r}"
        )
    issuer = provider.normalize_issuer(text(values, "issuer", label) or "")
    if not issuer:
        raise ConfigError(f"{label('issuer')} is required but not set")
    problem = provider.issuer_problem(issuer)
    if problem is not None:
        raise ConfigError(f"{label('issuer')} {problem}")
    template = _template(values, label, provider, issuer)
    check_url(label("issuer"), issuer.replace(TENANT, "tenant"))
    jwks_uri = text(values, "jwks_uri", label)
    if jwks_uri is not None:
        check_url(label("jwks_uri"), jwks_uri)
    if template is not None and (jwks_uri or provider.jwks_uri_for(issuer)) is None:
        raise ConfigError(
            f"{label('issuer')} is an issuer template, whose tenants share one key set: set"
            f" {label('jwks_uri')} to it (a template has no discovery document)"
        )
    audiences = texts(values, "audiences", label)
    if audiences is None and resource is not None:
        audiences = (resource.resource,)
    if audiences is None:
        if not provider.issuer_is_default_audience or template is not None:
            raise ConfigError(f"{label('audiences')} is required but not set")
        audiences = (issuer,)
    audience_claim = text(values, "audience_claim", label) or provider.audience_claim
    if audience_claim not in AUDIENCE_CLAIMS:
        raise ConfigError(
            f"{label('audience_claim')} must be one of {', '.join(AUDIENCE_CLAIMS)},"
            f" got {audience_claim!r}"
        )
    if resource is not None:
        audiences = audiences_for(resource, audiences, label("audiences"), claim=audience_claim)
    reject_id_tokens = flag(values, "reject_id_tokens", label, True)
    role_claims = values.get("role_claims")
    settings = IssuerSettings(
        issuer=issuer,
        audiences=audiences,
        provider=provider.name,
        jwks_uri=jwks_uri or provider.jwks_uri_for(issuer),
        algorithms=algorithm_names(
            texts(values, "algorithms", label) or ("RS256",), label("algorithms")
        ),
        audience_claim=audience_claim,
        required_typ=_typ(text(values, "required_typ", label), label),
        reject_id_tokens=reject_id_tokens,
        token_use=provider.token_use if reject_id_tokens else None,
        access_token_id_claims=provider.access_token_id_claims,
        id_token_audiences=audiences if provider.audiences_are_client_ids else (),
        scope_claims=texts(values, "scope_claims", label) or provider.scope_claims,
        role_claims=(
            _role_paths(role_claims, label)
            if role_claims is not None
            else provider.role_paths(audiences)
        ),
        requirements=_issuer_requirements(values, provider, label),
        keys_file=_keys_file(values, label),
        binding=_binding(values, label),
        template=template,
        introspection=_introspection(values, label),
    )
    siblings = [
        replace(
            settings,
            issuer=sibling,
            jwks_uri=jwks_uri or provider.jwks_uri_for(sibling),
            template=replace(template, template=sibling) if template is not None else None,
        )
        for sibling in provider.sibling_issuers(issuer)
    ]
    return [settings, *siblings]


def _introspection(values: Mapping[str, Any], label: Label) -> Introspection | None:
    """How this issuer's opaque tokens are introspected, when a client id is configured."""
    client_id = text(values, "introspection_client_id", label)
    others = ("introspection_client_secret", "introspection_endpoint", "introspection_auth")
    if client_id is None:
        for key in others:
            if text(values, key, label) is not None:
                raise ConfigError(
                    f"{label(key)} is set, but {label('introspection_client_id')} is not"
                )
        return None
    secret = text(values, "introspection_client_secret", label)
    if secret is None:
        raise ConfigError(
            f"{label('introspection_client_secret')} is required with"
            f" {label('introspection_client_id')}: ssm:/name or secretsmanager:name"
        )
    endpoint = text(values, "introspection_endpoint", label)
    if endpoint is not None:
        check_url(label("introspection_endpoint"), endpoint)
    auth = text(values, "introspection_auth", label) or INTROSPECTION_AUTH[0]
    if auth not in INTROSPECTION_AUTH:
        raise ConfigError(
            f"{label('introspection_auth')} must be one of {', '.join(INTROSPECTION_AUTH)},"
            f" got {auth!r}"
        )
    where = f"{label('introspection_client_secret')} ({secret})"
    value = read_secret(secret, where)
    if auth == "private_key_jwt":
        from ..tokens.introspect import private_key  # noqa: PLC0415 - introspection only

        try:
            private_key(value)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{where}: with private_key_jwt the secret is the client's private key, an"
                f" unencrypted RSA or EC key in PEM: {exc}"
            ) from None
    return Introspection(client_id, value, endpoint, auth)


def _template(
    values: Mapping[str, Any], label: Label, provider: Provider, issuer: str
) -> IssuerTemplate | None:
    """The issuer as a template, when it has ``{tenant}`` in it; its tenants are then required."""
    tenants = texts(values, "tenants", label)
    tenant_claim = text(values, "tenant_claim", label)
    if TENANT not in issuer:
        for key, value in (("tenants", tenants), ("tenant_claim", tenant_claim)):
            if value is not None:
                raise ConfigError(
                    f"{label(key)} is set, but {label('issuer')} has no {TENANT} in it"
                )
        return None
    where = f"{label('issuer')} ({issuer})"
    if issuer.count(TENANT) != 1 or "{" in issuer.replace(TENANT, ""):
        raise ConfigError(f"{where}: an issuer template holds {TENANT} once, and nothing else")
    before, after = issuer.split(TENANT)
    if not (before.endswith(("/", "://")) and after[:1] in ("", "/", ".")):
        raise ConfigError(
            f"{where}: {TENANT} must be a whole path segment or host label"
            " (https://login.microsoftonline.com/{tenant}/v2.0)"
        )
    if tenants is None:
        raise ConfigError(
            f"{where} is an issuer template: list the tenants it accepts in"
            f" {label('tenants')}, or say * for any tenant"
        )
    if tenants == ("*",):
        accepted = None
    else:
        bad = [tenant for tenant in tenants if not is_tenant(tenant)]
        if bad:
            raise ConfigError(
                f"{label('tenants')}: {bad[0]!r} is not a tenant (letters, digits, - and _;"
                " * alone for any tenant)"
            )
        accepted = frozenset(tenants)
    return IssuerTemplate(issuer, accepted, tenant_claim or provider.tenant_claim)


#: One year: a bundled set that stays fresh or usable longer than this is a typo.
_MAX_KEYS_FILE_SECONDS = 366 * 86400


def _keys_file(values: Mapping[str, Any], label: Label) -> KeysFile | None:
    path = text(values, "keys_file", label)
    fresh = whole(values, "keys_file_fresh_seconds", label, 30, _MAX_KEYS_FILE_SECONDS)
    max_age = whole(values, "keys_file_max_age_seconds", label, 60, _MAX_KEYS_FILE_SECONDS)
    if path is None:
        for key, value in (
            ("keys_file_fresh_seconds", fresh),
            ("keys_file_max_age_seconds", max_age),
        ):
            if value is not None:
                raise ConfigError(f"{label(key)} is set, but {label('keys_file')} is not")
        return None
    return KeysFile(
        where=f"{label('keys_file')} ({path})",
        source=path,
        fresh_seconds=fresh,
        max_age_seconds=max_age,
    )


def _binding(values: Mapping[str, Any], label: Label) -> BindingPolicy:
    raw = (text(values, "sender_constraint", label) or "bearer").lower()
    constraint = next((known for known in SENDER_CONSTRAINTS if known == raw), None)
    if constraint is None:
        raise ConfigError(
            f"{label('sender_constraint')} must be one of {', '.join(SENDER_CONSTRAINTS)},"
            f" got {raw!r}"
        )
    as_bearer = flag(values, "bound_tokens_as_bearer", label, False)
    if as_bearer and constraint != "bearer":
        raise ConfigError(
            f"{label('bound_tokens_as_bearer')} ignores token bindings, which"
            f" {label('sender_constraint')}={constraint} checks: set one or the other"
        )
    return BindingPolicy(constraint, as_bearer)


def _issuer_requirements(
    values: Mapping[str, Any], provider: Provider, label: Label
) -> tuple[AccessRule, ...]:
    where = label("scopes_all").rsplit(": ", 1)[0]  # the variable, or the issuer table
    rules: list[AccessRule] = []
    # An issuer table's tenants are the template's (checked with the token), not a route's.
    requirements = {key: value for key, value in values.items() if key != "tenants"}
    if not REQUIREMENT_KEYS.isdisjoint(requirements):
        rules.extend(parse_requirements(requirements, where))
    for key, expected in (("deny_anonymous", False), ("require_verified", True)):
        if not flag(values, key, label, False):
            continue
        if not provider.authgear_user_claims:
            raise ConfigError(f"{label(key)} needs the authgear provider")
        from ..access.rules import ClaimEquals, ClaimIsNot  # noqa: PLC0415 - see the imports

        if expected:
            rules.append(ClaimEquals((AUTHGEAR_VERIFIED,), True))
        else:
            rules.append(ClaimIsNot((AUTHGEAR_ANONYMOUS,), True))
    return tuple(rules)


def _role_claims_text(raw: str) -> object:
    """``AUTHORIZER_ROLES_CLAIMS``: claim names separated by commas, or a JSON array of paths."""
    if not raw.startswith("["):
        return split(raw)
    from ..strictjson import loads_strict  # noqa: PLC0415 - only this spelling needs JSON

    try:
        return loads_strict(raw)
    except ValueError:
        raise ConfigError("AUTHORIZER_ROLES_CLAIMS is not a valid JSON array") from None


def _role_paths(value: object, label: Label) -> tuple[ClaimPath, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{label('role_claims')} must list claim names or paths")
    return tuple(claim_path(item, label("role_claims")) for item in items)


def _typ(raw: str | None, label: Label) -> str | None:
    if raw is None:
        return None
    typ = normalize_typ(raw)
    if not typ or any(char.isspace() or char == "," for char in typ):
        raise ConfigError(
            f"{label('required_typ')} must be one media type such as at+jwt, got {raw!r}"
        )
    return typ
