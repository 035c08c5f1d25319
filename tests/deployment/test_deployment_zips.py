"""`make package` and `make layer`: reproducible zips that run in the Lambda runtime as they are."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from authorizer import __version__
from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event
from authorizer_tools.local.artifact import host_architecture, problems
from authorizer_tools.local.runtime import LambdaRuntime, find_python, runtime_python
from authorizer_tools.package import package
from tests.conftest import AUDIENCE

# The deployment artefacts: checked once (make unit), not again on each Python (unit-py313).

HOST = host_architecture() or "arm64"


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    return {kind: package(kind, HOST, out) for kind in ("function", "layer")}


def _unzip(archive: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(into)
    for path in into.rglob("*"):  # extractall drops the modes the zip records
        if path.is_file():
            path.chmod(0o644)
    return into


def test_each_zip_is_named_for_its_version_and_architecture_with_its_checksum(
    zips: dict[str, Path],
) -> None:
    function, layer = zips["function"], zips["layer"]
    assert function.name == f"apigw-oidc-authorizer-{__version__}-{HOST}.zip"
    assert layer.name == f"apigw-oidc-authorizer-layer-{__version__}-{HOST}.zip"
    for archive in (function, layer):
        digest, name = archive.with_name(archive.name + ".sha256").read_text().split()
        assert (digest, name) == (hashlib.sha256(archive.read_bytes()).hexdigest(), archive.name)


def test_a_zip_built_twice_is_the_same_bytes(zips: dict[str, Path], tmp_path: Path) -> None:
    again = package("function", HOST, tmp_path)
    assert again.read_bytes() == zips["function"].read_bytes()


@pytest.mark.runtime_emulator
def test_the_function_zip_passes_the_artifact_check_and_answers_in_the_runtime(
    zips: dict[str, Path], tmp_path: Path
) -> None:
    artifact = _unzip(zips["function"], tmp_path / "function")
    assert problems(artifact) == []
    assert any(artifact.glob("authorizer/__pycache__/app.cpython-313.pyc"))
    python = runtime_python(find_python(None))
    with DevIssuer() as issuer:
        env = {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": AUDIENCE}
        with LambdaRuntime("AuthorizerFunction", artifact, env, python=python) as runtime:
            token = issuer.mint({"aud": AUDIENCE})
            answer = runtime.invoke(make_event("rest_token", f"Bearer {token}"))
    assert answer.payload["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_the_layer_puts_the_claims_reader_and_the_verifier_under_python(
    zips: dict[str, Path], tmp_path: Path
) -> None:
    layer = _unzip(zips["layer"], tmp_path / "layer")
    assert sorted(entry.name for entry in layer.iterdir()) == ["python"]
    assert problems(layer / "python") == []
    probe = (
        "import authorizer.claims, authorizer.tokens.verify, jwt; print(authorizer.claims.__file__)"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(layer / 'python')!r}); {probe}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(layer / "python"))


@pytest.mark.runtime_emulator
def test_rules_from_a_layer_path_outside_the_artifact_decide_in_the_runtime(
    zips: dict[str, Path], tmp_path: Path
) -> None:
    """As a layer mounts them under /opt: an absolute path the function's own code never held."""
    artifact = _unzip(zips["function"], tmp_path / "function")
    layer = tmp_path / "opt" / "rules"
    layer.mkdir(parents=True)
    (layer / "api.toml").write_text(
        '[[route]]\nmatch = "GET /orders/{id}"\nscopes_any = ["orders:read"]\n'
    )
    python = runtime_python(find_python(None))
    with DevIssuer() as issuer:
        env = {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": AUDIENCE,
               "AUTHORIZER_RULES": str(layer / "api.toml")}  # fmt: skip
        with LambdaRuntime("AuthorizerFunction", artifact, env, python=python) as runtime:
            reader = issuer.mint({"aud": AUDIENCE, "scope": "orders:read"})
            writer = issuer.mint({"aud": AUDIENCE, "scope": "orders:write"})
            events = [
                make_event("rest_request", f"Bearer {token}", method="GET", path="/orders/7")
                for token in (reader, writer)
            ]
            answers = [runtime.invoke(event).payload for event in events]
    effects = [answer["policyDocument"]["Statement"][0]["Effect"] for answer in answers]
    assert effects == ["Allow", "Deny"]
