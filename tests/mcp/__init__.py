"""An MCP server and client built with the official MCP SDK, for the protected-resource tests."""
