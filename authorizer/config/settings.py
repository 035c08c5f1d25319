"""Settings: one frozen object read from the environment and validated once.

:func:`load_settings` is called at cold start. Any missing or invalid value
raises :class:`~authorizer.errors.ConfigError` with one message that names the
variable and what is wrong, so the function fails its init instead of
answering requests with a half-configured verifier. The issuers are read by
:mod:`.issuers`, the context selection by :mod:`.contextsettings`, the route
rules by :mod:`.rulesfile`; this module reads the rest and checks what spans
them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from ..errors import ConfigError
from ..gateway.context import ContextSettings
from ..keys.jwk import SUPPORTED_ALGORITHMS
from .bundledkeys import read_bundled_keys
from .contextsettings import VARIABLES as CONTEXT_VARIABLES
from .contextsettings import read_context_settings
from .issuers import ISSUER_VARIABLES, IssuerSettings, env_issuers, file_issuers
from .resource import RESOURCE_VARIABLES, ResourceSettings, read_resource
from .rulesfile import VARIABLE as RULES_VARIABLE
from .rulesfile import parse_rule_set, read_rules_file
from .sources import Document
from .values import Env, algorithm_names, did_you_mean, split

if TYPE_CHECKING:  # the rule classes load only where rules are configured (cold start)
    from ..access.rules import AccessRule, RuleSet

HttpApiResponse = Literal["simple", "iam"]
#: What an HTTP API simple response is reused for by API Gateway's cache: every route of the
#: API (``api``: the identity sources hold no route), every request of its route key
#: (``route``: ``$context.routeKey`` is an identity source), or its own request alone
#: (``off``: the API's authorizer cache is off). A simple response holds for all of them.
SimpleResponseCache = Literal["api", "route", "off"]

#: The DPoP proof settings, shared by every issuer whose policy is not ``bearer``.
DPOP_VARIABLES = (
    "AUTHORIZER_DPOP_ALGORITHMS",
    "AUTHORIZER_DPOP_MAX_AGE_SECONDS",
    "AUTHORIZER_DPOP_REPLAY_CACHE_SIZE",
    "AUTHORIZER_DPOP_REPLAY_STORE",
    "AUTHORIZER_DPOP_REPLAY_TABLE",
)


#: Enough for a few hundred proofs a second per environment over 60 s; ~150 bytes each.
DEFAULT_REPLAY_CACHE_SIZE = 32768


@dataclass(frozen=True, slots=True)
class DpopSettings:
    """How DPoP proofs are checked (RFC 9449): algorithms, age, and where used proofs are kept."""

    algorithms: tuple[str, ...] = SUPPORTED_ALGORITHMS
    max_age_seconds: int = 60
    replay_cache_size: int = DEFAULT_REPLAY_CACHE_SIZE
    #: ``module:callable`` making a shared store (:mod:`authorizer.binding.replay`; None: memory).
    replay_store: str | None = None
    #: A DynamoDB table (name or ARN) shared by every environment (:mod:`..binding.replaytable`).
    replay_table: str | None = None


#: Every variable the authorizer reads. Any other variable with one of our
#: prefixes is a typo that would silently weaken a check, so it is an error.
KNOWN_VARIABLES: frozenset[str] = frozenset(
    {
        *ISSUER_VARIABLES.values(),
        *CONTEXT_VARIABLES,
        RULES_VARIABLE,
        "JWT_LEEWAY_SECONDS",
        "JWT_MAX_TOKEN_BYTES",
        "AUTHORIZER_HTTP_API_RESPONSE",
        "AUTHORIZER_SIMPLE_RESPONSE_CACHE",
        "AUTHORIZER_TOKEN_HEADER",
        "AUTHORIZER_TOKEN_QUERY_PARAMETER",
        "AUTHORIZER_TOKEN_CACHE_SIZE",
        "AUTHORIZER_PRINCIPAL_CLAIMS",
        "AUTHORIZER_USAGE_IDENTIFIER_CLAIM",
        "JWKS_CACHE_SECONDS",
        "JWKS_REFRESH_COOLDOWN_SECONDS",
        "JWKS_MAX_STALE_SECONDS",
        "JWKS_FETCH_TIMEOUT_SECONDS",
        "JWKS_PREFETCH",
        "AUTHORIZER_CONFIG_REFRESH_SECONDS",
        "AUTHORIZER_INTROSPECTION_CACHE_SECONDS",
        *DPOP_VARIABLES,
        *RESOURCE_VARIABLES,
    }
)
#: The first words of every setting's name (the tools clear these before setting their own).
SETTING_PREFIXES = ("JWT_", "JWKS_", "AUTHORIZER_")
#: First words of a variable name that mean ours (``AUTH_RULES``, ``OIDC_ISSUER``): a name
#: with one of them whose rest is one of our settings' is a near miss, never someone else's.
_ALIAS_PREFIXES = frozenset(
    {"AUTH", "AUTHORISER", "AUTHORIZATION", "AUTHORISATION", "AUTHZ", "OIDC", "OAUTH", "JWK"}
)
#: Variables of Lambda, its runtimes and Powertools: never near misses of ours.
_NOT_OURS = ("AWS_", "LAMBDA_", "_", "POWERTOOLS_", "PYTHON")
#: Each variable's template parameter, for messages (what a `sam deploy` user typed).
TEMPLATE_PARAMETERS: dict[str, str] = {
    "JWT_ISSUER": "Issuer",
    "AUTHORIZER_CONFIG_REFRESH_SECONDS": "ConfigRefreshSeconds",
    "JWT_PROVIDER": "Provider",
    "JWT_AUDIENCE": "Audience",
    "JWT_JWKS_URI": "JwksUri",
    "JWT_ALGORITHMS": "Algorithms",
    "JWT_REQUIRED_SCOPES": "RequiredScopes",
    "AUTHORIZER_ROLES_CLAIMS": "RolesClaims",
    "JWT_AUDIENCE_CLAIM": "AudienceClaim",
    "AUTHORIZER_SCOPE_CLAIMS": "ScopeClaims",
    "JWT_REQUIRED_TYP": "RequiredTyp",
    "JWT_REJECT_ID_TOKENS": "RejectIdTokens",
    "JWT_SENDER_CONSTRAINT": "SenderConstraint",
    "JWT_BOUND_TOKENS_AS_BEARER": "BoundTokensAsBearer",
    "JWT_TENANTS": "Tenants",
    "JWT_TENANT_CLAIM": "TenantClaim",
    "JWT_INTROSPECTION_CLIENT_ID": "IntrospectionClientId",
    "JWT_INTROSPECTION_CLIENT_SECRET": "IntrospectionClientSecret",
    "JWT_INTROSPECTION_ENDPOINT": "IntrospectionEndpoint",
    "JWT_INTROSPECTION_AUTH": "IntrospectionAuth",
    "AUTHORIZER_INTROSPECTION_CACHE_SECONDS": "IntrospectionCacheSeconds",
    "AUTHORIZER_DPOP_ALGORITHMS": "DpopAlgorithms",
    "AUTHORIZER_DPOP_MAX_AGE_SECONDS": "DpopMaxAgeSeconds",
    "AUTHORIZER_DPOP_REPLAY_CACHE_SIZE": "DpopReplayCacheSize",
    "AUTHORIZER_DPOP_REPLAY_STORE": "DpopReplayStore",
    "AUTHORIZER_DPOP_REPLAY_TABLE": "DpopReplayTable",
    "AUTHORIZER_DENY_ANONYMOUS": "DenyAnonymous",
    "AUTHORIZER_REQUIRE_VERIFIED": "RequireVerified",
    "JWT_KEYS_FILE": "KeysFile",
    "JWT_KEYS_FILE_FRESH_SECONDS": "KeysFileFreshSeconds",
    "JWT_KEYS_FILE_MAX_AGE_SECONDS": "KeysFileMaxAgeSeconds",
    "JWT_LEEWAY_SECONDS": "LeewaySeconds",
    "JWT_MAX_TOKEN_BYTES": "MaxTokenBytes",
    "AUTHORIZER_RULES": "RulesFile",
    "AUTHORIZER_HTTP_API_RESPONSE": "HttpApiResponse",
    "AUTHORIZER_SIMPLE_RESPONSE_CACHE": "SimpleResponseCache",
    "AUTHORIZER_TOKEN_HEADER": "TokenHeader",
    "AUTHORIZER_TOKEN_QUERY_PARAMETER": "TokenQueryParameter",
    "AUTHORIZER_PRINCIPAL_CLAIMS": "PrincipalClaims",
    "AUTHORIZER_USAGE_IDENTIFIER_CLAIM": "UsageIdentifierClaim",
    "AUTHORIZER_CONTEXT_CLAIMS": "ContextClaims",
    "AUTHORIZER_CONTEXT_EXCLUDE": "ContextExclude",
    "AUTHORIZER_CONTEXT_RENAME": "ContextRename",
    "AUTHORIZER_TOKEN_CACHE_SIZE": "TokenCacheSize",
    "JWKS_CACHE_SECONDS": "JwksCacheSeconds",
    "JWKS_REFRESH_COOLDOWN_SECONDS": "JwksRefreshCooldownSeconds",
    "JWKS_MAX_STALE_SECONDS": "JwksMaxStaleSeconds",
    "JWKS_FETCH_TIMEOUT_SECONDS": "JwksFetchTimeoutSeconds",
    "JWKS_PREFETCH": "JwksPrefetch",
    "AUTHORIZER_RESOURCE": "Resource",
    "AUTHORIZER_RESOURCE_METADATA_URL": "ResourceMetadataUrl",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the authorizer needs to know, validated."""

    issuers: tuple[IssuerSettings, ...]
    route_rules: RuleSet | None = None
    context: ContextSettings = field(default_factory=ContextSettings)
    leeway_seconds: int = 60
    max_token_bytes: int = 16384
    principal_claims: tuple[str, ...] = ("sub",)
    usage_identifier_claim: str | None = None
    http_api_response: HttpApiResponse = "simple"
    simple_response_cache: SimpleResponseCache = "api"
    token_header: str = "Authorization"
    token_query_parameter: str | None = "access_token"
    token_cache_size: int = 1024
    jwks_cache_seconds: int = 600
    jwks_refresh_cooldown_seconds: int = 30
    jwks_max_stale_seconds: int = 86400
    jwks_fetch_timeout_seconds: float = 3.0
    jwks_prefetch: bool = True
    dpop: DpopSettings = field(default_factory=DpopSettings)
    #: The documents the settings were read from (rules, pinned key sets), with their digests.
    documents: tuple[Document, ...] = ()
    #: How often those are read again (None: never; each environment keeps what it read).
    refresh_seconds: int | None = None
    #: The API as an OAuth protected resource (RFC 9728): tokens must be for it alone.
    resource: ResourceSettings | None = None
    #: How long an opaque token's introspected answer may be reused, at most (its exp first).
    introspection_cache_seconds: int = 300


