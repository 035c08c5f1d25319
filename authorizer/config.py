"""Settings: one frozen object read from the environment and validated once.

:func:`load_settings` is called at cold start. Any missing or invalid value
raises :class:`~authorizer.errors.ConfigError` with one message that names the
variable and what is wrong, so the function fails its init instead of
answering requests with a half-configured verifier.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .context import RESERVED_KEYS
from .errors import ConfigError
from .fetch import url_problem
from .keys import SUPPORTED_ALGORITHMS
from .providers import AUTHGEAR_ANONYMOUS, AUTHGEAR_VERIFIED, PROVIDERS, Provider
from .rulesfile import (
    REQUIREMENT_KEYS,
    claim_path,
    numbered_tables,
    parse_requirements,
    parse_rule_set,
    read_rules_file,
)
from .rulesfile import VARIABLE as RULES_VARIABLE
from .rulesfile import only_keys as _only_keys
from .verify import normalize_typ

if TYPE_CHECKING:  # the rule classes load only where rules are configured (cold start)
    from .access import AccessRule, ClaimPath, RuleSet

HttpApiResponse = Literal["simple", "iam"]

#: Every variable this module reads. Any other variable with one of our
#: prefixes is a typo that would silently weaken a check, so it is an error.
KNOWN_VARIABLES: frozenset[str] = frozenset(
    {
        "JWT_ISSUER",
        "JWT_PROVIDER",
        "JWT_AUDIENCE",
        "JWT_AUDIENCE_CLAIM",
        "JWT_JWKS_URI",
        "JWT_ALGORITHMS",
        "JWT_REQUIRED_SCOPES",
        "JWT_LEEWAY_SECONDS",
        "JWT_MAX_TOKEN_BYTES",
        "JWT_REQUIRED_TYP",
        "JWT_REJECT_ID_TOKENS",
        "AUTHORIZER_RULES",
        "AUTHORIZER_ROLES_CLAIMS",
        "AUTHORIZER_SCOPE_CLAIMS",
        "AUTHORIZER_DENY_ANONYMOUS",
        "AUTHORIZER_REQUIRE_VERIFIED",
        "AUTHORIZER_CONTEXT_CLAIMS",
        "AUTHORIZER_CONTEXT_EXCLUDE",
        "AUTHORIZER_CONTEXT_RENAME",
        "AUTHORIZER_HTTP_API_RESPONSE",
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
    }
)
_OUR_PREFIXES = ("JWT_", "JWKS_", "AUTHORIZER_")

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
}
AUDIENCE_CLAIMS = ("aud", "client_id", "azp")


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
    token_use: tuple[str, str] | None = None
    #: ID-token claims that access tokens carrying the ``token_use`` marker may hold too.
    access_token_id_claims: frozenset[str] = frozenset()
    #: ``aud`` values that only ID tokens carry (Cognito app client ids).
    id_token_audiences: tuple[str, ...] = ()
    scope_claims: tuple[str, ...] = ("scope", "scp")
    role_claims: tuple[ClaimPath, ...] = ()
    #: Access requirements every request with this issuer's tokens must pass (403 otherwise).
    requirements: tuple[AccessRule, ...] = ()

    @property
    def discovery_uri(self) -> str:
        """OpenID Connect Discovery 1.0 section 4: strip one trailing slash, then append."""
        base = self.issuer[:-1] if self.issuer.endswith("/") else self.issuer
        return f"{base}/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class ContextSettings:
    """Which claims go into the authorizer context, and under which names."""

    include: frozenset[str] | None = None  # None: every claim
    exclude: frozenset[str] = frozenset()
    rename: Mapping[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """False when every claim passes under its own name (nothing to do)."""
        return self.include is not None or bool(self.exclude) or bool(self.rename)


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
    token_header: str = "Authorization"
    token_query_parameter: str | None = "access_token"
    token_cache_size: int = 1024
    jwks_cache_seconds: int = 600
    jwks_refresh_cooldown_seconds: int = 30
    jwks_max_stale_seconds: int = 86400
    jwks_fetch_timeout_seconds: float = 3.0
    jwks_prefetch: bool = True


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from ``environ``; raise :class:`ConfigError` on any bad value."""
    _reject_unknown_variables(environ)
    env = _Env(environ)
    document: dict[str, Any] = {}
    where = ""
    rules_path = env.optional(RULES_VARIABLE)
    if rules_path is not None:
        where, document = read_rules_file(rules_path)
    if "issuer" in document:
        for name in ISSUER_VARIABLES.values():
            if env.optional(name) is not None:
                raise ConfigError(
                    f"{name} is set, but {RULES_VARIABLE} lists the issuers:"
                    " set it per issuer there"
                )
        issuers = _file_issuers(document["issuer"], where)
    else:
        issuers = _env_issuers(env)
    if len({issuer.issuer for issuer in issuers}) != len(issuers):
        source = f"{RULES_VARIABLE} ({rules_path})" if "issuer" in document else "JWT_ISSUER"
        raise ConfigError(f"{source} lists the same issuer twice")
    route_rules = parse_rule_set(document, where) if rules_path is not None else None
    _check_roles_are_readable(issuers, route_rules, where)
    return Settings(
        issuers=issuers,
        route_rules=route_rules,
        context=_context(env, document.get("context"), where),
        leeway_seconds=env.integer("JWT_LEEWAY_SECONDS", 60, 0, 300),
        max_token_bytes=env.integer("JWT_MAX_TOKEN_BYTES", 16384, 1024, 65536),
        principal_claims=_names(
            "AUTHORIZER_PRINCIPAL_CLAIMS", env.optional("AUTHORIZER_PRINCIPAL_CLAIMS") or "sub"
        ),
        usage_identifier_claim=env.optional("AUTHORIZER_USAGE_IDENTIFIER_CLAIM"),
        http_api_response=_http_api_response(env.optional("AUTHORIZER_HTTP_API_RESPONSE")),
        token_header=_header_name(env.optional("AUTHORIZER_TOKEN_HEADER") or "Authorization"),
        token_query_parameter=_query_parameter(environ),
        token_cache_size=env.integer("AUTHORIZER_TOKEN_CACHE_SIZE", 1024, 0, 100000),
        jwks_cache_seconds=env.integer("JWKS_CACHE_SECONDS", 600, 30, 604800),
        jwks_refresh_cooldown_seconds=env.integer("JWKS_REFRESH_COOLDOWN_SECONDS", 30, 1, 3600),
        jwks_max_stale_seconds=env.integer("JWKS_MAX_STALE_SECONDS", 86400, 0, 2592000),
        jwks_fetch_timeout_seconds=env.number("JWKS_FETCH_TIMEOUT_SECONDS", 3.0, 0.1, 10.0),
        jwks_prefetch=env.boolean("JWKS_PREFETCH", True),
    )


