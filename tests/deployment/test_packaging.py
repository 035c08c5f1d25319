"""The Lambda artifact, built by the Makefile target `sam build` runs, used as Lambda would."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event
from authorizer_tools.local.artifact import build, problems
from tests.conftest import AUDIENCE
from tests.processes import results, run_handler

TAG = f"cpython-{sys.version_info.major}{sys.version_info.minor}"


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """build-AuthorizerFunction for this machine's Python, so the result can be imported here."""
    target = tmp_path_factory.mktemp("artifact")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    build(target, LAMBDA_PYTHON=version, LAMBDA_PLATFORM="", LAMBDA_COMPILER=sys.executable)
    yield target


def test_the_artifact_holds_only_the_authorizer_and_its_runtime_dependencies(
    artifact: Path,
) -> None:
    assert problems(artifact, tag=TAG) == []
    top_level = {
        entry.name for entry in artifact.iterdir() if not entry.name.endswith(".dist-info")
    }
    allowed = {
        "authorizer",
        "rules",
        "jwt",
        "cryptography",
        "urllib3",
        "aws_lambda_powertools",
        "cffi",
        "pycparser",
        "jmespath",
        "typing_extensions.py",
        "__pycache__",
    }
    unexpected = {name for name in top_level - allowed if not name.startswith("_cffi_backend")}
    assert unexpected == set()
    # Bytecode for the target interpreter ships, so a read-only cold start compiles nothing.
    compiled = {
        str(path.relative_to(artifact / "authorizer"))
        for path in (artifact / "authorizer").rglob("__pycache__/*.pyc")
    }
    assert f"__pycache__/app.{TAG}.pyc" in compiled
    assert f"tokens/__pycache__/verify.{TAG}.pyc" in compiled


def test_the_handler_runs_from_the_artifact_alone(artifact: Path) -> None:
    # -S: no site-packages. Only the standard library and the artifact are importable.
    with DevIssuer() as issuer:
        token = issuer.mint({"aud": AUDIENCE})
        process = run_handler(
            {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": AUDIENCE},
            [make_event("http_v2", f"Bearer {token}")],
            pythonpath=str(artifact),
            python_flags=("-S",),
        )
    assert process.returncode == 0, process.stderr
    (outcome,) = results(process)
    assert outcome["response"]["isAuthorized"] is True


def test_a_bundled_rules_file_is_found_relative_to_the_artifact(artifact: Path) -> None:
    with DevIssuer() as issuer:
        token = issuer.mint({"aud": AUDIENCE})
        process = run_handler(
            {
                "JWT_ISSUER": issuer.issuer,
                "JWT_AUDIENCE": AUDIENCE,
                "AUTHORIZER_RULES": "rules/example.toml",
                "AUTHORIZER_ROLES_CLAIMS": "roles",
            },
            [make_event("rest_token", f"Bearer {token}", path="/whoami")],
            pythonpath=str(artifact),
            python_flags=("-S",),
        )
    assert process.returncode == 0, process.stderr
    (outcome,) = results(process)
    allow, deny = outcome["response"]["policyDocument"]["Statement"]
    assert allow["Resource"].endswith("/prod/GET/whoami")
    assert deny["Effect"] == "Deny"  # the other example routes need scopes this token lacks


def test_the_checker_reports_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "boto3").mkdir()
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    found = problems(tmp_path)
    assert any("bytecode for another Python" in problem for problem in found)
    assert "must not contain tests" in found
    assert "must not contain boto3" in found
    assert "missing authorizer" in found
    assert problems(tmp_path / "nope") == [f"{tmp_path / 'nope'} is not a directory"]