def load_settings(environ: Mapping[str, str], *, bundled_keys: bool = True) -> Settings:
    """Build :class:`Settings` from ``environ``; raise :class:`ConfigError` on any bad value.

    ``bundled_keys=False`` leaves the bundled key files unread (``keys pin`` writes them).
    A message that names a variable names its template parameter too.
    """
    try:
        return _load_settings(environ, bundled_keys=bundled_keys)
    except ConfigError as exc:
        raise ConfigError(with_parameter(str(exc))) from None


def with_parameter(message: str) -> str:
    """``message`` with the template parameter of the first variable it names, if any."""
    for variable in re.findall(r"\b[A-Z][A-Z0-9_]*[A-Z0-9]\b", message):
        parameter = TEMPLATE_PARAMETERS.get(variable)
        if parameter is not None and f"parameter {parameter}" not in message:
            return f"{message} [template parameter {parameter}]"
    return message


def _load_settings(environ: Mapping[str, str], *, bundled_keys: bool) -> Settings:
    _reject_unknown_variables(environ)
    env = Env(environ)
    resource = read_resource(env)
    document: dict[str, Any] = {}
    where = ""
    read: list[Document] = []
    rules_path = env.optional(RULES_VARIABLE)
    if rules_path is not None:
        where, document, rules_read = read_rules_file(rules_path)
        read.append(rules_read)
    if "issuer" in document:
        for name in ISSUER_VARIABLES.values():
            if env.optional(name) is not None:
                raise ConfigError(
                    f"{name} is set, but {RULES_VARIABLE} lists the issuers:"
                    " set it per issuer there"
                )
        issuers = file_issuers(document["issuer"], where, resource=resource)
    else:
        issuers = env_issuers(env, resource=resource)
    if len({issuer.issuer for issuer in issuers}) != len(issuers):
        source = f"{RULES_VARIABLE} ({rules_path})" if "issuer" in document else "JWT_ISSUER"
        raise ConfigError(f"{source} lists the same issuer twice")
    if bundled_keys:
        issuers = tuple(_with_bundled_keys(issuer) for issuer in issuers)
    route_rules = parse_rule_set(document, where) if rules_path is not None else None
    _check_roles_are_readable(issuers, route_rules)
    return Settings(
        issuers=issuers,
        route_rules=route_rules,
        context=read_context_settings(env, document.get("context"), where),
        leeway_seconds=env.integer("JWT_LEEWAY_SECONDS", 60, 0, 300),
        max_token_bytes=env.integer("JWT_MAX_TOKEN_BYTES", 16384, 1024, 65536),
        principal_claims=_names(
            "AUTHORIZER_PRINCIPAL_CLAIMS", env.optional("AUTHORIZER_PRINCIPAL_CLAIMS") or "sub"
        ),
        usage_identifier_claim=env.optional("AUTHORIZER_USAGE_IDENTIFIER_CLAIM"),
        http_api_response=cast(
            HttpApiResponse, _one_of(env, "AUTHORIZER_HTTP_API_RESPONSE", HttpApiResponse)
        ),
        simple_response_cache=cast(
            SimpleResponseCache,
            _one_of(env, "AUTHORIZER_SIMPLE_RESPONSE_CACHE", SimpleResponseCache),
        ),
        token_header=_header_name(env.optional("AUTHORIZER_TOKEN_HEADER") or "Authorization"),
        token_query_parameter=_query_parameter(environ),
        token_cache_size=env.integer("AUTHORIZER_TOKEN_CACHE_SIZE", 1024, 0, 100000),
        jwks_cache_seconds=env.integer("JWKS_CACHE_SECONDS", 600, 30, 604800),
        jwks_refresh_cooldown_seconds=env.integer("JWKS_REFRESH_COOLDOWN_SECONDS", 30, 1, 3600),
        jwks_max_stale_seconds=env.integer("JWKS_MAX_STALE_SECONDS", 86400, 0, 2592000),
        jwks_fetch_timeout_seconds=env.number("JWKS_FETCH_TIMEOUT_SECONDS", 3.0, 0.1, 10.0),
        jwks_prefetch=env.boolean("JWKS_PREFETCH", True),
        dpop=_dpop_settings(env, issuers),
        documents=_documents(read, issuers),
        refresh_seconds=_refresh_seconds(env, rules_path, issuers),
        resource=resource,
        introspection_cache_seconds=_introspection_cache(env, issuers),
    )