MAX_ISSUERS = 16


def _check_roles_are_readable(
    issuers: tuple[IssuerSettings, ...], route_rules: RuleSet | None, where: str
) -> None:
    """A rule that needs roles must have somewhere to read them, for every issuer it applies to.

    Otherwise it can never pass: a route meant for admins would be denied to
    everyone, silently, until someone wonders why.
    """
    if route_rules is None and not any(issuer.requirements for issuer in issuers):
        return
    from .access import IssuerIn, RolesAll, RolesAny  # noqa: PLC0415 - loaded with the rules

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


def _env_issuers(env: _Env) -> tuple[IssuerSettings, ...]:
    """Issuers from ``JWT_ISSUER`` (comma-separated), all sharing the other JWT_* settings."""
    issuers = _split(env.required("JWT_ISSUER"))
    if not issuers:
        raise ConfigError("JWT_ISSUER must name at least one issuer")
    values: dict[str, Any] = {}
    for key, name in ISSUER_VARIABLES.items():
        raw = env.optional(name)
        if raw is None or key == "issuer":
            continue
        if key in ("audiences", "algorithms", "scope_claims"):
            values[key] = _split(raw)
        elif key == "scopes_all":
            values[key] = raw.split()
        elif key == "role_claims":
            values[key] = _role_claims_text(raw)
        elif key in ("reject_id_tokens", "deny_anonymous", "require_verified"):
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
        build_issuers({**values, "issuer": issuer}, lambda key: label(key, key))
        for issuer in issuers
    ]
    return _at_most(_with_siblings(built), "JWT_ISSUER")


