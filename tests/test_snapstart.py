"""Lambda SnapStart: after a restore, keys are fetched again and no verification is reused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from authorizer_tools.devissuer import DevIssuer
from authorizer_tools.eventgen import make_event
from tests.conftest import AUDIENCE, FakeClock, build_authorizer, mint
from tests.test_tokencache import counted

ROOT = Path(__file__).resolve().parent.parent


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


def test_after_restore_still_serves_the_old_keys_if_the_issuer_is_down(clock: FakeClock) -> None:
    with DevIssuer() as issuer:
        authorizer = build_authorizer(issuer, clock)
        token = mint(issuer, clock)
        authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    authorizer.after_restore()
    response = authorizer.handle(make_event("rest_token", f"Bearer {token}"))
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"


# The Lambda runtime provides snapshot_restore_py under SnapStart only; this
# stand-in records what the handler module registers, nothing more.
RUNTIME_HOOKS = """
hooks = []
def register_after_restore(function, *args, **kwargs):
    hooks.append(function)
    return function
"""

SCRIPT = """
import json, sys
import snapshot_restore_py
from authorizer import app
event = json.loads(sys.argv[1])
app.AUTHORIZER.handle(event)
for hook in snapshot_restore_py.hooks:
    hook()
app.AUTHORIZER.handle(event)
print("RESULT", app.SNAPSTART, len(snapshot_restore_py.hooks))
"""


def test_the_handler_module_registers_its_restore_hook_under_snapstart(tmp_path: Path) -> None:
    (tmp_path / "snapshot_restore_py.py").write_text(RUNTIME_HOOKS)
    with DevIssuer() as issuer:
        event = make_event("rest_token", f"Bearer {issuer.mint({'aud': AUDIENCE})}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "JWKS_"))}
        env.update(
            JWT_ISSUER=issuer.issuer,
            JWT_AUDIENCE=AUDIENCE,
            PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}",
        )
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, json.dumps(event)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        fetches = issuer.fetches()
    assert result.returncode == 0, result.stderr
    assert "RESULT True 1" in result.stdout
    assert fetches == 2  # the prefetch at init, and again after the restore