def _documents(rules: list[Document], issuers: tuple[IssuerSettings, ...]) -> tuple[Document, ...]:
    keys = [issuer.bundled_keys.document for issuer in issuers if issuer.bundled_keys is not None]
    return tuple({document.source: document for document in [*rules, *keys]}.values())


def _introspection_cache(env: Env, issuers: tuple[IssuerSettings, ...]) -> int:
    name = "AUTHORIZER_INTROSPECTION_CACHE_SECONDS"
    introspecting = [issuer for issuer in issuers if issuer.introspection is not None]
    if not introspecting and env.optional(name) is not None:
        raise ConfigError(f"{name} is set, but no issuer introspects (JWT_INTROSPECTION_CLIENT_ID)")
    if len(introspecting) > 1:
        raise ConfigError(
            "JWT_INTROSPECTION_CLIENT_ID: an opaque token names no issuer, so one issuer at"
            f" most may introspect, got {', '.join(issuer.issuer for issuer in introspecting)}"
        )
    for issuer in introspecting:
        if issuer.binding.constraint != "bearer" or issuer.template is not None:
            raise ConfigError(
                f"JWT_INTROSPECTION_CLIENT_ID: issuer {issuer.issuer} introspects, which is"
                " for bearer tokens of one issuer (no sender constraint, no issuer template)"
            )
    return env.integer(name, 300, 1, 3600)