def _file_issuers(tables: object, where: str) -> tuple[IssuerSettings, ...]:
    built: list[list[IssuerSettings]] = []
    key_sets: dict[object, str] = {}
    for here, table in numbered_tables(tables, where, "issuer"):
        _only_keys(table, frozenset(ISSUER_VARIABLES) | REQUIREMENT_KEYS - {"issuers"}, here)
        jwks_uri = table.get("jwks_uri")
        if jwks_uri is not None and key_sets.setdefault(jwks_uri, here) != here:
            raise ConfigError(
                f"{here}: jwks_uri is also {key_sets[jwks_uri].rsplit(': ', 1)[-1]}'s;"
                " each issuer's keys must be its own"
            )
        built.append(build_issuers(table, _place(here)))
    return _at_most(_with_siblings(built), where)


def _with_siblings(built: list[list[IssuerSettings]]) -> tuple[IssuerSettings, ...]:
    """The configured issuers, then the siblings their presets add (unless configured too)."""
    configured = [group[0] for group in built]
    names = {issuer.issuer for issuer in configured}
    siblings = [s for group in built for s in group[1:] if s.issuer not in names]
    return (*configured, *siblings)


def _named_in(where: str, key: str) -> str:
    """Names a key of one table of the rules file, for error messages."""
    return f"{where}: {key}"


def _place(where: str) -> Callable[[str], str]:
    return functools.partial(_named_in, where)


def _at_most(issuers: tuple[IssuerSettings, ...], where: str) -> tuple[IssuerSettings, ...]:
    if len(issuers) > MAX_ISSUERS:
        raise ConfigError(f"{where}: at most {MAX_ISSUERS} issuers, got {len(issuers)}")
    return issuers


def build_issuers(values: Mapping[str, Any], label: Callable[[str], str]) -> list[IssuerSettings]:
    """One issuer's settings (plus its provider's sibling issuers) from raw ``values``.

    ``values`` uses the rules-file keys; ``label(key)`` names a key in errors
    (the environment variable, or the place in the rules file).
    """
    provider_name = _text(values, "provider", label) or "generic"
    provider = PROVIDERS.get(provider_name.lower())
    if provider is None:
        raise ConfigError(
            f"{label('provider')} must be one of {', '.join(PROVIDERS)}, got {provider_name!r}"
        )
    issuer = provider.normalize_issuer(_text(values, "issuer", label) or "")
    if not issuer:
        raise ConfigError(f"{label('issuer')} is required but not set")
    check_url(label("issuer"), issuer)
    jwks_uri = _text(values, "jwks_uri", label)
    if jwks_uri is not None:
        check_url(label("jwks_uri"), jwks_uri)
    audiences = _texts(values, "audiences", label)
    if audiences is None:
        if not provider.issuer_is_default_audience:
            raise ConfigError(f"{label('audiences')} is required but not set")
        audiences = (issuer,)
    audience_claim = _text(values, "audience_claim", label) or provider.audience_claim
    if audience_claim not in AUDIENCE_CLAIMS:
        raise ConfigError(
            f"{label('audience_claim')} must be one of {', '.join(AUDIENCE_CLAIMS)},"
            f" got {audience_claim!r}"
        )
    reject_id_tokens = _flag(values, "reject_id_tokens", label, True)
    role_claims = values.get("role_claims")
    settings = IssuerSettings(
        issuer=issuer,
        audiences=audiences,
        provider=provider.name,
        jwks_uri=jwks_uri or provider.jwks_uri_for(issuer),
        algorithms=_algorithms(_texts(values, "algorithms", label) or ("RS256",), label),
        audience_claim=audience_claim,
        required_typ=_typ(_text(values, "required_typ", label), label),
        reject_id_tokens=reject_id_tokens,
        token_use=provider.token_use if reject_id_tokens else None,
        access_token_id_claims=provider.access_token_id_claims,
        id_token_audiences=audiences if provider.audiences_are_client_ids else (),
        scope_claims=_texts(values, "scope_claims", label) or provider.scope_claims,
        role_claims=(
            _role_paths(role_claims, label)
            if role_claims is not None
            else provider.role_paths(audiences)
        ),
        requirements=_issuer_requirements(values, provider, label),
    )
    siblings = [
        replace(settings, issuer=sibling, jwks_uri=jwks_uri or provider.jwks_uri_for(sibling))
        for sibling in provider.sibling_issuers(issuer)
    ]
    return [settings, *siblings]


