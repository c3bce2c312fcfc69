"""The live capture summary counts with analyze's own classification."""

from __future__ import annotations

import orjson
import pytest

from mcpsniff import schema
from mcpsniff.cli.live import LiveSummary
from mcpsniff.documents.analysis import analyze, document
from synth import Scenario, seed_scenario


def _rec(ua, method, sid=None, status=200, issued=None, url="http://h/mcp", t=1.0):
    req_headers = [("User-Agent", ua)] + ([("Mcp-Session-Id", sid)] if sid else [])
    resp_headers = [("Mcp-Session-Id", issued)] if issued else []
    body = schema.make_body(10, rpc=[{"jsonrpc": "2.0", "id": 1, "method": method}])
    return schema.make_exchange("x", t_req=t, method="POST", url=url, req_headers=req_headers,
                                req_body=body, resp=schema.make_response(status, resp_headers))


def test_summary_counts_per_user_agent():
    s = LiveSummary()
    for i, rec in enumerate([
        _rec("ctrl", "initialize", issued="s1"), _rec("ctrl", "tools/list", sid="s1"),
        _rec("tool", "initialize", issued="s2"), _rec("tool", "notifications/initialized", sid="s2"),
        _rec("tool", "tools/call"), _rec("tool", "tools/call"),
        _rec("stateless", "initialize"), _rec("stateless", "tools/call"),  # nothing issued: nothing dropped
        _rec("bad", "initialize", status=400, issued="s3"),  # a 400 issues nothing
        schema.make_meta(x=1),
    ]):
        if rec["kind"] == "exchange":
            rec["t"]["req"] = 1.0 + i
        s.add(rec)
    got = {ua: (p.requests, p.issued, p.echoed, p.dropped) for ua, p in s.planes()}
    assert got == {"ctrl": (2, 1, 1, 0), "tool": (4, 1, 1, 2), "stateless": (2, 0, 0, 0), "bad": (1, 0, 0, 0)}
    assert s.exchanges == 9 and "'tool': 4 req, 1 session issued, 1 echoed, 2 dropped" in s.line()


def _mixed() -> Scenario:
    """Cases the old live counter got wrong: two servers (one stateless), a foreign id, an unknown id."""
    s = seed_scenario(tool_calls=3)
    other = "http://127.0.0.1:9000/mcp"
    s.initialize("openai-mcp/1.0.0", sid=None, url=other)  # a stateless server: nothing to drop there
    s.request("openai-mcp/1.0.0", "tools/call", sid=None, url=other)
    s.request("openai-mcp/1.0.0", "tools/list", sid="ctrl-aaa")  # the other plane's id: foreign, not echoed
    s.request("late-client/1", "tools/list", sid="issued-before-capture")  # unknown, not echoed
    return s


@pytest.mark.parametrize("make", [seed_scenario, _mixed])
def test_live_summary_agrees_with_analyze(make, tmp_path):
    s = make()
    p = tmp_path / "cap.jsonl"
    p.write_bytes(s.jsonl())
    doc = document(analyze([str(p)]))
    want = {pl["user_agent"]: (pl["requests"], pl["sessions_issued"], pl["session_header"]["echoed"], pl["session_header"]["dropped"])
            for pl in doc["planes"]}
    live = LiveSummary()
    for line in p.read_bytes().splitlines():
        live.add(orjson.loads(line))
    got = {ua: (c.requests, c.issued, c.echoed, c.dropped) for ua, c in live.planes()}
    assert got == want
    assert sum(v[3] for v in want.values()) == 3  # the seed's three dropped tools/call, and no more
