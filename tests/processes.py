"""The authorizer and its tools in fresh processes, as Lambda and a user's shell run them.

Each child gets the environment with every setting of ours removed first, so a
test's configuration is exactly what it passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import ROOT

OUR_PREFIXES = ("JWT_", "JWKS_", "AUTHORIZER_", "POWERTOOLS_")


def clean_environment() -> dict[str, str]:
    """This process's environment without any setting of ours."""
    return {key: value for key, value in os.environ.items() if not key.startswith(OUR_PREFIXES)}


def run(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m authorizer_tools *args`` in ``cwd``; its output, whatever its exit status."""
    env = clean_environment()
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "authorizer_tools", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# Reads events from stdin, loads the handler module, answers each event the way
# API Gateway would see it, and prints one JSON line per event.
RUNNER = """
import json, sys
from authorizer import app

class Context:
    function_name = "authorizer"; memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:authorizer"
    aws_request_id = "req-1"

for event in json.load(sys.stdin):
    try:
        print("RESULT " + json.dumps({"response": app.lambda_handler(event, Context())}))
    except Exception as exc:
        print("RESULT " + json.dumps({"raised": type(exc).__name__, "message": str(exc)}))
"""


def run_handler(
    env: dict[str, str],
    events: list[Any],
    pythonpath: str = str(ROOT),
    python_flags: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """The handler module loaded fresh with ``env``, answering ``events`` one by one."""
    clean = clean_environment()
    clean.update(env, PYTHONPATH=pythonpath)
    return subprocess.run(
        [sys.executable, *python_flags, "-c", RUNNER],
        input=json.dumps(events),
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )


def results(process: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [
        json.loads(line[7:]) for line in process.stdout.splitlines() if line.startswith("RESULT ")
    ]