def _refresh_seconds(
    env: Env, rules_path: str | None, issuers: tuple[IssuerSettings, ...]
) -> int | None:
    name = "AUTHORIZER_CONFIG_REFRESH_SECONDS"
    seconds = env.integer(name, 0, 0, 86400) or None
    if seconds is not None and seconds < 60:
        raise ConfigError(f"{name} must be 0 (never) or from 60 to 86400, got {seconds}")
    if seconds is not None and not rules_path and all(i.keys_file is None for i in issuers):
        raise ConfigError(f"{name} is set, but there are no rules or pinned keys to read again")
    return seconds


def _dpop_settings(env: Env, issuers: tuple[IssuerSettings, ...]) -> DpopSettings:
    variable = "AUTHORIZER_DPOP_ALGORITHMS"
    names = tuple(dict.fromkeys(split(env.optional(variable) or "")))
    algorithms = algorithm_names(names, variable)
    settings = DpopSettings(
        algorithms=algorithms or SUPPORTED_ALGORITHMS,
        max_age_seconds=env.integer("AUTHORIZER_DPOP_MAX_AGE_SECONDS", 60, 5, 600),
        replay_cache_size=env.integer(
            "AUTHORIZER_DPOP_REPLAY_CACHE_SIZE", DEFAULT_REPLAY_CACHE_SIZE, 1, 1_000_000
        ),
        replay_store=env.optional("AUTHORIZER_DPOP_REPLAY_STORE"),
        replay_table=env.optional("AUTHORIZER_DPOP_REPLAY_TABLE"),
    )
    if settings.replay_store is not None and settings.replay_table is not None:
        raise ConfigError(
            "AUTHORIZER_DPOP_REPLAY_TABLE and AUTHORIZER_DPOP_REPLAY_STORE are both set:"
            " choose one shared replay store"
        )
    if not any(issuer.binding.constraint != "bearer" for issuer in issuers):
        for name in DPOP_VARIABLES:
            if env.optional(name) is not None:
                raise ConfigError(
                    f"{name} is set, but no issuer takes DPoP proofs"
                    " (JWT_SENDER_CONSTRAINT is bearer)"
                )
    return settings


