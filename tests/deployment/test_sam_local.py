"""What `sam local invoke` and `sam local start-api` give the authorizer, by SAM CLI's own code.

No container runtime is needed for this part: SAM CLI's stack and function
providers and its environment resolution (``tests/sam_local_env.py``, run by the
pinned SAM CLI's Python) produce the variables the container would get. Each
configuration is then loaded as the cold start loads it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from authorizer.config.settings import load_settings
from authorizer_tools.local.template import environment, read
from tests import ROOT

# The deployment artefacts: checked once (make unit), not again on each Python (unit-py313).

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"


def sam_local_environment(*overrides: str) -> dict[str, str]:
    process = subprocess.run(
        [str(SAM_PYTHON), str(ROOT / "tests" / "sam_local_env.py"), "template.yaml", *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    variables: dict[str, str] = json.loads(process.stdout)
    return variables


def test_the_authgear_walkthrough_parameters_reach_sam_local() -> None:
    """README, Authgear step 3: --parameter-overrides Provider=authgear Issuer=..."""
    env = sam_local_environment("Provider=authgear", "Issuer=https://myproject.authgear.cloud")
    assert env["JWT_ISSUER"] == "https://myproject.authgear.cloud"
    assert env["JWT_PROVIDER"] == "authgear"
    settings = load_settings(env)
    (issuer,) = settings.issuers
    assert issuer.issuer == "https://myproject.authgear.cloud" and issuer.provider == "authgear"
    assert issuer.audiences == ("https://myproject.authgear.cloud",)  # the preset's default


def test_every_parameter_reaches_sam_local_as_the_deployed_function_gets_it(tmp_path: Path) -> None:
    """SAM CLI's resolution and the tools' own agree, for every variable of the function."""
    rules = tmp_path / "issuers.toml"
    rules.write_text('[[issuer]]\nissuer = "https://a.example"\naudiences = ["api"]\n')
    cases = [
        ("Issuer=https://idp.example", "Audience=api", "RequiredScopes=orders:read",
         "Algorithms=RS256,ES256", "RulesFile=rules/example.toml", "RolesClaims=roles",
         "CreateExampleApis=true", "ContextClaims=sub,scope", "LeewaySeconds=30"),
        (f"RulesFile={rules}",),
        ("Issuer=https://idp.example", "Audience=api", "SenderConstraint=dpop",
         "AuthorizerCacheSeconds=0", "DpopMaxAgeSeconds=30", "DpopReplayTable=orders-proofs"),
    ]  # fmt: skip
    template = read(ROOT / "template.yaml")
    for case in cases:
        resolved = sam_local_environment(*case)
        ours = environment(template, dict(pair.split("=", 1) for pair in case))
        assert resolved == ours, case
        load_settings(resolved)  # a cold start with it succeeds


def test_the_metadata_function_gets_from_sam_local_what_the_deployed_one_gets() -> None:
    """Its environment is plain Refs too: SAM CLI resolves every one (no '' for an If)."""
    case = (
        "Issuer=https://idp.example",
        "Resource=https://api.example.com/mcp",
        "CreateExampleApis=true",
        "RulesFile=rules/example.toml",
        "RolesClaims=roles",
    )
    resolved = sam_local_environment("--function", "ResourceMetadataFunction", *case)
    ours = environment(read(ROOT / "template.yaml"), dict(pair.split("=", 1) for pair in case),
                       "ResourceMetadataFunction")  # fmt: skip
    assert resolved == ours
    assert resolved["AUTHORIZER_RESOURCE"] == "https://api.example.com/mcp"
    load_settings(resolved, bundled_keys=False)  # the metadata function's cold start


def test_a_rules_file_that_owns_the_issuers_works_under_sam_local(tmp_path: Path) -> None:
    rules = tmp_path / "issuers.toml"
    rules.write_text(
        '[[issuer]]\nissuer = "https://a.example"\nprovider = "authgear"\n'
        '[[issuer]]\nissuer = "https://b.example"\naudiences = ["api"]\n'
    )
    env = sam_local_environment(f"RulesFile={rules}")
    settings = load_settings(env)
    assert [issuer.issuer for issuer in settings.issuers] == [
        "https://a.example",
        "https://b.example",
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ((), "api"),  # the authorizer alone: whatever API it serves, the strictest
        (("CreateExampleApis=true",), "route"),  # the example HTTP API caches by route key
        (("CreateExampleApis=true", "SimpleResponseCache=off"), "off"),
    ],
)
def test_sam_local_tells_the_authorizer_what_a_simple_response_is_reused_for(
    overrides: tuple[str, ...], expected: str
) -> None:
    env = sam_local_environment("Issuer=https://idp.example", "Audience=api", *overrides)
    assert env["AUTHORIZER_SIMPLE_RESPONSE_CACHE"] == expected
    assert load_settings(env).simple_response_cache == expected


@pytest.mark.parametrize(("profile", "examples"), [("dev", True), ("prod", False)])
def test_the_samconfig_profiles_deploy_a_configuration_the_authorizer_accepts(
    profile: str, examples: bool
) -> None:
    """samconfig.toml's dev and prod, read by SAM CLI's own code, through its providers."""
    env = sam_local_environment("--config-env", profile)
    with (ROOT / "samconfig.toml").open("rb") as file:
        pairs = tomllib.load(file)[profile]["deploy"]["parameters"]["parameter_overrides"]
    # The template's Rules hold for them (a deploy would fail otherwise), and the tools agree.
    assert environment(read(ROOT / "template.yaml"), dict(p.split("=", 1) for p in pairs)) == env
    settings = load_settings(env)
    assert settings.issuers[0].issuer == "https://myproject.authgear.cloud"
    assert (settings.route_rules is not None) is examples
    # The dev stack's simple responses are cached by route key, as its HTTP API is.
    assert settings.simple_response_cache == ("route" if examples else "api")
