"""Record MCP traffic in-process: ``from mcpsniff.asgi import MCPSniffMiddleware``.

A thin re-export of :mod:`mcpsniff.capture.asgi` (the capture stage), so the import a server
author writes stays short.  Importing it loads neither mitmproxy nor pandas nor Starlette.
Guide: docs/record-in-process.md.
"""

from .capture.asgi import MCPSniffMiddleware, process_path

__all__ = ["MCPSniffMiddleware", "process_path"]
