"""MCP server built on the official Python SDK 1.x (FastMCP), for mcpsniff's tests and samples.

    python py_server.py --mode stateful|stateless|json|legacy --port N

Modes (all bind 127.0.0.1):
  stateful   Streamable HTTP at /mcp, sessions (Mcp-Session-Id), SSE responses   (SDK default)
  stateless  Streamable HTTP at /mcp, stateless_http=True: no session id issued
  json       Streamable HTTP at /mcp, sessions, json_response=True: application/json responses
  legacy     2024-11-05 HTTP+SSE: GET /sse, then POST /messages/?session_id=...

Tools: echo(text), add(a, b), ticks(n, interval). ticks sends n progress notifications
(when the caller gave a progress token) and n log notifications, `interval` seconds apart,
so an SSE response carries several events over time. Resource: note://hello.
Prints nothing on stdout; uvicorn logs warnings and errors to stderr.
"""

from __future__ import annotations

import argparse
import sys

import anyio
import uvicorn
from mcp.server.fastmcp import Context, FastMCP

MODES = ("stateful", "stateless", "json", "legacy")
NOTE_URI = "note://hello"
NOTE_TEXT = "hello from mcpsniff"


def build(mode: str) -> FastMCP:
    mcp = FastMCP(
        "mcpsniff-py-server",
        stateless_http=(mode == "stateless"),
        json_response=(mode == "json"),
        log_level="WARNING",
    )

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
    parser.add_argument("--mode", choices=MODES, default="stateful")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (with --tls-key)")
    parser.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"port out of range: {args.port}")

    mcp = build(args.mode)
    app = mcp.sse_app() if args.mode == "legacy" else mcp.streamable_http_app()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # open SSE streams must not hold shutdown up for long
        timeout_graceful_shutdown=1,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
