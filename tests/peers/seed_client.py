"""Scripted reproduction of the seed bug (ChatGPT's TOOL plane drops Mcp-Session-Id).

    python seed_client.py --url URL [--tool-calls N] [--fix] [--protocol-version V]

Two "planes" talk Streamable HTTP (handshake era) to one endpoint, each with its own session:
  CTRL (User-Agent "openai-mcp/1.0.0 (ChatGPT)"): initialize, then notifications/initialized,
       tools/list and resources/read, all carrying its Mcp-Session-Id.
  TOOL (User-Agent "openai-mcp/1.0.0"): its own initialize and notifications/initialized (with its
       session header), then N tools/call echo WITHOUT Mcp-Session-Id -- the bug. --fix sends it.
Every request after initialize carries MCP-Protocol-Version (the negotiated one); every POST has
Accept: application/json, text/event-stream. Both JSON and SSE responses are read.

A 400 for a header-less call is recorded, not fatal. Prints one JSON summary line on stdout:
per plane the session id issued and, per request, the status received. Exit 0 when the script ran
through, 1 when a plane could not initialize or the server could not be reached.
Honours HTTP_PROXY / NO_PROXY like any httpx client.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

CTRL_UA = "openai-mcp/1.0.0 (ChatGPT)"
TOOL_UA = "openai-mcp/1.0.0"
NOTE_URI = "note://hello"
ACCEPT = "application/json, text/event-stream"


class SeedError(Exception):
    """The script cannot go on (a plane failed to initialize, the server is unreachable)."""


def read_sse(response: httpx.Response, want_id: Any) -> tuple[dict[str, Any] | None, int]:
    """Read SSE events until the JSON-RPC response with `want_id`; return it and how many events came."""
    events = 0
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:
                events += 1
                try:
                    message = json.loads("\n".join(data))
                except ValueError:
                    message = None
                data = []
                if isinstance(message, dict) and message.get("id") == want_id and "method" not in message:
                    return message, events
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    return None, events


class Plane:
    def __init__(self, client: httpx.Client, url: str, name: str, user_agent: str, offer: str):
        self.client = client
        self.url = url
        self.name = name
        self.user_agent = user_agent
        self.offer = offer
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.requests: list[dict[str, Any]] = []
        self._next_id = 0

    def post(self, method: str, params: dict[str, Any] | None, *, notify: bool = False, send_session: bool = True):
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            body["params"] = params
        if not notify:
            self._next_id += 1
            body["id"] = self._next_id
        headers = {"User-Agent": self.user_agent, "Accept": ACCEPT, "Content-Type": "application/json"}
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        sent_session = bool(send_session and self.session_id)
        if sent_session:
            headers["Mcp-Session-Id"] = self.session_id  # type: ignore[assignment]

        record: dict[str, Any] = {"method": method, "sent_session_id": sent_session}
        message: dict[str, Any] | None = None
        try:
            with self.client.stream("POST", self.url, json=body, headers=headers) as response:
                ctype = response.headers.get("content-type", "").split(";")[0].strip()
                record.update(status=response.status_code, content_type=ctype or None)
                if response.headers.get("mcp-session-id"):
                    record["response_session_id"] = response.headers["mcp-session-id"]
                if ctype == "text/event-stream":
                    message, record["sse_events"] = read_sse(response, body.get("id"))
                else:
                    raw = response.read()
                    if raw and ctype == "application/json":
                        try:
                            message = json.loads(raw)
                        except ValueError:
                            record["error"] = "unparsable JSON body"
        except httpx.HTTPError as exc:
            record.update(status=None, error=f"{type(exc).__name__}: {exc}")
        if isinstance(message, dict) and isinstance(message.get("error"), dict):
            record["error"] = message["error"].get("message")
        self.requests.append(record)
        return record, (message.get("result") if isinstance(message, dict) else None)

    def initialize(self) -> None:
        record, result = self.post(
            "initialize",
            {
                "protocolVersion": self.offer,
                "capabilities": {},
                "clientInfo": {"name": "openai-mcp", "version": "1.0.0"},
            },
        )
        if record.get("status") != 200 or not isinstance(result, dict):
            raise SeedError(f"{self.name} plane: initialize failed ({record.get('status')}, {record.get('error')})")
        self.session_id = record.get("response_session_id")
        self.protocol_version = result.get("protocolVersion")
        self.post("notifications/initialized", None, notify=True)

    def summary(self) -> dict[str, Any]:
        return {
            "user_agent": self.user_agent,
            "session_id": self.session_id,
            "protocol_version": self.protocol_version,
            "statuses": [r.get("status") for r in self.requests],
            "requests": self.requests,
        }


def text_of(result: Any) -> str | None:
    if not isinstance(result, dict):
        return None
    return "".join(c.get("text", "") for c in result.get("content", []) if isinstance(c, dict))


def run(url: str, tool_calls: int, fix: bool, offer: str) -> dict[str, Any]:
    timeout = httpx.Timeout(20.0)
    with httpx.Client(timeout=timeout) as client:
        ctrl = Plane(client, url, "CTRL", CTRL_UA, offer)
        tool = Plane(client, url, "TOOL", TOOL_UA, offer)

        ctrl.initialize()
        _, listed = ctrl.post("tools/list", {})
        _, read = ctrl.post("resources/read", {"uri": NOTE_URI})

        tool.initialize()
        echoes = []
        for i in range(tool_calls):
            _, result = tool.post("tools/call", {"name": "echo", "arguments": {"text": f"seed {i}"}}, send_session=fix)
            echoes.append(text_of(result))

    tools = sorted(t.get("name") for t in listed.get("tools", [])) if isinstance(listed, dict) else None
    resource = (
        "".join(c.get("text", "") for c in read.get("contents", []) if isinstance(c, dict))
        if isinstance(read, dict)
        else None
    )
    return {
        "ok": True,
        "url": url,
        "fix": fix,
        "tools": tools,
        "resource": resource,
        "echo": echoes,
        "planes": {"ctrl": ctrl.summary(), "tool": tool.summary()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--tool-calls", type=int, default=3)
    parser.add_argument("--fix", action="store_true", help="the TOOL plane sends Mcp-Session-Id too")
    parser.add_argument("--protocol-version", default="2025-11-25", help="version offered in initialize")
    args = parser.parse_args(argv)
    if args.tool_calls < 0:
        parser.error("--tool-calls must be >= 0")
    try:
        summary = run(args.url, args.tool_calls, args.fix, args.protocol_version)
    except (SeedError, httpx.HTTPError) as exc:
        print(json.dumps({"ok": False, "url": args.url, "fix": args.fix, "error": str(exc)}))
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
