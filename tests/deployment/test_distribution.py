"""The wheel and sdist: they build without warnings, pass twine, and install into a clean venv."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from authorizer import __version__
from authorizer_tools.devissuer.issuer import DevIssuer
from tests import ROOT

# The deployment artefacts: checked once (make unit), not again on each Python (unit-py313).


def _run(*command: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run(
        sys.executable, "-W", "error", "-m", "build", "--no-isolation", "--outdir", out, "."
    )
    assert built.returncode == 0, built.stderr[-2000:]
    return out


def test_the_wheel_and_sdist_carry_one_version_and_pass_twine(dist: Path) -> None:
    names = sorted(path.name for path in dist.iterdir())
    assert names == [
        f"apigw_oidc_authorizer-{__version__}-py3-none-any.whl",
        f"apigw_oidc_authorizer-{__version__}.tar.gz",
    ]
    checked = _run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_wheel_holds_the_packages_typed_and_nothing_else(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {
        "authorizer",
        "authorizer_tools",
        f"apigw_oidc_authorizer-{__version__}.dist-info",
    }
    assert {"authorizer/py.typed", "authorizer_tools/py.typed"} <= set(names)
    entry_points = zipfile.ZipFile(wheel).read(
        f"apigw_oidc_authorizer-{__version__}.dist-info/entry_points.txt"
    )
    assert b"authorizer-tools = authorizer_tools.cli:main" in entry_points


def test_the_wheel_installs_into_a_clean_venv_and_its_console_script_runs(
    dist: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", venv).returncode == 0
    pip = (
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    )
    deps = _run(*pip, "--require-hashes", "-r", ROOT / "requirements.txt")
    assert deps.returncode == 0, deps.stderr[-2000:]
    (wheel,) = dist.glob("*.whl")
    assert _run(*pip, "--no-deps", wheel).returncode == 0
    script = venv / "bin" / "authorizer-tools"
    helped = _run(script, "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "dev-issuer" in helped.stdout and "keys" in helped.stdout
    assert _run(script, "--version", cwd=tmp_path).stdout.strip().endswith(__version__)
    # Without the [tools] extra, a command that reads the template says what to install.
    needs = _run(script, "doctor", "--template", ROOT / "template.yaml", cwd=tmp_path)
    assert needs.returncode == 2
    assert "needs PyYAML: pip install 'apigw-oidc-authorizer[tools]'" in needs.stderr
    # Outside a checkout, with no template, --env is the whole configuration.
    empty = tmp_path / "empty"
    empty.mkdir()
    with DevIssuer() as issuer:
        token = issuer.mint({"aud": "api", "sub": "alice"})
        config = ("--env", f"JWT_ISSUER={issuer.issuer}", "--env", "JWT_AUDIENCE=api")
        made = _run(script, "event", "http_v2", "--token", token, "-o", "e.json", cwd=empty)
        assert made.returncode == 0, made.stderr
        invoked = _run(script, "invoke", "e.json", *config, cwd=empty)
        assert invoked.returncode == 0, invoked.stderr
        assert invoked.stdout.startswith("ALLOW (200)")
        doctor = _run(script, "doctor", *config, "--token", token, cwd=empty)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "template.yaml" not in doctor.stdout + doctor.stderr
        # A --parameter means a template: one line saying so.
        lost = _run(script, "invoke", "e.json", "--parameter", "Issuer=x", cwd=empty)
        assert lost.returncode == 2 and "--parameter needs a template" in lost.stderr
