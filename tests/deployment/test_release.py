"""`make release` and the workflows that run the tests and publish a version."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from authorizer import __version__
from authorizer_tools.release import SBOM, SUMS, pinned, write_manifest
from tests import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CHECK = ROOT / ".venv" / "bin" / "check-jsonschema"


def test_the_manifest_sums_every_artefact_and_lists_the_pinned_runtime_packages(
    tmp_path: Path,
) -> None:
    for name in (f"apigw-oidc-authorizer-{__version__}-arm64.zip",
                 f"apigw_oidc_authorizer-{__version__}-py3-none-any.whl"):  # fmt: skip
        (tmp_path / name).write_bytes(name.encode())
    (tmp_path / "x.zip.sha256").write_text("beside each zip, as make package writes it\n")
    built = [path.name for path in tmp_path.iterdir() if not path.name.endswith(".sha256")]
    assert write_manifest(tmp_path) == sorted([*built, SBOM])
    checked = subprocess.run(["sha256sum", "--check", SUMS], cwd=tmp_path, capture_output=True,
                             text=True, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (tmp_path / f"apigw-oidc-authorizer-{__version__}-arm64.zip").write_bytes(b"tampered")
    tampered = subprocess.run(["sha256sum", "--check", SUMS], cwd=tmp_path, capture_output=True,
                              check=False)  # fmt: skip
    assert tampered.returncode != 0
    sbom = json.loads((tmp_path / SBOM).read_text())
    assert (
        sbom["bomFormat"] == "CycloneDX" and sbom["metadata"]["component"]["version"] == __version__
    )
    runtime = {
        package["name"]: package for package in pinned((ROOT / "requirements.txt").read_text())
    }
    listed = {component["name"]: component for component in sbom["components"]}
    assert (
        set(listed) == set(runtime) >= {"pyjwt", "cryptography", "urllib3", "aws-lambda-powertools"}
    )
    for name, component in listed.items():
        assert component["purl"] == f"pkg:pypi/{name}@{runtime[name]['version']}"
        assert [h["content"] for h in component["hashes"]] == runtime[name]["hashes"] != []


def test_make_release_builds_every_artefact_into_one_folder() -> None:
    planned = subprocess.run(["make", "-n", "release", "RELEASE_DIR=somewhere"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "package layer dist DIST=somewhere" in planned
    assert "authorizer_tools.release somewhere" in planned


def test_the_workflows_pass_their_published_schema_and_a_broken_one_does_not(
    tmp_path: Path,
) -> None:
    workflows = sorted(str(path) for path in WORKFLOWS.glob("*.yml"))
    assert len(workflows) == 2
    schema = [str(CHECK), "--builtin-schema", "vendor.github-workflows"]
    checked = subprocess.run([*schema, *workflows], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "ci.yml").read_text().replace("runs-on:", "run-on:"))
    refused = subprocess.run([*schema, str(broken)], capture_output=True, text=True, check=False)
    assert refused.returncode != 0


def test_ci_runs_what_ci_run_runs_and_a_tag_publishes_what_make_release_builds() -> None:
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    ci_steps = [step.get("run", "") for step in ci["jobs"]["test"]["steps"]]
    assert any(run.startswith("make test") for run in ci_steps)
    assert any(run.startswith("make unit-py313") for run in ci_steps)
    release = yaml.safe_load((WORKFLOWS / "release.yml").read_text())
    job = release["jobs"]["release"]
    assert job["permissions"] == {"contents": "write", "id-token": "write"}
    runs = " ".join(step.get("run", "") for step in job["steps"])
    assert "make test" in runs and "make release" in runs and "RELEASE_DIR=release/assets" in runs
    assert "gh release create" in runs and "release/assets/*" in runs
    assert "sam publish" in runs
    publish = next(step for step in job["steps"] if "pypi-publish" in step.get("uses", ""))
    assert publish["with"]["packages-dir"] == "release/python"
