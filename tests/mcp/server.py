"""An MCP server built with the official SDK, as a Lambda function behind API Gateway.

The SDK's streamable HTTP app (stateless, JSON responses: one request, one answer,
as a Lambda integration has) answers each API Gateway proxy event, REST (payload
1.0) or HTTP API (2.0), through a minimal ASGI bridge. The authorizer in front has
already verified the token; the server reads who called from the authorizer's
context and never sees the token's checks.

Every tool call comes to one route, ``POST /mcp``, so the route rules cannot give
each tool its own scope: a tool that needs more than the route (``orders`` needs
``read:orders``) is refused here, with the challenge ``authorizer.claims.challenge``
builds from the authorizer's context, and a client steps up to a token that has it.

Handler: ``server.lambda_handler`` (the artifact holds this file, the SDK and the
claims reader ``authorizer.claims``).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import MutableMapping
from typing import Any

from mcp.server.mcpserver import MCPServer

from authorizer.claims import challenge, claims_from_event

server = MCPServer("orders")
CALLER: dict[str, Any] = {}  # the authorizer's context of the request being answered
#: The scopes every call needs (the route rule's), and what each tool needs beyond them.
ROUTE_SCOPES = ["mcp:tools"]
TOOL_SCOPES = {"orders": ["read:orders"]}


@server.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@server.tool()
def orders() -> list[str]:
    """The caller's orders (needs read:orders)."""
    return ["order-7"]


@server.tool()
def whoami() -> str:
    """The caller's subject, as the authorizer verified it."""
    return str(CALLER.get("sub") or CALLER.get("principalId") or "")


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return asyncio.run(_answer(event))


async def _answer(event: dict[str, Any]) -> dict[str, Any]:
    refused = _tool_refused(event)
    if refused is not None:
        return refused
    request = event.get("requestContext") or {}
    authorizer = request.get("authorizer") or {}
    CALLER.clear()
    CALLER.update(authorizer.get("lambda", authorizer))
    http = request.get("http")
    method = http["method"] if http else event["httpMethod"]
    path = event.get("rawPath") or event["path"]
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": (event.get("rawQueryString") or "").encode(), "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    received = False
    status, answer_headers, chunks = 500, {}, []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.sleep(3600)  # a disconnect never comes: the answer ends the call
        received = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", []):
                answer_headers[name.decode()] = value.decode()
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    # A new app per request: its session manager runs once (one request, one answer).
    app = server.streamable_http_app(stateless_http=True, json_response=True)
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    return {
        "statusCode": status,
        "headers": answer_headers,
        "body": b"".join(chunks).decode(),
        "isBase64Encoded": False,
    }


def _tool_refused(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 403 with the challenge for a tool call whose token lacks the tool's scopes."""
    try:
        message = json.loads(event.get("body") or "{}")
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    needed = TOOL_SCOPES.get(str((message.get("params") or {}).get("name")), [])
    granted = str(claims_from_event(event).get("scope", "")).split()
    if set(needed) <= set(granted):
        return None
    headers = {"Content-Type": "application/json"}
    headers.update(challenge(event, scopes=[*ROUTE_SCOPES, *needed]))
    body = json.dumps({"error": "insufficient_scope"})
    return {"statusCode": 403, "headers": headers, "body": body, "isBase64Encoded": False}


if __name__ == "__main__":  # a quick look: python server.py < event.json
    import sys

    print(json.dumps(lambda_handler(json.load(sys.stdin), None)))
