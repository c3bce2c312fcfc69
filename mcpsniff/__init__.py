"""mcpsniff: record MCP HTTP traffic and tell which client plane breaks the session contract."""

__version__ = "0.1.0"
