"""`sam build`, `sam package` and `sam publish` with the pinned SAM CLI, against loopback stand-ins.

S3 is moto's server (from `.venv-moto`), so `sam package` uploads the real artifacts and
writes the real packaged template. The Serverless Application Repository has no local
emulator: a loopback server records the request `sam publish` sends (SAM CLI validates the
application metadata and botocore the request's shape before sending it), and answers as
the service does. Nothing reaches beyond loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from authorizer import __version__
from authorizer_tools.local.template import read
from tests import ROOT
from tests.aws import CREDENTIALS, moto_server

# The deployment artefacts: checked once (make unit), not again on each Python (unit-py313).

SAM = ROOT / ".venv-sam" / "bin" / "sam"
APPLICATION_ID = "arn:aws:serverlessrepo:us-east-1:123456789012:applications/apigw-oidc-authorizer"


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment that sends SAM CLI's S3 calls to moto and its SAR calls to a recorder."""
    with moto_server() as endpoint:
        yield from _with_recorder(endpoint, tmp_path_factory)


def _with_recorder(
    endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    recorder = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        **CREDENTIALS,
        "AWS_ENDPOINT_URL_S3": endpoint,
        # Every other service, the repository included, goes to the recorder: nothing leaves
        # loopback even if SAM CLI called something unexpected.
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{recorder.server_address[1]}",
        "SAM_CLI_TELEMETRY": "0",
        "HOME": str(tmp_path_factory.mktemp("home")),  # no profile, no saved settings
    }
    try:
        _wait_for_s3(env)
        yield env
    finally:
        recorder.shutdown()
        recorder.server_close()
    _RECORDED.clear()


_RECORDED: list[dict[str, Any]] = []


class _Recorder(BaseHTTPRequestHandler):
    """The Serverless Application Repository's CreateApplication, as far as `sam publish` needs."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _RECORDED.append({"path": self.path, "body": body})
        reply = json.dumps({"applicationId": APPLICATION_ID, "name": body.get("name")}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


def _wait_for_s3(env: dict[str, str]) -> None:
    python = ROOT / ".venv-sam" / "bin" / "python"
    script = (
        "import boto3, time\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        boto3.client('s3').create_bucket(Bucket='packages'); break\n"
        "    except Exception:\n"
        "        time.sleep(0.1)\n"
        "else:\n"
        "    raise SystemExit('moto did not start')\n"
    )
    subprocess.run([str(python), "-c", script], env=env, check=True, timeout=30)


def _sam(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SAM), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_packaged_template_validates_and_publishes_with_its_metadata(
    aws: dict[str, str], tmp_path: Path
) -> None:
    build = tmp_path / "build"
    built = _sam("build", "--build-in-source", "--build-dir", build, env=aws)
    assert built.returncode == 0, built.stderr[-2000:]
    packaged = tmp_path / "packaged.yaml"
    done = _sam(
        "package", "--template-file", build / "template.yaml", "--s3-bucket", "packages",
        "--output-template-file", packaged, env=aws,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    template = read(packaged)
    application = template["Metadata"]["AWS::ServerlessRepo::Application"]
    for key in ("LicenseUrl", "ReadmeUrl"):
        assert application[key].startswith("s3://packages/"), key
    assert template["Resources"]["AuthorizerFunction"]["Properties"]["CodeUri"].startswith(
        "s3://packages/"
    )
    validated = _sam("validate", "--lint", "--template", packaged, env=aws)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    published = _sam("publish", "--template", packaged, env=aws)
    assert published.returncode == 0, published.stdout + published.stderr
    assert "Created new application" in published.stdout
    (request,) = _RECORDED
    assert request["path"] == "/applications"
    body = request["body"]
    assert body["name"] == "apigw-oidc-authorizer"
    assert body["semanticVersion"] == __version__
    assert body["spdxLicenseId"] == "Apache-2.0"
    assert body["licenseUrl"] == application["LicenseUrl"]
    assert "AWS::ServerlessRepo::Application" not in body["templateBody"]
    assert "AuthorizerFunction" in body["templateBody"]