def _issuer_requirements(
    values: Mapping[str, Any], provider: Provider, label: Callable[[str], str]
) -> tuple[AccessRule, ...]:
    where = label("scopes_all").rsplit(": ", 1)[0]  # the variable, or the issuer table
    rules: list[AccessRule] = []
    if not REQUIREMENT_KEYS.isdisjoint(values):
        rules.extend(parse_requirements(values, where))
    for key, expected in (("deny_anonymous", False), ("require_verified", True)):
        if not _flag(values, key, label, False):
            continue
        if not provider.authgear_user_claims:
            raise ConfigError(f"{label(key)} needs the authgear provider")
        from .access import ClaimEquals, ClaimIsNot  # noqa: PLC0415 - see the imports

        if expected:
            rules.append(ClaimEquals((AUTHGEAR_VERIFIED,), True))
        else:
            rules.append(ClaimIsNot((AUTHGEAR_ANONYMOUS,), True))
    return tuple(rules)


def _text(values: Mapping[str, Any], key: str, label: Callable[[str], str]) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{label(key)} must be a string")
    return value.strip() or None


def _texts(
    values: Mapping[str, Any], key: str, label: Callable[[str], str]
) -> tuple[str, ...] | None:
    value = values.get(key)
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{label(key)} must be a list of strings")
    cleaned = tuple(dict.fromkeys(item.strip() for item in items if item.strip()))
    if not cleaned:
        raise ConfigError(f"{label(key)} must list at least one value")
    return cleaned


def _flag(values: Mapping[str, Any], key: str, label: Callable[[str], str], default: bool) -> bool:
    value = values.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{label(key)} must be true or false")
    return value


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _role_claims_text(raw: str) -> object:
    """``AUTHORIZER_ROLES_CLAIMS``: claim names separated by commas, or a JSON array of paths."""
    if not raw.startswith("["):
        return _split(raw)
    from .strictjson import loads_strict  # noqa: PLC0415 - only this spelling needs JSON

    try:
        return loads_strict(raw)
    except ValueError:
        raise ConfigError("AUTHORIZER_ROLES_CLAIMS is not a valid JSON array") from None


