"""Servers for the conversation lint's end-to-end tests (tests/e2e/test_conversation_lint.py).

    python lint_server.py --kind sdk|scripted --port N --sniff OUTPUT

Both bind 127.0.0.1, serve Streamable HTTP at /mcp and record in-process with mcpsniff's ASGI
middleware (OUTPUT.pid<PID>.jsonl).

sdk       the official Python SDK 1.x (FastMCP), sessions, SSE responses. Tools: count(text) returns
          a structured result {count: int} (an outputSchema FastMCP derives), ask(prompt) asks the
          client for sampling/createMessage (the SDK sends it whatever the client declared),
          slow(n) reports n progress notifications.
scripted  what the SDKs never send, written out by hand after public reports: an initialize result
          declaring tools only (no listChanged), count's structuredContent with a string count
          (rekog-labs/MCP-Nest#188, microsoft/wassette#263), an error sent as a plain string,
          notifications/tools/list_changed on the GET stream, and a response to tools/list with the
          request's numeric id turned into a string. A session id is issued.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

import anyio
import uvicorn
from mcp.server.fastmcp import Context, FastMCP
from mcp.types import SamplingMessage, TextContent
from pydantic import BaseModel

COUNT_SCHEMA = {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]}


class Counted(BaseModel):
    count: int


def sdk_app():
    mcp = FastMCP("mcpsniff-lint-server", log_level="WARNING")

    @mcp.tool()
    def count(text: str) -> Counted:
        """Count the characters of the text."""
        return Counted(count=len(text))

    @mcp.tool()
    async def ask(prompt: str, ctx: Context) -> str:
        """Ask the client's model."""
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=10)
        return result.content.text if isinstance(result.content, TextContent) else "?"

    @mcp.tool()
    async def slow(n: int, ctx: Context) -> str:
        """Report n progress notifications, then return."""
        for i in range(1, n + 1):
            await ctx.report_progress(i, n)
            await anyio.sleep(0.05)
        return f"done {n}"

    return mcp.streamable_http_app()


def scripted_app():
    sessions: set[str] = set()

    async def read_body(receive) -> bytes:
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                return body

    async def respond(send, status: int, body: bytes = b"", headers: list[tuple[bytes, bytes]] = (), ctype: bytes | None = None):
        h = list(headers) + ([(b"content-type", ctype)] if ctype else [])
        await send({"type": "http.response.start", "status": status, "headers": h})
        await send({"type": "http.response.body", "body": body})

    def answer(msg: dict) -> dict:
        rid, method = msg.get("id"), msg.get("method")
        if method == "initialize":
            return {"jsonrpc": "2.0", "id": rid, "result": {
                "protocolVersion": msg["params"].get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {}}, "serverInfo": {"name": "scripted", "version": "1"}}}
        if method == "tools/list":
            return {"jsonrpc": "2.0", "id": str(rid), "result": {"tools": [
                {"name": "count", "inputSchema": {"type": "object"}, "outputSchema": COUNT_SCHEMA}]}}
        if method == "tools/call":
            return {"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": "3"}],
                                                            "structuredContent": {"count": "3"}}}
        return {"jsonrpc": "2.0", "id": rid, "error": f"{method} failed"}

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                await send({"type": msg["type"] + ".complete"})
                if msg["type"] == "lifespan.shutdown":
                    return
        if scope["path"] != "/mcp":
            return await respond(send, 404)
        if scope["method"] == "GET":
            note = json.dumps({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            return await respond(send, 200, f"event: message\ndata: {note}\n\n".encode(), ctype=b"text/event-stream")
        if scope["method"] == "DELETE":
            return await respond(send, 200)
        msg = json.loads(await read_body(receive))
        if "id" not in msg:
            return await respond(send, 202)
        headers = []
        if msg.get("method") == "initialize":
            sid = uuid.uuid4().hex
            sessions.add(sid)
            headers.append((b"mcp-session-id", sid.encode()))
        return await respond(send, 200, json.dumps(answer(msg)).encode(), headers, b"application/json")

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("sdk", "scripted"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sniff", required=True)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # mcpsniff from the checkout
    from mcpsniff.asgi import MCPSniffMiddleware

    app = MCPSniffMiddleware(sdk_app() if args.kind == "sdk" else scripted_app(), output=args.sniff)
    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                                  lifespan="on", timeout_graceful_shutdown=1)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
