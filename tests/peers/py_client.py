"""MCP client built on the official Python SDK 1.x, for mcpsniff's tests and samples.

    python py_client.py --url URL --transport streamable|sse [--calls N]

initialize, tools/list, N x tools/call echo, tools/call ticks(3, 0.2), resources/read note://hello,
then close (for a Streamable HTTP session the SDK sends DELETE). Prints one JSON summary line on
stdout; exit 0 on success, 1 on failure (the summary then has "ok": false and "error").
Honours HTTP_PROXY / NO_PROXY like any httpx client.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

import anyio
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent, TextResourceContents
from pydantic import AnyUrl

NOTE_URI = "note://hello"
TIMEOUT = timedelta(seconds=20)


def text_of(result: Any) -> str:
    return "".join(c.text for c in result.content if isinstance(c, TextContent))


async def exercise(session: ClientSession, calls: int, summary: dict[str, Any], logs: list[str]) -> None:
    init = await session.initialize()
    summary["protocol_version"] = init.protocolVersion
    summary["server"] = init.serverInfo.name

    summary["tools"] = sorted(t.name for t in (await session.list_tools()).tools)

    echoes = []
    for i in range(calls):
        result = await session.call_tool("echo", {"text": f"hello {i}"}, read_timeout_seconds=TIMEOUT)
        if result.isError:
            raise RuntimeError(f"echo call {i} failed: {text_of(result)}")
        echoes.append(text_of(result))
    summary["echo"] = echoes

    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    result = await session.call_tool(
        "ticks", {"n": 3, "interval": 0.2}, read_timeout_seconds=TIMEOUT, progress_callback=on_progress
    )
    if result.isError:
        raise RuntimeError(f"ticks call failed: {text_of(result)}")
    summary["ticks"] = {"result": text_of(result), "progress": progress, "logs": list(logs)}

    contents = (await session.read_resource(AnyUrl(NOTE_URI))).contents
    summary["resource"] = "".join(c.text for c in contents if isinstance(c, TextResourceContents))
    summary["calls"] = calls + 1


async def run(url: str, transport: str, calls: int) -> dict[str, Any]:
    summary: dict[str, Any] = {"ok": False, "transport": transport, "url": url}
    logs: list[str] = []

    async def on_log(params: Any) -> None:
        logs.append(str(params.data))

    with anyio.fail_after(60):
        if transport == "sse":
            async with sse_client(url, timeout=20, sse_read_timeout=60) as (read, write):
                async with ClientSession(read, write, read_timeout_seconds=TIMEOUT, logging_callback=on_log) as s:
                    await exercise(s, calls, summary, logs)
        else:
            async with streamable_http_client(url) as (read, write, get_session_id):
                async with ClientSession(read, write, read_timeout_seconds=TIMEOUT, logging_callback=on_log) as s:
                    await exercise(s, calls, summary, logs)
                    summary["session_id"] = get_session_id()
    summary["ok"] = True
    return summary


def describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--transport", choices=("streamable", "sse"), default="streamable")
    parser.add_argument("--calls", type=int, default=2)
    args = parser.parse_args(argv)
    if args.calls < 0:
        parser.error("--calls must be >= 0")
    try:
        summary = anyio.run(run, args.url, args.transport, args.calls)
    except Exception as exc:  # one line, never a traceback
        print(json.dumps({"ok": False, "transport": args.transport, "url": args.url, "error": describe(exc)}))
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
