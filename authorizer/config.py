"""Settings: one frozen object read from the environment and validated once.

:func:`load_settings` is called at cold start. Any missing or invalid value
raises :class:`~authorizer.errors.ConfigError` with one message that names the
variable and what is wrong, so the function fails its init instead of
answering requests with a half-configured verifier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from .errors import ConfigError

#: Algorithms we verify. Symmetric (HS*) and ``none`` are deliberately absent:
#: an authorizer only ever holds the issuer's public keys.
SUPPORTED_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)

HttpApiResponse = Literal["simple", "iam"]

#: Every variable this module reads. Any other variable with one of our
#: prefixes is a typo that would silently weaken a check, so it is an error.
KNOWN_VARIABLES: frozenset[str] = frozenset(
    {
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "JWT_JWKS_URI",
        "JWT_ALGORITHMS",
        "JWT_REQUIRED_SCOPES",
        "JWT_LEEWAY_SECONDS",
        "JWT_MAX_TOKEN_BYTES",
        "JWT_REQUIRED_TYP",
        "JWT_REJECT_ID_TOKENS",
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


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the authorizer needs to know, validated."""

    issuer: str
    audiences: tuple[str, ...]
    jwks_uri: str | None = None
    algorithms: tuple[str, ...] = ("RS256",)
    required_scopes: tuple[str, ...] = ()
    leeway_seconds: int = 60
    max_token_bytes: int = 16384
    required_typ: str | None = None
    reject_id_tokens: bool = True
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

    @property
    def discovery_uri(self) -> str:
        """OpenID Connect Discovery 1.0 section 4: strip one trailing slash, then append."""
        base = self.issuer[:-1] if self.issuer.endswith("/") else self.issuer
        return f"{base}/.well-known/openid-configuration"


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from ``environ``; raise :class:`ConfigError` on any bad value."""
    _reject_unknown_variables(environ)
    env = _Env(environ)
    issuer = env.required("JWT_ISSUER")
    check_url("JWT_ISSUER", issuer)
    jwks_uri = env.optional("JWT_JWKS_URI")
    if jwks_uri is not None:
        check_url("JWT_JWKS_URI", jwks_uri)
    return Settings(
        issuer=issuer,
        audiences=_audiences(env.required("JWT_AUDIENCE")),
        jwks_uri=jwks_uri,
        algorithms=_algorithms(env.optional("JWT_ALGORITHMS") or "RS256"),
        required_scopes=tuple(dict.fromkeys((env.optional("JWT_REQUIRED_SCOPES") or "").split())),
        leeway_seconds=env.integer("JWT_LEEWAY_SECONDS", 60, 0, 300),
        max_token_bytes=env.integer("JWT_MAX_TOKEN_BYTES", 16384, 1024, 65536),
        required_typ=_typ(env.optional("JWT_REQUIRED_TYP")),
        reject_id_tokens=env.boolean("JWT_REJECT_ID_TOKENS", True),
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


def check_url(name: str, url: str) -> None:
    """Require ``https://``, or ``http://`` to a loopback host; no credentials or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"{name} is not a valid URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(f"{name} must be an absolute https:// URL, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{name} must not contain credentials")
    if parts.fragment or url.endswith("#"):
        raise ConfigError(f"{name} must not contain a fragment")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigError(
            f"{name} must use https:// (http:// only for loopback hosts), got {url!r}"
        )


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (the only hosts allowed over http)."""
    if host.lower() == "localhost":
        return True
    import ipaddress  # noqa: PLC0415 - only http:// URLs get here; spared at cold start

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def _audiences(raw: str) -> tuple[str, ...]:
    audiences = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not audiences:
        raise ConfigError("JWT_AUDIENCE must list at least one audience")
    return audiences


def _algorithms(raw: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names:
        raise ConfigError("JWT_ALGORITHMS must list at least one algorithm")
    for name in names:
        if name not in SUPPORTED_ALGORITHMS:
            raise ConfigError(
                f"JWT_ALGORITHMS contains {name!r}; allowed: {', '.join(SUPPORTED_ALGORITHMS)}"
            )
    return names


def normalize_typ(value: str) -> str:
    """RFC 7515 section 4.1.9: compare media types case-insensitively, ``application/`` optional."""
    lowered = value.strip().lower()
    return lowered.removeprefix("application/")


def _typ(raw: str | None) -> str | None:
    if raw is None:
        return None
    typ = normalize_typ(raw)
    if not typ or any(char.isspace() or char == "," for char in typ):
        raise ConfigError(f"JWT_REQUIRED_TYP must be one media type such as at+jwt, got {raw!r}")
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
