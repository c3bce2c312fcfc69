"""Synthetic MCP exchanges, built with the schema's make_* functions.

Used by the golden rule tests (each rule gets a case that triggers it and a
near miss) and by scripts/bench.py to generate large captures.  Real captures
from real SDK peers live in samples/ and in the end-to-end tests.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from mcpsniff.schema import make_body, make_event, make_exchange, make_response

ACCEPT_BOTH = "application/json, text/event-stream"
#: what a synthetic server declares unless told otherwise: the features the scenarios call
SERVER_CAPS = {"tools": {}, "prompts": {}, "resources": {}, "logging": {}}
URL = "http://127.0.0.1:8000/mcp"


class Scenario:
    """A clock and an id counter; each call appends one exchange record."""

    def __init__(self, t0: float = 1_760_000_000.0, step: float = 0.05, url: str = URL):
        self.t = t0
        self.step = step
        self.url = url
        self.records: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._rpc = itertools.count(1)

    def _tick(self) -> float:
        self.t += self.step
        return self.t

    def exchange(
        self,
        ua: str | None,
        *,
        http_method: str = "POST",
        url: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        rpc: list[dict[str, Any]] | None = None,
        batch: bool = False,
        status: int | None = 200,
        resp_headers: list[tuple[str, str]] | None = None,
        resp_rpc: list[dict[str, Any]] | None = None,
        sse: list[dict[str, Any]] | None = None,
        resp_size: int | None = None,
        req_truncated: bool = False,
        error: str | None = None,
        resp_text: str | None = None,
    ) -> dict[str, Any]:
        t0 = self._tick()
        hdrs = [("Host", "127.0.0.1:8000")]
        if ua is not None:
            hdrs.append(("User-Agent", ua))
        hdrs += headers or []
        body = make_body(
            len(orjson.dumps(rpc if batch else rpc[0])) if rpc else 0,
            rpc=rpc,
            batch=batch,
            truncated=req_truncated,
        )
        resp = None
        if status is not None:
            rh = list(resp_headers or [])
            if sse is not None:
                rh.append(("Content-Type", "text/event-stream"))
                rbody = make_body(sum(len(e["data"]) for e in sse))
            elif resp_rpc is not None:
                rh.append(("Content-Type", "application/json"))
                rbody = make_body(len(orjson.dumps(resp_rpc[0])), rpc=resp_rpc)
            elif resp_text is not None:
                rh.append(("Content-Type", "text/plain"))
                rbody = make_body(len(resp_text.encode()), text=resp_text)
            else:
                rbody = make_body(resp_size or 0)
            if resp_size is not None:
                rbody["size"] = resp_size
            resp = make_response(status, rh, rbody, sse=sse)
        rec = make_exchange(
            f"ex-{next(self._ids)}",
            t_req=t0,
            t_resp=t0 + 0.01 if status is not None else None,
            t_end=t0 + 0.02,
            method=http_method,
            url=url or self.url,
            req_headers=hdrs,
            req_body=body,
            client_addr="127.0.0.1:50000",
            client_conn="conn-1",
            resp=resp,
            error=error,
        )
        self.records.append(rec)
        return rec

    # --- handshake era -------------------------------------------------------

    def mcp_headers(self, sid: str | None, pv: str | None, accept: str | None = ACCEPT_BOTH) -> list[tuple[str, str]]:
        h = []
        if accept is not None:
            h.append(("Accept", accept))
        h.append(("Content-Type", "application/json"))
        if sid is not None:
            h.append(("Mcp-Session-Id", sid))
        if pv is not None:
            h.append(("MCP-Protocol-Version", pv))
        return h

    def initialize(
        self,
        ua: str | None,
        *,
        sid: str | None = None,
        version: str = "2025-11-25",
        requested: str | None = None,
        status: int = 200,
        client: tuple[str, str] = ("test-client", "1.0"),
        as_sse: bool = False,
        req_sid: str | None = None,
        url: str | None = None,
        extra_headers: list[tuple[str, str]] | None = None,
        resp_headers: list[tuple[str, str]] | None = None,
        server_caps: dict[str, Any] | None = None,
        client_caps: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        rid = next(self._rpc)
        req = {
            "jsonrpc": "2.0",
            "id": rid,
            "method": "initialize",
            "params": {
                "protocolVersion": requested or version,
                "capabilities": client_caps or {},
                "clientInfo": {"name": client[0], "version": client[1]},
            },
        }
        result = {"jsonrpc": "2.0", "id": rid, "result": {"protocolVersion": version, "capabilities": dict(SERVER_CAPS if server_caps is None else server_caps),
                                                          "serverInfo": {"name": "srv", "version": "1"}}}
        rh = ([("Mcp-Session-Id", sid)] if sid else []) + list(resp_headers or [])
        h = self.mcp_headers(req_sid, None) + list(extra_headers or [])
        if status >= 300:
            return self.exchange(ua, url=url, headers=h, rpc=[req], status=status, resp_headers=rh)
        if as_sse:
            return self.exchange(
                ua, url=url, headers=h, rpc=[req], status=status, resp_headers=rh,
                sse=[make_event(self.t + 0.01, orjson.dumps(result).decode(), event="message")],
            )
        return self.exchange(ua, url=url, headers=h, rpc=[req], status=status, resp_headers=rh, resp_rpc=[result])

    def request(
        self,
        ua: str | None,
        method: str,
        *,
        sid: str | None = None,
        pv: str | None = "2025-11-25",
        accept: str | None = ACCEPT_BOTH,
        params: dict[str, Any] | None = None,
        status: int = 200,
        url: str | None = None,
        extra_headers: list[tuple[str, str]] | None = None,
        resp_headers: list[tuple[str, str]] | None = None,
        error: tuple[int, str] = (-32600, "Bad Request"),
        resp_text: str | None = None,
    ) -> dict[str, Any]:
        """A JSON-RPC request; a status >= 300 is answered with the JSON-RPC ``error`` (code, message),
        or with the plain ``resp_text`` when given."""
        rid = next(self._rpc)
        msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
        h = self.mcp_headers(sid, pv, accept) + (extra_headers or [])
        if status >= 300 and resp_text is not None:
            return self.exchange(ua, url=url, headers=h, rpc=[msg], status=status, resp_headers=resp_headers, resp_text=resp_text)
        if status >= 300:
            return self.exchange(ua, url=url, headers=h, rpc=[msg], status=status, resp_headers=resp_headers,
                                 resp_rpc=[{"jsonrpc": "2.0", "id": rid, "error": {"code": error[0], "message": error[1]}}])
        return self.exchange(ua, url=url, headers=h, rpc=[msg], status=status, resp_headers=resp_headers,
                             resp_rpc=[{"jsonrpc": "2.0", "id": rid, "result": {}}])

    def notify(
        self,
        ua: str | None,
        method: str = "notifications/initialized",
        *,
        sid: str | None = None,
        pv: str | None = "2025-11-25",
        status: int = 202,
        resp_size: int = 0,
        url: str | None = None,
        extra_headers: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        msg = {"jsonrpc": "2.0", "method": method}
        return self.exchange(ua, url=url, headers=self.mcp_headers(sid, pv) + list(extra_headers or []), rpc=[msg],
                             status=status, resp_size=resp_size)

    def batch(self, ua: str | None, methods: list[str], *, sid: str | None = None, pv: str | None = "2025-11-25") -> dict[str, Any]:
        msgs = [{"jsonrpc": "2.0", "id": next(self._rpc), "method": m, "params": {}} for m in methods]
        return self.exchange(ua, headers=self.mcp_headers(sid, pv), rpc=msgs, batch=True, status=200,
                             resp_rpc=[{"jsonrpc": "2.0", "id": m["id"], "result": {}} for m in msgs])

    def get_stream(self, ua: str | None, *, sid: str | None, pv: str | None = "2025-11-25", events: list[dict[str, Any]] | None = None,
                   last_event_id: str | None = None, accept: str = "text/event-stream", status: int = 200,
                   resp_text: str | None = None) -> dict[str, Any]:
        """A GET stream; a status other than 200 is answered without a stream (``resp_text`` as its body)."""
        h = [("Accept", accept)]
        if sid:
            h.append(("Mcp-Session-Id", sid))
        if pv:
            h.append(("MCP-Protocol-Version", pv))
        if last_event_id:
            h.append(("Last-Event-ID", last_event_id))
        if status != 200:
            return self.exchange(ua, http_method="GET", headers=h, status=status, resp_text=resp_text)
        return self.exchange(ua, http_method="GET", headers=h, status=200, sse=events or [])

    def preflight(self, ua: str | None, origin: str, request_headers: str, *, status: int = 204,
                  allow_headers: str | None = None) -> dict[str, Any]:
        """A browser's CORS preflight for a POST to the MCP endpoint."""
        h = [("Origin", origin), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", request_headers)]
        rh = [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Methods", "GET, POST, OPTIONS")]
        if allow_headers is not None:
            rh.append(("Access-Control-Allow-Headers", allow_headers))
        return self.exchange(ua, http_method="OPTIONS", headers=h, status=status, resp_headers=rh)

    def delete(self, ua: str | None, *, sid: str | None, pv: str | None = "2025-11-25", status: int = 200) -> dict[str, Any]:
        h = []
        if sid:
            h.append(("Mcp-Session-Id", sid))
        if pv:
            h.append(("MCP-Protocol-Version", pv))
        return self.exchange(ua, http_method="DELETE", headers=h, status=status)

    # --- 2026-07-28 ------------------------------------------------------------

    def modern(
        self,
        ua: str | None,
        method: str,
        *,
        params: dict[str, Any] | None = None,
        version: str = "2026-07-28",
        meta: dict[str, Any] | None = None,
        headers: dict[str, str | None] | None = None,
        notification: bool = False,
        status: int | None = None,
    ) -> dict[str, Any]:
        p = dict(params or {})
        m = {
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "modern-client", "version": "2.0"},
        }
        if meta is not None:
            m = meta
        p["_meta"] = m
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": p}
        if not notification:
            msg["id"] = next(self._rpc)
        hv: dict[str, str | None] = {"MCP-Protocol-Version": version, "Mcp-Method": method}
        name = p.get("name", p.get("uri"))
        if name is not None:
            hv["Mcp-Name"] = str(name)
        hv.update(headers or {})
        h = [("Accept", ACCEPT_BOTH), ("Content-Type", "application/json")] + [(k, v) for k, v in hv.items() if v is not None]
        if notification:
            return self.exchange(ua, headers=h, rpc=[msg], status=status or 202)
        return self.exchange(ua, headers=h, rpc=[msg], status=status or 200, resp_rpc=[{"jsonrpc": "2.0", "id": msg["id"], "result": {}}])

    # --- legacy HTTP+SSE (2024-11-05) -----------------------------------------

    def legacy_session(self, ua: str | None, session: str, calls: list[str]) -> None:
        """GET /sse announcing the endpoint, then POSTs answered 202, replies on the stream."""
        base = self.url.rsplit("/", 1)[0]
        post_url = f"{base}/messages/?session_id={session}"
        get = self.exchange(ua, http_method="GET", url=f"{base}/sse", headers=[("Accept", "text/event-stream")], status=200, sse=[])
        events = get["resp"]["sse"]
        events.append(make_event(self.t, f"/messages/?session_id={session}", event="endpoint"))
        for i, m in enumerate(["initialize", "notifications/initialized", *calls], 1):
            msg: dict[str, Any] = {"jsonrpc": "2.0", "method": m, "params": {}}
            if not m.startswith("notifications/"):
                msg["id"] = i
            self.exchange(ua, url=post_url, headers=[("Content-Type", "application/json")], rpc=[msg], status=202, resp_size=8)
            if "id" in msg:
                events.append(make_event(self.t, orjson.dumps({"jsonrpc": "2.0", "id": i, "result": {}}).decode(), event="message"))
        get["t"]["end"] = self.t + 0.01

    def jsonl(self) -> bytes:
        return b"".join(orjson.dumps(r) + b"\n" for r in self.records)


def seed_scenario(tool_calls: int = 3, accept_missing: bool = False) -> Scenario:
    """The seed bug: CTRL plane echoes its session, TOOL plane drops it on tools/call."""
    s = Scenario()
    ctrl, tool = "openai-mcp/1.0.0 (ChatGPT)", "openai-mcp/1.0.0"
    s.initialize(ctrl, sid="ctrl-aaa", client=("openai-mcp", "1.0.0"))
    s.notify(ctrl, sid="ctrl-aaa")
    s.request(ctrl, "tools/list", sid="ctrl-aaa")
    s.request(ctrl, "resources/read", sid="ctrl-aaa", params={"uri": "ui://widget"})
    s.initialize(tool, sid="tool-bbb", client=("openai-mcp", "1.0.0"))
    s.notify(tool, sid="tool-bbb")
    for _ in range(tool_calls):
        s.request(tool, "tools/call", sid=None, params={"name": "poll"}, status=200 if accept_missing else 400)
    return s
