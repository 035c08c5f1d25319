"""An MCP client built with the official SDK: from a bare 401 to a tool call, by its own OAuth.

Run with the SDK's interpreter (``.venv-mcp``); prints one JSON line: the tool's
result and what the client learnt on the way (the token it was given, the
requests it made), or the error that stopped it.

    python client.py URL ISSUER CLIENT_ID CLIENT_SECRET TOOL '{"a": 2, "b": 3}'

The client is given nothing but the MCP server's URL and its own credentials at
the authorization server: the SDK's client-credentials provider finds the
protected resource's metadata from the 401's challenge (RFC 9728), the
authorization server from the metadata, and asks it for a token for the
resource (RFC 8707).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx2
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken


class Memory:
    """Token storage for one run: the token the provider gets is reported at the end."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def call(url: str, issuer: str, client_id: str, secret: str, *,
               tool: str, arguments: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    storage = Memory()
    requests: list[str] = []

    async def record(request: httpx2.Request) -> None:
        requests.append(f"{request.method} {request.url}")

    provider = ClientCredentialsOAuthProvider(
        server_url=url, storage=storage, client_id=client_id, client_secret=secret, issuer=issuer
    )
    async with (
        httpx2.AsyncClient(auth=provider, event_hooks={"request": [record]}) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool(tool, arguments)
    return {
        "result": result.model_dump(mode="json", exclude_none=True),
        "token": storage.tokens.access_token if storage.tokens else None,
        "scope": storage.tokens.scope if storage.tokens else None,
        "requests": requests,
    }


def main() -> None:
    url, issuer, client_id, secret, tool, arguments = sys.argv[1:7]
    try:
        answer = asyncio.run(
            call(url, issuer, client_id, secret, tool=tool, arguments=json.loads(arguments))
        )
    except BaseException as exc:  # reported, whatever it is (an ExceptionGroup too)
        answer = {"error": _innermost(exc)}
    print(json.dumps(answer))


def _innermost(exc: BaseException) -> str:
    """What went wrong, out of the task groups it is wrapped in."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    main()
