"""What the Makefile and the tools do for a newcomer in the wrong folder or on an old Python."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests import ROOT

# The deployment artefacts: checked once (make unit), not again on each Python (unit-py313).


def make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_older_python_is_refused_before_any_venv_is_made(tmp_path: Path) -> None:
    shim = tmp_path / "python3.10"
    shim.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "Python 3.10.12"; exit 0; fi\n'
        'if [ "$1" = "-c" ]; then exit 1; fi\n'  # sys.version_info < (3, 11)
        f'exec "{sys.executable}" "$@"\n'
    )
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    venv = tmp_path / "venv"
    result = make(f"{venv}/.installed", f"VENV={venv}", f"PYTHON={shim}")
    assert result.returncode != 0
    assert "Python 3.10.12" in result.stderr and "needs Python 3.11 or newer" in result.stderr
    assert not venv.exists()  # nothing half-built for a later run to reuse


def test_the_build_targets_refuse_to_run_without_artifacts_dir(tmp_path: Path) -> None:
    env_free = {k: v for k, v in os.environ.items() if k != "ARTIFACTS_DIR"}
    for target in ("build-WhoAmIFunction", "build-AuthorizerFunction"):
        result = subprocess.run(
            ["make", "--no-print-directory", target],
            cwd=ROOT,
            env=env_free,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0, target
        assert "ARTIFACTS_DIR is not set" in result.stderr
    assert not Path("/whoami.py").exists()
    done = make("build-WhoAmIFunction", f"ARTIFACTS_DIR={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "whoami.py").is_file()


def test_the_tools_run_from_any_folder_of_the_checkout() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "JWT_"))}
    result = subprocess.run(
        [sys.executable, "-m", "authorizer_tools", "doctor",
         "--parameter", "Issuer=http://127.0.0.1:9", "--parameter", "Audience=api"],
        cwd=ROOT / "tests",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    # The checkout's template was found, and the issuer (a closed port) was asked.
    assert result.returncode == 1, result.stderr
    assert "FAIL  discovery: GET http://127.0.0.1:9/" in result.stdout


def test_make_dist_keeps_the_zips_make_package_and_make_layer_wrote(tmp_path: Path) -> None:
    kept = [
        "apigw-oidc-authorizer-0.1.0-arm64.zip",
        "apigw-oidc-authorizer-0.1.0-arm64.zip.sha256",
        "apigw-oidc-authorizer-layer-0.1.0-x86_64.zip",
    ]
    for name in kept:
        (tmp_path / name).write_text("built before")
    stale = tmp_path / "apigw_oidc_authorizer-0.0.1-py3-none-any.whl"
    stale.write_text("an older wheel")
    built = subprocess.run(
        ["make", "--no-print-directory", "dist", f"DIST={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    assert all((tmp_path / name).read_text() == "built before" for name in kept)
    assert not stale.exists()
    assert len(list(tmp_path.glob("apigw_oidc_authorizer-*.whl"))) == 1
    assert len(list(tmp_path.glob("apigw_oidc_authorizer-*.tar.gz"))) == 1


def test_the_claims_layer_holds_the_reader_alone_and_it_reads_claims(tmp_path: Path) -> None:
    """What the published application's ClaimsLayer gives a downstream function."""
    done = make("build-ClaimsLayer", f"ARTIFACTS_DIR={tmp_path}")
    assert done.returncode == 0, done.stderr
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["python/authorizer/__init__.py", "python/authorizer/claims.py"]
    context = {"sub": "a", "n": "1", "jsonClaims": '["n"]'}
    event = json.dumps({"requestContext": {"authorizer": {"lambda": context}}})
    reader = (
        "import json, sys; from authorizer.claims import claims_from_event;"
        f" print(json.dumps(claims_from_event(json.loads({event!r}))))"
    )
    # -S: no site-packages (and no checkout on the path): the layer alone, as Lambda has it.
    read = subprocess.run(
        [sys.executable, "-S", "-c", reader],
        env={"PYTHONPATH": str(tmp_path / "python")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == '{"sub": "a", "n": 1}'
