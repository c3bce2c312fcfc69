"""An MCP client written with fastmcp (PyPI, pinned in scripts/setup.sh; runs in .venv-fastmcp), for
tests/e2e/test_third_party.py.

    .venv-fastmcp/bin/python fastmcp_client.py URL

fastmcp's Client with its defaults (it picks the transport and protocol era itself): list tools,
call `echo` when the server offers it (else the first tool that needs no arguments, else none), list
resources, close. Its HTTP client honours HTTP_PROXY. Prints one JSON summary line; exit 0 on
success, 1 on failure.
"""

from __future__ import annotations

import asyncio
import json
import sys

from fastmcp import Client


async def run(url: str) -> dict:
    summary: dict = {"ok": False}
    async with Client(url) as client:
        tools = await client.list_tools()
        summary["tools"] = sorted(t.name for t in tools)
        names = {t.name: t for t in tools}
        if "echo" in names:
            args = {"message": "hello"} if "message" in (names["echo"].input_schema.get("properties") or {}) else {"text": "hello"}
            result = await client.call_tool("echo", args)
            summary["echo"] = [getattr(c, "text", None) for c in result.content]
        summary["resources"] = sorted(str(r.uri) for r in await client.list_resources())
    summary["ok"] = True
    return summary


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: fastmcp_client.py URL", file=sys.stderr)
        return 2
    try:
        print(json.dumps(asyncio.run(run(argv[0]))))
    except Exception as exc:  # one line for the test's failure message
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
