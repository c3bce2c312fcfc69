"""MCP client built on the official Python SDK 2.x, speaking protocol 2026-07-28, for mcpsniff's tests.

    .venv-mcp2/bin/python modern_client.py --url URL [--mode 2026-07-28|auto|legacy]

tools/list, tools/call echo, tools/call ticks(3, 0.2), resources/read note://hello.
--mode 2026-07-28 (default) adopts the modern version directly: no initialize, no server/discover
probe, no Mcp-Session-Id; every POST carries MCP-Protocol-Version, Mcp-Method (and Mcp-Name) and
the io.modelcontextprotocol/* `_meta` envelope. --mode auto is the SDK default: one
server/discover probe first, then modern if the server offers 2026-07-28, else initialize.
--mode legacy forces the initialize handshake. The client opts in to log notifications
(log_level=info) so ticks' logs ride the response stream.
Prints one JSON summary line on stdout; exit 0 on success, 1 on failure ("ok": false, "error").
Honours HTTP_PROXY / NO_PROXY (the SDK's httpx2 client trusts the environment).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

import anyio
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import Implementation, TextContent, TextResourceContents

NOTE_URI = "note://hello"
TIMEOUT = 20.0

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)  # log_level= is the deprecated logging opt-in


def text_of(result: Any) -> str:
    return "".join(c.text for c in result.content if isinstance(c, TextContent))


async def run(url: str, mode: str, calls: int) -> dict[str, Any]:
    summary: dict[str, Any] = {"ok": False, "url": url, "mode": mode}
    logs: list[str] = []

    async def on_log(params: Any) -> None:
        logs.append(str(params.data))

    client = Client(
        url,
        mode=mode,
        read_timeout_seconds=TIMEOUT,
        client_info=Implementation(name="mcpsniff-modern-client", version="0.1.0"),
        logging_callback=on_log,
        log_level="info",
        cache=None,  # every call goes on the wire
    )
    with anyio.fail_after(60):
        async with client:
            summary["protocol_version"] = client.protocol_version
            info = client.server_info
            summary["server"] = info.name if info is not None else None
            summary["tools"] = sorted(t.name for t in (await client.list_tools()).tools)

            echoes = []
            for i in range(calls):
                result = await client.call_tool("echo", {"text": f"hello {i}"})
                if result.is_error:
                    raise RuntimeError(f"echo call {i} failed: {text_of(result)}")
                echoes.append(text_of(result))
            summary["echo"] = echoes

            progress: list[float] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                progress.append(value)

            result = await client.call_tool("ticks", {"n": 3, "interval": 0.2}, progress_callback=on_progress)
            if result.is_error:
                raise RuntimeError(f"ticks call failed: {text_of(result)}")
            summary["ticks"] = {"result": text_of(result), "progress": progress, "logs": list(logs)}

            contents = (await client.read_resource(NOTE_URI)).contents
            summary["resource"] = "".join(c.text for c in contents if isinstance(c, TextResourceContents))
            summary["calls"] = calls + 1
    summary["ok"] = True
    return summary


def describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", default="2026-07-28", choices=("2026-07-28", "auto", "legacy"))
    parser.add_argument("--calls", type=int, default=1)
    args = parser.parse_args(argv)
    if args.calls < 0:
        parser.error("--calls must be >= 0")
    try:
        summary = anyio.run(run, args.url, args.mode, args.calls)
    except Exception as exc:  # one line, never a traceback
        print(json.dumps({"ok": False, "url": args.url, "mode": args.mode, "error": describe(exc)}))
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
