"""MCP server built on the official Python SDK 1.x (FastMCP), for mcpsniff's tests and samples.

    python py_server.py --mode stateful|stateless|json|legacy --port N
        [--sniff OUTPUT [--sniff-toggle]] [--server uvicorn|hypercorn] [--workers N]

Modes (all bind 127.0.0.1):
  stateful   Streamable HTTP at /mcp, sessions (Mcp-Session-Id), SSE responses   (SDK default)
  stateless  Streamable HTTP at /mcp, stateless_http=True: no session id issued
  json       Streamable HTTP at /mcp, sessions, json_response=True: application/json responses
  legacy     2024-11-05 HTTP+SSE: GET /sse, then POST /messages/?session_id=...

--sniff OUTPUT wraps the app in mcpsniff's in-process recorder (MCPSniffMiddleware): each server
process appends to OUTPUT.pid<PID>.jsonl. --server hypercorn serves it with Hypercorn instead of
uvicorn; --workers N (uvicorn) runs N worker processes (they import `app_from_env`).
--sniff-toggle serves past the middleware until SIGUSR1 switches it on (SIGUSR2: off again).

Tools: echo(text), add(a, b), ticks(n, interval). ticks sends n progress notifications
(when the caller gave a progress token) and n log notifications, `interval` seconds apart,
so an SSE response carries several events over time. Resource: note://hello.
Prints nothing on stdout; uvicorn logs warnings and errors to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

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


ENV = "MCPSNIFF_PEER_SERVER"  # the settings of --workers processes, as JSON


def app_for(mode: str, sniff: str | None, toggle: bool = False):
    """The ASGI app of `mode`, wrapped by mcpsniff's middleware when `sniff` names a file
    (``toggle``: switched on and off by signals, see :class:`Toggled`)."""
    mcp = build(mode)
    app = mcp.sse_app() if mode == "legacy" else mcp.streamable_http_app()
    if sniff:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # mcpsniff from the checkout
        from mcpsniff.asgi import MCPSniffMiddleware

        sniffed = MCPSniffMiddleware(app, output=sniff)
        app = Toggled(app, sniffed) if toggle else sniffed
    return app


class Toggled:
    """``--sniff-toggle``: one process serving with the middleware (after SIGUSR1) or past it
    (after SIGUSR2; the start), for benchmarks that compare the two without the differences between
    two processes. Lifespan always goes through the middleware (its writer starts and stops there)."""

    def __init__(self, plain, sniffed) -> None:
        self.plain, self.sniffed, self.on = plain, sniffed, False
        signal.signal(signal.SIGUSR1, lambda *_: setattr(self, "on", True))
        signal.signal(signal.SIGUSR2, lambda *_: setattr(self, "on", False))

    async def __call__(self, scope, receive, send):
        app = self.sniffed if self.on or scope["type"] == "lifespan" else self.plain
        await app(scope, receive, send)


def app_from_env():
    """uvicorn factory for --workers: each worker process builds its own app."""
    settings = json.loads(os.environ[ENV])
    return app_for(settings["mode"], settings["sniff"])


def serve_hypercorn(app, port: int, cert: str | None, key: str | None) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.graceful_timeout = 1
    config.loglevel = "WARNING"
    config.accesslog = None
    if cert:
        config.certfile, config.keyfile = cert, key

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # stop gracefully: lifespan shutdown runs
            loop.add_signal_handler(sig, stop.set)
        await serve(app, config, shutdown_trigger=stop.wait)

    asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, default="stateful")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (with --tls-key)")
    parser.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    parser.add_argument("--sniff", metavar="OUTPUT", help="record in-process with mcpsniff's ASGI middleware")
    parser.add_argument("--sniff-toggle", action="store_true",
                        help="with --sniff: record only after SIGUSR1, until SIGUSR2 (for benchmarks)")
    parser.add_argument("--server", choices=("uvicorn", "hypercorn"), default="uvicorn")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"port out of range: {args.port}")
    if args.workers < 1 or (args.workers > 1 and args.server != "uvicorn"):
        parser.error("--workers N needs N >= 1 and --server uvicorn")

    common = dict(
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
    if args.workers > 1:
        os.environ[ENV] = json.dumps({"mode": args.mode, "sniff": args.sniff})
        uvicorn.run("py_server:app_from_env", factory=True, workers=args.workers,
                    app_dir=str(Path(__file__).resolve().parent), **common)
        return 0
    if args.sniff_toggle and (not args.sniff or args.server != "uvicorn"):
        parser.error("--sniff-toggle needs --sniff and --server uvicorn")
    app = app_for(args.mode, args.sniff, args.sniff_toggle)
    if args.server == "hypercorn":
        serve_hypercorn(app, args.port, args.tls_cert, args.tls_key)
        return 0
    uvicorn.Server(uvicorn.Config(app, **common)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
