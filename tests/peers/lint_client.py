"""A client on the official Python SDK 1.x for the conversation lint's end-to-end tests.

    python lint_client.py --url URL [--sampling] [--scripted]

Initializes (declaring sampling only with --sampling: a sampling callback is what makes the SDK
declare it), lists the tools, calls count, slow(3) with a progress callback and, against the SDK
server, ask (which makes the server send sampling/createMessage). With --scripted it goes through
the scripted server's broken answers (the SDK rejects them; the errors are reported, not raised).
Prints one JSON line: {"ok": true, "errors": [...]}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.types import CreateMessageResult, TextContent


async def sample(context, params) -> CreateMessageResult:
    return CreateMessageResult(role="assistant", content=TextContent(type="text", text="fine"), model="test-model")


async def run(url: str, sampling: bool, scripted: bool) -> dict:
    errors: list[str] = []
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with streamablehttp_client(url) as (read, write, _):
        async with ClientSession(read, write, sampling_callback=sample if sampling else None) as session:
            await session.initialize()
            try:
                await session.list_tools()
            except Exception as e:  # the scripted server's tools/list answers with a string id
                errors.append(f"tools/list: {type(e).__name__}")
            calls = [("count", {"text": "abc"})]
            if not scripted:
                calls += [("slow", {"n": 3}), ("ask", {"prompt": "hi"})]
            for name, arguments in calls:
                try:
                    await asyncio.wait_for(session.call_tool(name, arguments, progress_callback=on_progress), 10)
                except Exception as e:
                    errors.append(f"{name}: {type(e).__name__}")
            if scripted:
                try:
                    await asyncio.wait_for(session.send_ping(), 5)
                except Exception as e:
                    errors.append(f"ping: {type(e).__name__}")
    return {"ok": True, "errors": errors, "progress": len(progress)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--sampling", action="store_true")
    parser.add_argument("--scripted", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.sampling, args.scripted))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
