"""Settings are validated once; every bad value names its variable."""

from __future__ import annotations

import pytest

from authorizer.access.rules import ScopesAll
from authorizer.config.settings import load_settings
from authorizer.errors import ConfigError
from authorizer.keys.jwk import SUPPORTED_ALGORITHMS

BASE = {"JWT_ISSUER": "https://example.authgear.cloud", "JWT_AUDIENCE": "https://api.example"}


def settings_with(**changes: str):  # type: ignore[no-untyped-def]
    env = dict(BASE)
    env.update(changes)
    return load_settings(env)


def test_defaults_match_the_documented_table() -> None:
    settings = load_settings(BASE)
    (issuer,) = settings.issuers
    assert issuer.issuer == "https://example.authgear.cloud"
    assert issuer.audiences == ("https://api.example",)
    assert issuer.jwks_uri is None
    assert issuer.algorithms == ("RS256",)
    assert issuer.requirements == ()
    assert issuer.provider == "generic"
    assert issuer.audience_claim == "aud"
    assert settings.route_rules is None
    assert settings.leeway_seconds == 60
    assert settings.http_api_response == "simple"
    assert settings.jwks_cache_seconds == 600
    assert settings.jwks_refresh_cooldown_seconds == 30
    assert settings.jwks_max_stale_seconds == 86400
    assert settings.token_header == "Authorization"
    assert settings.token_query_parameter == "access_token"


def test_lists_are_split_trimmed_and_deduplicated() -> None:
    settings = settings_with(
        JWT_AUDIENCE=" a , b,a,, ",
        JWT_ALGORITHMS="RS256, ES256,EdDSA",
        JWT_REQUIRED_SCOPES="read:orders  write:orders read:orders",
    )
    (issuer,) = settings.issuers
    assert issuer.audiences == ("a", "b")
    assert issuer.algorithms == ("RS256", "ES256", "EdDSA")
    assert issuer.requirements == (ScopesAll(frozenset({"read:orders", "write:orders"})),)


def test_discovery_uri_strips_one_trailing_slash() -> None:
    assert settings_with(JWT_ISSUER="https://tenant.auth0.com/").issuers[0].discovery_uri == (
        "https://tenant.auth0.com/.well-known/openid-configuration"
    )
    assert settings_with(JWT_ISSUER="https://kc.example/realms/r").issuers[0].discovery_uri == (
        "https://kc.example/realms/r/.well-known/openid-configuration"
    )


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"JWT_ISSUER": ""}, "JWT_ISSUER"),
        ({"JWT_AUDIENCE": " , "}, "JWT_AUDIENCE"),
        ({"JWT_ISSUER": "http://idp.example.com"}, "JWT_ISSUER"),
        ({"JWT_ISSUER": "ftp://idp.example.com"}, "JWT_ISSUER"),
        ({"JWT_ISSUER": "https://user:pw@idp.example.com"}, "JWT_ISSUER"),
        ({"JWT_ISSUER": "https://idp.example.com#frag"}, "JWT_ISSUER"),
        ({"JWT_ISSUER": "https://idp.example.com:99999"}, "JWT_ISSUER"),
        ({"JWT_JWKS_URI": "http://10.0.0.1/jwks"}, "JWT_JWKS_URI"),
        ({"JWT_ALGORITHMS": "HS256"}, "JWT_ALGORITHMS"),
        ({"JWT_ALGORITHMS": "none"}, "JWT_ALGORITHMS"),
        ({"JWT_ALGORITHMS": "rs256"}, "JWT_ALGORITHMS"),
        ({"JWT_LEEWAY_SECONDS": "301"}, "JWT_LEEWAY_SECONDS"),
        ({"JWT_LEEWAY_SECONDS": "-1"}, "JWT_LEEWAY_SECONDS"),
        ({"JWT_LEEWAY_SECONDS": "1.5"}, "JWT_LEEWAY_SECONDS"),
        ({"AUTHORIZER_HTTP_API_RESPONSE": "both"}, "AUTHORIZER_HTTP_API_RESPONSE"),
        ({"AUTHORIZER_TOKEN_HEADER": "X Auth"}, "AUTHORIZER_TOKEN_HEADER"),
        ({"JWKS_CACHE_SECONDS": "ten"}, "JWKS_CACHE_SECONDS"),
        ({"JWKS_REFRESH_COOLDOWN_SECONDS": "0"}, "JWKS_REFRESH_COOLDOWN_SECONDS"),
        ({"JWKS_MAX_STALE_SECONDS": "-5"}, "JWKS_MAX_STALE_SECONDS"),
        ({"JWKS_FETCH_TIMEOUT_SECONDS": "nan"}, "JWKS_FETCH_TIMEOUT_SECONDS"),
        ({"JWKS_PREFETCH": "maybe"}, "JWKS_PREFETCH"),
        ({"JWT_REQUIRED_SCOPE": "admin"}, "JWT_REQUIRED_SCOPE"),
    ],
)
def test_a_bad_value_fails_with_a_message_naming_the_variable(
    changes: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_with(**changes)
    message = str(caught.value)
    assert message.startswith(variable), message
    assert "\n" not in message


def test_a_typo_in_a_setting_name_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError, match="did you mean JWT_REQUIRED_SCOPES"):
        settings_with(JWT_REQUIRED_SCOPE="admin")


def test_missing_required_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="^JWT_ISSUER is required"):
        load_settings({"JWT_AUDIENCE": "a"})
    with pytest.raises(ConfigError, match="^JWT_AUDIENCE is required"):
        load_settings({"JWT_ISSUER": "https://idp.example"})


