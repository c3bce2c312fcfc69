"""MCP server built on the official Python SDK 2.x (MCPServer), for mcpsniff's tests and samples.

    .venv-mcp2/bin/python modern_server.py --port N [--json] [--sniff OUTPUT]

Serves Streamable HTTP at http://127.0.0.1:N/mcp. The SDK 2.x session manager speaks both eras on
that one endpoint: a 2026-07-28 request (no initialize, no Mcp-Session-Id, `_meta`
io.modelcontextprotocol/* envelope) is answered as a single exchange; an `initialize` starts a
handshake-era session as in 1.x. --json makes it answer application/json instead of SSE.
--sniff OUTPUT wraps the app in mcpsniff's in-process recorder (MCPSniffMiddleware, imported from
this checkout: this venv has no mitmproxy, and needs none for it); it writes OUTPUT.pid<PID>.jsonl.

Tools: echo(text), add(a, b), ticks(n, interval) -- ticks sends n progress notifications
(when the request has a progress token) and n log notifications (when the request opted in to
logging), `interval` seconds apart. Resource: note://hello. Prints nothing on stdout.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning

NOTE_URI = "note://hello"
NOTE_TEXT = "hello from mcpsniff"

# ticks deliberately uses the (deprecated in 2026-07-28) logging capability to put events on the stream
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)


def build() -> MCPServer:
    mcp = MCPServer("mcpsniff-modern-server", version="0.1.0", log_level="WARNING")

    @mcp.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool()
    def add(a: float, b: float) -> float:
        """Return a + b."""
        return a + b

    @mcp.tool()
    async def ticks(n: int, interval: float, ctx: Context) -> str:
        """Send n progress and log notifications, `interval` seconds apart, then return."""
        for i in range(1, n + 1):
            await ctx.report_progress(i, n, f"tick {i}/{n}")
            await ctx.info(f"tick {i}/{n}")
            if i < n:
                await anyio.sleep(interval)
        return f"ticked {n}"

    @mcp.resource(NOTE_URI, name="hello", mime_type="text/plain")
    def hello() -> str:
        """A fixed note."""
        return NOTE_TEXT

    return mcp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--json", action="store_true", help="application/json responses instead of SSE")
    parser.add_argument("--sniff", metavar="OUTPUT", help="record in-process with mcpsniff's ASGI middleware")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"port out of range: {args.port}")

    app = build().streamable_http_app(json_response=args.json)
    if args.sniff:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # mcpsniff from the checkout
        from mcpsniff.asgi import MCPSniffMiddleware

        app = MCPSniffMiddleware(app, output=args.sniff)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