def _role_paths(value: object, label: Callable[[str], str]) -> tuple[ClaimPath, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{label('role_claims')} must list claim names or paths")
    return tuple(claim_path(item, label("role_claims")) for item in items)


def _context(env: _Env, table: object, where: str) -> ContextSettings:
    """``AUTHORIZER_CONTEXT_*`` or the rules file's ``[context]`` table (not both)."""
    names = ("AUTHORIZER_CONTEXT_CLAIMS", "AUTHORIZER_CONTEXT_EXCLUDE", "AUTHORIZER_CONTEXT_RENAME")
    if table is not None:
        for name in names:
            if env.optional(name) is not None:
                raise ConfigError(f"{name} is set, but {RULES_VARIABLE} has a [context] table")
        return _file_context(table, f"{where}: context")
    include_raw = env.optional(names[0])
    include = None if include_raw in (None, "*") else tuple(_split(include_raw or ""))
    exclude = tuple(_split(env.optional(names[1]) or ""))
    rename: dict[str, str] = {}
    for pair in _split(env.optional(names[2]) or ""):
        claim, sep, key = (part.strip() for part in pair.partition("="))
        if not sep or not claim or not key:
            raise ConfigError(
                f"{names[2]} must be claim=key pairs separated by commas, got {pair!r}"
            )
        rename[claim] = key
    return _context_settings(include, exclude, rename, names[2])


def _file_context(table: object, here: str) -> ContextSettings:
    if not isinstance(table, dict):
        raise ConfigError(f"{here} must be a table")
    _only_keys(table, frozenset({"include", "exclude", "rename"}), here)
    place = _place(here)
    include = _texts(table, "include", place)
    exclude = _texts(table, "exclude", place) or ()
    rename = table.get("rename", {})
    if not isinstance(rename, dict) or not all(
        isinstance(key, str) and isinstance(value, str) and value for key, value in rename.items()
    ):
        raise ConfigError(f"{here}: rename must map claim names to context keys (strings)")
    return _context_settings(include, exclude, rename, f"{here}: rename")


def _context_settings(
    include: tuple[str, ...] | None,
    exclude: tuple[str, ...],
    rename: Mapping[str, str],
    where: str,
) -> ContextSettings:
    targets = list(rename.values())
    clash = [key for key in targets if key in RESERVED_KEYS]
    if clash:
        raise ConfigError(f"{where}: {clash[0]!r} is a key API Gateway or this authorizer reserves")
    if len(set(targets)) != len(targets):
        raise ConfigError(f"{where}: two claims renamed to the same key")
    return ContextSettings(
        include=frozenset(include) if include is not None else None,
        exclude=frozenset(exclude),
        rename=dict(rename),
    )


def check_url(name: str, url: str) -> None:
    """Raise :class:`ConfigError` naming ``name`` unless ``url`` passes :func:`url_problem`."""
    problem = url_problem(url)
    if problem is not None:
        raise ConfigError(f"{name} {problem}")


class _Env:
    """Typed readers over the environment; every error names its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise ConfigError(f"{name} is required but not set")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw, 10)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, got {raw}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _reject_unknown_variables(environ: Mapping[str, str]) -> None:
    for name in sorted(environ):
        if name.startswith(_OUR_PREFIXES) and name not in KNOWN_VARIABLES:
            from difflib import get_close_matches  # noqa: PLC0415 - the error path only

            hint = get_close_matches(name, KNOWN_VARIABLES, n=1)
            suggestion = f" (did you mean {hint[0]}?)" if hint else ""
            raise ConfigError(f"{name} is not a setting this authorizer knows{suggestion}")


def _algorithms(names: tuple[str, ...], label: Callable[[str], str]) -> tuple[str, ...]:
    for name in names:
        if name not in SUPPORTED_ALGORITHMS:
            raise ConfigError(
                f"{label('algorithms')} contains {name!r};"
                f" allowed: {', '.join(SUPPORTED_ALGORITHMS)}"
            )
    return names


def _typ(raw: str | None, label: Callable[[str], str]) -> str | None:
    if raw is None:
        return None
    typ = normalize_typ(raw)
    if not typ or any(char.isspace() or char == "," for char in typ):
        raise ConfigError(
            f"{label('required_typ')} must be one media type such as at+jwt, got {raw!r}"
        )
    return typ


def _names(variable: str, raw: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names:
        raise ConfigError(f"{variable} must list at least one claim name")
    return names


def _http_api_response(raw: str | None) -> HttpApiResponse:
    value = (raw or "simple").lower()
    if value == "simple":
        return "simple"
    if value == "iam":
        return "iam"
    raise ConfigError(f"AUTHORIZER_HTTP_API_RESPONSE must be 'simple' or 'iam', got {raw!r}")


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
