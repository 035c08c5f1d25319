"""Lambda SnapStart: after a restore, keys are fetched again and no verification is reused."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.eventgen import make_event
from authorizer_tools.local.runtime import build_artifact, find_python, runtime_python
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, mint
from tests.tokens import counted


def test_after_restore_refetches_keys_and_reverifies_tokens(
    issuer: DevIssuer, clock: FakeClock
) -> None:
    authorizer = build_authorizer(issuer, clock)
    counter = counted(authorizer)
    token = mint(issuer, clock)
    authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    assert (issuer.fetches(), counter.calls) == (1, 1)
    authorizer.after_restore()  # still inside the fresh period and the cooldown
    authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    assert (issuer.fetches(), counter.calls) == (2, 2)
    # On a new connection: the one kept from before the snapshot carries its TLS state.
    assert issuer.connections == 2


def test_after_restore_still_serves_the_old_keys_if_the_issuer_is_down(clock: FakeClock) -> None:
    with DevIssuer() as issuer:
        authorizer = build_authorizer(issuer, clock)
        token = mint(issuer, clock)
        authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    authorizer.after_restore()
    response = authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"


# What the Lambda runtime does under SnapStart, with its own modules: snapshot_restore_py
# holds the hooks, and the runtime client (awslambdaric) runs them after a restore.
SCRIPT = """
import json, sys
from awslambdaric.lambda_runtime_hooks_runner import run_after_restore
from snapshot_restore_py import get_after_restore
from authorizer import app
event = json.loads(sys.argv[1])
app.AUTHORIZER.handle(event)
registered = [func.__name__ for func, _, _ in get_after_restore()]
run_after_restore()
app.AUTHORIZER.handle(event)
print("RESULT", app.SNAPSTART, registered)
"""


@pytest.mark.integration  # Python 3.13 with awslambdaric (make runtime)
def test_the_runtime_runs_the_handler_modules_restore_hook_under_snapstart() -> None:
    python = runtime_python(find_python())  # Python 3.13 with awslambdaric and snapshot_restore_py
    artifact = build_artifact("AuthorizerFunction")
    with DevIssuer() as issuer:
        event = make_event("rest_token", f"Bearer {issuer.mint({'aud': AUDIENCE})}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "JWKS_", "PYTHON"))}
        env.update(JWT_ISSUER=issuer.issuer, JWT_AUDIENCE=AUDIENCE, PYTHONPATH=str(artifact))
        result = subprocess.run(
            [str(python), "-c", SCRIPT, json.dumps(event)],
            cwd=artifact,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        fetches = issuer.fetches()
    assert result.returncode == 0, result.stderr
    assert "RESULT True ['_after_restore']" in result.stdout
    assert fetches == 2  # the prefetch at init, and again after the restore