def _with_bundled_keys(issuer: IssuerSettings) -> IssuerSettings:
    if issuer.keys_file is None:
        return issuer
    bundled = read_bundled_keys(
        issuer.keys_file,
        issuer=issuer.issuer,
        jwks_uri=issuer.jwks_uri,
        now=time.time(),  # wall clock: the file says when, in real time, the keys were fetched
    )
    return replace(issuer, bundled_keys=bundled)


def _check_roles_are_readable(
    issuers: tuple[IssuerSettings, ...], route_rules: RuleSet | None
) -> None:
    """A rule that needs roles must have somewhere to read them, for every issuer it applies to.

    Otherwise it can never pass: a route meant for admins would be denied to
    everyone, silently, until someone wonders why.
    """
    if route_rules is None and not any(issuer.requirements for issuer in issuers):
        return
    from ..access.rules import IssuerIn, RolesAll, RolesAny  # noqa: PLC0415 - loaded with the rules

    def needs_roles(rules: tuple[AccessRule, ...]) -> bool:
        return any(isinstance(rule, (RolesAll, RolesAny)) for rule in rules)

    checks = [(i.issuer, i.requirements, f"issuer {i.issuer}") for i in issuers]
    for route in route_rules.routes if route_rules is not None else ():
        limited = [rule.issuers for rule in route.requirements if isinstance(rule, IssuerIn)]
        for issuer in issuers:
            if all(issuer.issuer in allowed for allowed in limited):
                checks.append((issuer.issuer, route.requirements, route.label))
    by_name = {issuer.issuer: issuer for issuer in issuers}
    for name, rules, place in checks:
        issuer = by_name[name]
        if needs_roles(rules) and not issuer.role_claims:
            raise ConfigError(
                f"{place} needs roles, but issuer {name} ({issuer.provider} preset) reads"
                " roles from no claim: set AUTHORIZER_ROLES_CLAIMS (the template's"
                " RolesClaims parameter), or role_claims in its [[issuer]] table"
            )


