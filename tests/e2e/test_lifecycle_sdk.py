"""The session lifecycle on a real Python SDK server, driven request by request through the real
capture proxy: a pre-session GET stream (as Cursor opens, punkpeye/mcp-proxy#62), a session ended
by DELETE, the dead id refused, a new initialize still carrying the dead id (as a claude.ai
connector does, piotr-agier/google-drive-mcp#197), and a request the client abandons before the
answer. Every answer here is one the spec allows: mcpsniff must find nothing, and explain must
show each exchange's state."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

import peerlib

pytestmark = pytest.mark.slow

V = "2025-11-25"
BOTH = "application/json, text/event-stream"


def rpc(method: str, rid: int | None, **params) -> dict:
    msg = {"jsonrpc": "2.0", "method": method, "params": params}
    if rid is not None:
        msg["id"] = rid
    return msg


def init_params() -> dict:
    return {"protocolVersion": V, "capabilities": {}, "clientInfo": {"name": "lifecycle-probe", "version": "1"}}


def test_a_real_servers_session_lifecycle_gives_no_finding(tmp_path):
    out = tmp_path / "life.jsonl"
    with peerlib.py_server("stateful") as url:
        proc, port = peerlib.start_capture(["--upstream", url.rsplit("/", 1)[0], "-o", str(out)], tmp_path)
        try:
            ep = f"http://127.0.0.1:{port}/mcp"
            h = {"Accept": BOTH, "Content-Type": "application/json", "User-Agent": "lifecycle-probe/1"}
            with httpx.Client(timeout=10) as c:
                pre = c.get(ep, headers={"Accept": "text/event-stream", "User-Agent": "lifecycle-probe/1"})
                assert pre.status_code in (400, 405)  # no session yet
                r = c.post(ep, headers=h, json=rpc("initialize", 1, **init_params()))
                sid = r.headers["mcp-session-id"]
                hs = {**h, "Mcp-Session-Id": sid, "MCP-Protocol-Version": V}
                assert c.post(ep, headers=hs, json=rpc("notifications/initialized", None)).status_code == 202
                assert c.post(ep, headers=hs, json=rpc("tools/list", 2)).status_code == 200
                assert c.delete(ep, headers=hs).status_code == 200
                assert c.post(ep, headers=hs, json=rpc("tools/list", 3)).status_code == 404
                # a new initialize that still carries the dead id
                r2 = c.post(ep, headers={**h, "Mcp-Session-Id": sid}, json=rpc("initialize", 4, **init_params()))
                if r2.status_code == 404:  # this SDK wants it without the id: send it as the spec says
                    r2 = c.post(ep, headers=h, json=rpc("initialize", 5, **init_params()))
                sid2 = r2.headers["mcp-session-id"]
                hs2 = {**h, "Mcp-Session-Id": sid2, "MCP-Protocol-Version": V}
                assert c.post(ep, headers=hs2, json=rpc("notifications/initialized", None)).status_code == 202
            # the client gives up on a slow tool call before its answer
            with httpx.Client(timeout=0.5) as c, pytest.raises(httpx.TimeoutException):
                with c.stream("POST", ep, headers=hs2, json=rpc("tools/call", 6, name="ticks",
                                                                arguments={"n": 3, "interval": 2.0})) as resp:
                    for _ in resp.iter_bytes():
                        pass
            with httpx.Client(timeout=10) as c:
                assert c.post(ep, headers=hs2, json=rpc("tools/list", 7)).status_code == 200
                assert c.delete(ep, headers=hs2).status_code == 200
        finally:
            peerlib.stop_capture(proc)
    r = subprocess.run([sys.executable, "-m", "mcpsniff", "analyze", str(out), "-f", "json"], capture_output=True, text=True,
                       timeout=120)
    doc = json.loads(r.stdout)
    # the SDK attaches a fresh id to its 400 for the pre-session GET: an observation (the spec says a
    # server MAY assign ids at initialization; nothing forbids more), never a warning or an error
    assert [f for f in doc["findings"] if f["severity"] != "info"] == [] and r.returncode == 0, \
        [(f["rule"], f["detail"]) for f in doc["findings"]]
    (plane,) = doc["planes"]
    assert plane["sessions_issued"] == 2
    r = subprocess.run([sys.executable, "-m", "mcpsniff", "explain", str(out), "-f", "json", "--raw-ids"],
                       capture_output=True, text=True, timeout=120)
    ex = json.loads(r.stdout)
    steps = [(e["http_method"], e["method"], e["session_state"], e["explanation"])
             for p in ex["planes"] for s in p["sessions"] for e in s["exchanges"]]
    assert ("DELETE", None, "in use", "session-deleted") in steps
    assert ("POST", "tools/list", "ended (deleted)", "after-end") in steps
    assert any(m == "initialize" and st == "issued" for _, m, st, _ in steps[3:])
    assert [why for _, m, _, why in steps if m == "tools/call"] == ["abandoned"]
