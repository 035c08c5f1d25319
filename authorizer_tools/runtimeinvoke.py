"""`invoke --runtime`: one event through the built artifact in the Lambda runtime.

The same report as `invoke`, but from the artifact `sam build` would ship (built
for this machine), run by AWS's runtime emulator and runtime client, with the
runtime's own figures (init, duration) and the function's log lines.
"""

from __future__ import annotations

import json
from typing import Any

from .invoke import print_downstream
from .local.gateway import LABELS, request_arn, status_of
from .local.runtime import running


def run_in_runtime(event: Any, env: dict[str, str], python: str | None, show_logs: bool) -> int:
    """Answer ``event`` in the runtime; print the outcome; return API Gateway's status."""
    env = {"POWERTOOLS_LOG_LEVEL": "INFO", **env}  # the decision line carries the reason
    with running("AuthorizerFunction", env, python=python) as runtime:
        invocation = runtime.invoke(event)
    decision = invocation.decision()
    if invocation.error_type is not None:
        status = 401 if invocation.error_message == "Unauthorized" else 500
    else:
        status = status_of(invocation.payload, request_arn(event))
    print(f"{LABELS[status]}  reason: {decision.get('reason', '-')}")
    if decision.get("detail"):
        print(f"  {decision['detail']}")
    if invocation.error_type is not None:
        print(f"  the handler raised {invocation.error_type}({invocation.error_message!r})")
    else:
        print("response:")
        print(json.dumps(invocation.payload, indent=2))
        if status == 200:
            print_downstream(event, invocation.payload)
    cold = f"init {invocation.init_ms:.0f} ms, " if invocation.init_ms is not None else ""
    duration = f"{invocation.duration_ms:.1f} ms" if invocation.duration_ms is not None else "?"
    print(f"runtime: {cold}invoke {duration} (REPORT of the Lambda runtime emulator)")
    if show_logs:
        print("function log:")
        for line in invocation.logs:
            print(f"  {line}")
    return status