def _reject_unknown_variables(environ: Mapping[str, str]) -> None:
    """Refuse a variable that looks like ours but is not one: it would turn a check off silently.

    Ours by prefix (``JWT_``, ``JWKS_``, ``AUTHORIZER_``); ours by another first word
    that means the same (``AUTH_RULES``); or within two edits of one of ours
    (``AUTHORISER_RULES``). Lambda's, AWS's and Powertools' variables are never looked at.
    """
    for name in sorted(environ):
        if name in KNOWN_VARIABLES or name.startswith(_NOT_OURS):
            continue
        first, _, rest = name.partition("_")
        alias = next(
            (
                f"{prefix}{rest}"
                for prefix in SETTING_PREFIXES
                if first in _ALIAS_PREFIXES and f"{prefix}{rest}" in KNOWN_VARIABLES
            ),
            None,
        )
        if alias is not None:
            raise ConfigError(
                f"{name} is not a setting this authorizer knows (did you mean {alias}?)"
            )
        near = name.startswith(SETTING_PREFIXES) or any(
            _within_two_edits(name, known) for known in KNOWN_VARIABLES
        )
        if near:
            hint = did_you_mean(name, KNOWN_VARIABLES)
            raise ConfigError(f"{name} is not a setting this authorizer knows{hint}")


def _within_two_edits(name: str, known: str) -> bool:
    """Levenshtein distance at most 2 (for names of 8 characters or more)."""
    if len(name) < 8 or abs(len(name) - len(known)) > 2:
        return False
    previous = list(range(len(known) + 1))
    for i, char in enumerate(name, 1):
        current = [i]
        for j, other in enumerate(known, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            )
        if min(current) > 2:
            return False
        previous = current
    return previous[-1] <= 2


def _names(variable: str, raw: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(split(raw)))
    if not names:
        raise ConfigError(f"{variable} must list at least one claim name")
    return names


def _one_of(env: Env, name: str, choices: Any) -> str:
    """``name``'s value, lower-cased, when the ``Literal`` ``choices`` holds it (unset: its first).

    Anything else is a ConfigError that lists the choices.
    """
    choices = get_args(choices)
    raw = env.optional(name)
    value = (raw or choices[0]).lower()
    if value not in choices:
        allowed = ", ".join(f"'{choice}'" for choice in choices)
        raise ConfigError(f"{name} must be one of {allowed}, got {raw!r}")
    return value


def _header_name(raw: str) -> str:
    # RFC 9110 token characters: a header name never holds spaces or separators.
    allowed = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if not set(raw) <= allowed:
        raise ConfigError(f"AUTHORIZER_TOKEN_HEADER is not a valid header name: {raw!r}")
    return raw


def _query_parameter(environ: Mapping[str, str]) -> str | None:
    # Set but empty means "disabled"; unset means the RFC 6750 default name.
    if "AUTHORIZER_TOKEN_QUERY_PARAMETER" not in environ:
        return "access_token"
    value = environ["AUTHORIZER_TOKEN_QUERY_PARAMETER"].strip()
    return value or None
