"""`invoke`: the real Lambda handler, in this process, on one event.

The environment is set exactly as Lambda would set it from the template, then
``authorizer.app`` is imported (cold start, key prefetch and all) and its
``lambda_handler`` answers the event. What is printed is what API Gateway and
the downstream function would see.
"""

from __future__ import annotations

import json
import os
from typing import Any

from authorizer.claims import NoClaims, claims_from_event
from authorizer.config.settings import SETTING_PREFIXES
from authorizer.decision import Decision

from .local.context import local_context
from .local.gateway import LABELS, answer
from .pasted import event_token, explain


def run_invoke(event: Any, env: dict[str, str]) -> int:
    """Answer ``event``; print the outcome; return the HTTP status API Gateway would send.

    A configuration the cold start refuses raises its :class:`ConfigError`.
    """
    for name in [name for name in os.environ if name.startswith(SETTING_PREFIXES)]:
        del os.environ[name]
    os.environ.update(env)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    from authorizer import app  # noqa: PLC0415 - the cold start (ConfigError) happens here

    # The handler runs once, as in Lambda: a DPoP proof is good for one request, so deciding
    # a second time to show the reason would be refused as a replay. The decision it makes
    # is kept on the way through instead (the authorizer's on_decision seam).
    decisions: list[Decision] = []
    app.AUTHORIZER.on_decision = decisions.append
    try:
        result = answer(lambda: app.lambda_handler(event, local_context("local-invoke")), event)
    finally:
        app.AUTHORIZER.on_decision = None
    decision = decisions[0] if decisions else None
    print(f"{LABELS[result.status]}  reason: {decision.reason if decision else 'internal_error'}")
    if decision is not None and (decision.message or decision.outcome != "allow"):
        print(f"  {explain(decision.reason, decision.message, event_token(event))}")
    if result.error is not None:
        print(f"  the handler raised {type(result.error).__name__}({str(result.error)!r})")
        return result.status
    print("response:")
    print(json.dumps(result.response, indent=2))
    if result.status == 200:
        print_downstream(event, result.response)
    return result.status


def print_downstream(event: Any, response: dict[str, Any]) -> None:
    """The claims as the integration Lambda reads them back, for this event's API kind."""
    context = response.get("context", {})
    if isinstance(event, dict) and event.get("version") == "2.0":
        downstream = {"requestContext": {"authorizer": {"lambda": context}}}
        where = "requestContext.authorizer.lambda"
    else:
        stringified = {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in context.items()
        }
        principal = response.get("principalId")
        downstream = {"requestContext": {"authorizer": {**stringified, "principalId": principal}}}
        where = "requestContext.authorizer"
    try:
        claims = claims_from_event(downstream)
    except NoClaims as exc:
        print(f"downstream ({where}): the function would find no claims: {exc}")
        return
    print(f"downstream ({where}, read with authorizer.claims.claims_from_event):")
    print(json.dumps(claims, indent=2))