@pytest.mark.parametrize(
    "issuer",
    [
        "http://localhost:8080",
        "http://127.0.0.1:9000/realms/x",
        "http://127.8.9.10",
        "http://[::1]:8443",
    ],
)
def test_plain_http_is_allowed_for_loopback_hosts_only(issuer: str) -> None:
    assert settings_with(JWT_ISSUER=issuer).issuers[0].issuer == issuer


def test_every_supported_algorithm_is_accepted() -> None:
    settings = settings_with(JWT_ALGORITHMS=",".join(SUPPORTED_ALGORITHMS))
    assert settings.issuers[0].algorithms == SUPPORTED_ALGORITHMS


def test_an_empty_query_parameter_setting_disables_query_tokens() -> None:
    assert settings_with(AUTHORIZER_TOKEN_QUERY_PARAMETER="").token_query_parameter is None
    assert settings_with(AUTHORIZER_TOKEN_QUERY_PARAMETER="token").token_query_parameter == "token"


def test_unrelated_environment_variables_are_ignored() -> None:
    settings = settings_with(AWS_REGION="eu-west-1", POWERTOOLS_SERVICE_NAME="x", PATH="/bin")
    assert settings.issuers[0].issuer == BASE["JWT_ISSUER"]


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("AUTHORISER_RULES", "AUTHORIZER_RULES"),
        ("AUTHORIZATION_RULES", "AUTHORIZER_RULES"),
        ("AUTH_RULES", "AUTHORIZER_RULES"),
        ("AUTHORIZER_RULE", "AUTHORIZER_RULES"),
        ("JTW_AUDIENCE", "JWT_AUDIENCE"),
        ("OIDC_REQUIRED_SCOPES", "JWT_REQUIRED_SCOPES"),
        ("JWT_REQUIRED_SCOPE", "JWT_REQUIRED_SCOPES"),
        ("JWKS_CACHE_SECOND", "JWKS_CACHE_SECONDS"),
    ],
)
def test_a_near_miss_of_a_setting_name_fails_the_cold_start(name: str, meant: str) -> None:
    """A misspelt AUTHORIZER_RULES would leave the rules off and allow what they deny."""
    with pytest.raises(ConfigError, match=rf"^{name} is not a setting .*did you mean {meant}\?"):
        settings_with(**{name: "rules/example.toml"})


# Every variable Lambda documents for the Python runtimes, and what the runtime client,
# the emulator, Powertools and SAM CLI add: none of them may look like a near miss.
LAMBDA_NAMES = (
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_LOG_FORMAT",
        "AWS_LAMBDA_LOG_LEVEL", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
        "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "AWS_LAMBDA_EXEC_WRAPPER",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_LAMBDA_MAX_CONCURRENCY", "AWS_LAMBDA_DOTNET_PREJIT", "TZ", "LANG", "PATH",
        "LD_LIBRARY_PATH", "PYTHONPATH", "HOME", "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_LOGGER_LOG_EVENT",
        "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_DEV", "SAM_CLI_TELEMETRY", "AUTHORIZATION",
        "PYTHONHASHSEED", "AWS_SAM_LOCAL", "AWS_LAMBDA_FUNCTION_TIMEOUT",
        "AWS_LAMBDA_FUNCTION_HANDLER",
)  # fmt: skip
LAMBDA_ENVIRONMENT = dict.fromkeys(LAMBDA_NAMES, "x")


def test_a_real_lambda_environment_never_trips_the_near_miss_check() -> None:
    assert settings_with(**LAMBDA_ENVIRONMENT).issuers


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("JWT_AUDIENCE", "https://a.example https://b.example", ("https://a.example", "https://b.example")),
        ("JWT_AUDIENCE", "https://a.example,\n https://b.example", ("https://a.example", "https://b.example")),
        ("JWT_ALGORITHMS", "RS256 ES256", ("RS256", "ES256")),
    ],
)  # fmt: skip
def test_comma_lists_take_white_space_too(name: str, value: str, expected: tuple[str, ...]) -> None:
    """Audiences (URIs) and algorithm names never hold white space: it can only separate."""
    (issuer,) = settings_with(**{name: value}).issuers
    assert (
        getattr(issuer, {"JWT_AUDIENCE": "audiences", "JWT_ALGORITHMS": "algorithms"}[name])
        == expected
    )


def test_required_scopes_with_commas_fail_the_cold_start_naming_the_setting_and_the_fix() -> None:
    """A scope may hold a comma (RFC 6749 3.3): 'a,b' as one scope would deny every token."""
    message = (
        r"^JWT_REQUIRED_SCOPES is space-separated, and 'orders:read,orders:write' holds a comma:"
        r" write 'orders:read orders:write' \[template parameter RequiredScopes\]$"
    )
    with pytest.raises(ConfigError, match=message):
        settings_with(JWT_REQUIRED_SCOPES="orders:read,orders:write")
    (issuer,) = settings_with(JWT_REQUIRED_SCOPES="orders:read  orders:write").issuers
    assert issuer.requirements == (ScopesAll(frozenset({"orders:read", "orders:write"})),)


def test_a_message_naming_a_variable_names_its_template_parameter_too() -> None:
    with pytest.raises(
        ConfigError, match=r"JWT_LEEWAY_SECONDS .*\[template parameter LeewaySeconds\]$"
    ):
        settings_with(JWT_LEEWAY_SECONDS="soon")
    with pytest.raises(ConfigError, match=r"\[template parameter RulesFile\]$"):
        settings_with(AUTH_RULES="rules/example.toml")
