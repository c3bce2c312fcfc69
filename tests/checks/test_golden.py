"""Golden cases: every rule has a capture that triggers it and a near miss that must not.

Captures are synthetic (tests/synth.py), written to JSONL and read back through the
real loader, so the whole analyze pipeline runs.  Real SDK traffic is covered by the
end-to-end tests.
"""

from __future__ import annotations

from typing import Callable

import pytest

from mcpsniff.checks import catalogue as rules
from mcpsniff.documents.analysis import analyze
from mcpsniff.schema import make_event
from synth import Scenario, seed_scenario

A, B = "client-a/1.0", "client-b/2.0"
V = "2025-11-25"


def run(s: Scenario, tmp_path) -> dict[str, list]:
    p = tmp_path / "cap.jsonl"
    p.write_bytes(s.jsonl())
    a = analyze([str(p)])
    out: dict[str, list] = {}
    for f in a.findings:
        out.setdefault(f.rule, []).append(f)
    return out


def session(s: Scenario, ua=A, sid="sid-1", version=V, **kw) -> None:
    s.initialize(ua, sid=sid, version=version, **kw)
    s.notify(ua, sid=sid, pv=version if version >= "2025-06-18" else None)


# --- builders: each returns (scenario, expected plane, expected count) ----------------


def dropped_trigger():
    s = Scenario()
    session(s)
    s.request(A, "tools/list", sid="sid-1")
    s.request(A, "tools/call", sid=None, params={"name": "x"}, status=400)
    s.request(A, "tools/call", sid=None, params={"name": "x"}, status=400)
    return s, A, 2


def dropped_near_miss():
    # stateless server: no session id issued, so nothing can be dropped
    s = Scenario()
    s.initialize(A, sid=None)
    s.notify(A, sid=None)
    s.request(A, "tools/call", sid=None, params={"name": "x"})
    return s


def accepted_trigger():
    s = Scenario()
    session(s)
    s.request(A, "tools/call", sid=None, status=200)
    return s, A, 1


def accepted_near_miss():
    s = Scenario()
    session(s)
    s.request(A, "tools/call", sid=None, status=400)  # the SHOULD: 400
    return s


def reinit_trigger():
    s = Scenario()
    session(s)
    s.request(A, "tools/list", sid="sid-1", status=404)
    s.request(A, "tools/list", sid="sid-1", status=404)
    s.initialize(A, sid="sid-2", req_sid="sid-1")  # initialize still carrying the dead id
    return s, A, 2


def reinit_near_miss():
    s = Scenario()
    session(s)
    s.request(A, "tools/list", sid="sid-1", status=404)
    session(s, sid="sid-2")
    s.request(A, "tools/list", sid="sid-2")
    return s


def deleted_trigger():
    s = Scenario()
    session(s)
    s.delete(A, sid="sid-1", status=200)
    s.request(A, "tools/list", sid="sid-1", status=200)
    return s, A, 1


def deleted_near_miss():
    s = Scenario()
    session(s)
    s.delete(A, sid="sid-1", status=405)  # server refused termination: the session lives on
    s.request(A, "tools/list", sid="sid-1", status=200)
    return s


def invalid_chars_trigger():
    s = Scenario()
    session(s, sid="bad id\u00e9")
    return s, A, 1


def invalid_chars_near_miss():
    s = Scenario()
    session(s, sid="Abc-123_~!xyz")
    return s


def pv_missing_trigger():
    s = Scenario()
    session(s)
    s.request(A, "tools/list", sid="sid-1", pv=None)
    return s, A, 1


def pv_missing_near_miss():
    # negotiated 2025-03-26: the header did not exist yet
    s = Scenario()
    session(s, version="2025-03-26")
    s.request(A, "tools/list", sid="sid-1", pv=None)
    return s


def pv_mismatch_trigger():
    s = Scenario()
    session(s, version="2025-06-18", requested=V)  # server counter-offered 2025-06-18
    s.request(A, "tools/list", sid="sid-1", pv=V)
    return s, A, 1


def pv_mismatch_near_miss():
    s = Scenario()
    session(s, version="2025-06-18", requested=V)
    s.request(A, "tools/list", sid="sid-1", pv="2025-06-18")
    return s


def pv_invalid_trigger():
    s = Scenario()
    session(s)
    s.request(A, "tools/list", sid="sid-1", pv="2099-01-01", status=200)
    return s, A, 1


def pv_invalid_near_miss():
    s = Scenario()
    session(s)
    s.request(A, "tools/list", sid="sid-1", pv="2099-01-01", status=400)
    return s


def accept_trigger():
    s = Scenario()
    session(s)
    s.request(A, "tools/list", sid="sid-1", accept="application/json")
    s.get_stream(A, sid="sid-1", accept="application/json")
    return s, A, 2


def accept_near_miss():
    s = Scenario()
    session(s)
    s.request(A, "tools/list", sid="sid-1", accept="text/event-stream;q=0.9, application/json")
    s.get_stream(A, sid="sid-1")
    return s


def notif_trigger():
    s = Scenario()
    s.initialize(A, sid="sid-1")
    s.notify(A, sid="sid-1", status=200)
    s.notify(A, "notifications/cancelled", sid="sid-1", status=202, resp_size=15)
    return s, A, 2


def notif_near_miss():
    s = Scenario()
    s.initialize(A, sid="sid-1")
    s.notify(A, sid="sid-1", status=202)
    s.notify(A, "notifications/cancelled", sid="sid-1", status=400)  # not accepted: any error status is fine
    return s


def batch_trigger():
    s = Scenario()
    session(s)
    s.batch(A, ["tools/list", "prompts/list"], sid="sid-1")
    return s, A, 1


def batch_near_miss():
    s = Scenario()
    session(s, version="2025-03-26")  # batches are part of 2025-03-26
    s.batch(A, ["tools/list", "prompts/list"], sid="sid-1", pv=None)
    return s


def get_response_trigger():
    s = Scenario()
    session(s)
    s.get_stream(A, sid="sid-1", events=[make_event(0, '{"jsonrpc":"2.0","id":7,"result":{}}', event="message")])
    return s, A, 1


def get_response_near_miss():
    s = Scenario()
    session(s)
    # a resumed stream may replay responses; a live one may carry requests and notifications
    s.get_stream(A, sid="sid-1", last_event_id="ev-3", events=[make_event(0, '{"jsonrpc":"2.0","id":7,"result":{}}')])
    s.get_stream(A, sid="sid-1", events=[make_event(0, '{"jsonrpc":"2.0","method":"notifications/message","params":{}}'),
                                         make_event(0, '{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage"}')])
    return s


def modern_mismatch_trigger():
    s = Scenario()
    s.modern(A, "tools/call", params={"name": "echo"}, headers={"Mcp-Name": "other"}, status=400)
    s.modern(A, "tools/list", headers={"Mcp-Method": None}, status=400)
    return s, A, 2


def modern_mismatch_near_miss():
    s = Scenario()
    s.modern(A, "tools/call", params={"name": "échø"}, headers={"Mcp-Name": "=?base64?w6ljaMO4?="})
    s.modern(A, "resources/read", params={"uri": "file:///a"})
    s.modern(A, "notifications/cancelled", notification=True, headers={"Mcp-Method": None})
    return s


def modern_mismatch_accepted_trigger():
    s = Scenario()
    s.modern(A, "tools/call", params={"name": "echo"}, headers={"Mcp-Name": "other"}, status=200)
    return s, A, 1


def modern_mismatch_accepted_near_miss():
    s = Scenario()
    s.modern(A, "tools/call", params={"name": "echo"}, headers={"Mcp-Name": "other"}, status=400)
    return s


def modern_meta_trigger():
    s = Scenario()
    s.modern(A, "tools/list", meta={"io.modelcontextprotocol/protocolVersion": "2026-07-28"})
    return s, A, 1


def modern_meta_near_miss():
    s = Scenario()
    s.modern(A, "tools/list")
    return s


def modern_clientinfo_trigger():
    s = Scenario()
    s.modern(A, "tools/list", meta={"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                    "io.modelcontextprotocol/clientCapabilities": {}})
    return s, A, 1


def modern_clientinfo_near_miss():
    s = Scenario()
    s.modern(A, "tools/list")
    return s


def unknown_trigger():
    s = Scenario()
    s.request(A, "tools/list", sid="issued-before-capture")
    return s, A, 1


def unknown_near_miss():
    s = Scenario()
    session(s)
    s.request(A, "tools/list", sid="sid-1")
    return s


def foreign_trigger():
    s = Scenario()
    session(s, ua=A, sid="sid-a")
    session(s, ua=B, sid="sid-b")
    s.request(B, "tools/list", sid="sid-a")
    return s, B, 1


def foreign_near_miss():
    s = Scenario()
    session(s, ua=A, sid="sid-a")
    session(s, ua=B, sid="sid-b")
    s.request(B, "tools/list", sid="sid-b")
    return s


def no_response_trigger():
    s = Scenario()
    session(s)
    s.exchange(A, headers=s.mcp_headers("sid-1", V), rpc=[{"jsonrpc": "2.0", "id": 9, "method": "tools/call"}],
               status=None, error="Server disconnected.")
    return s, A, 1


def no_response_near_miss():
    s = Scenario()
    session(s)
    # not MCP traffic
    s.exchange(None, http_method="GET", url="http://127.0.0.1:8000/favicon.ico", status=None, error="connection refused")
    # an SSE stream the client closed after its response arrived: it did get a response
    s.exchange(A, headers=s.mcp_headers("sid-1", V), rpc=[{"jsonrpc": "2.0", "id": 9, "method": "resources/read"}],
               status=200, sse=[make_event(0, '{"jsonrpc":"2.0","id":9,"result":{}}')], error="Client disconnected.")
    # the client gave up before any answer came: abandoned by the client, not the server's missing response
    s.exchange(A, headers=s.mcp_headers("sid-1", V), rpc=[{"jsonrpc": "2.0", "id": 10, "method": "tools/call"}],
               status=None, error="Client disconnected.")
    return s


def probe_trigger():
    s = Scenario()
    s.initialize(A, status=405)
    s.legacy_session(A, "abc123", ["tools/list"])
    return s, A, 1


def probe_near_miss():
    s = Scenario()
    s.initialize(A, status=405)  # refused, but no legacy fallback follows: not a probe
    return s


CASES: dict[str, tuple[Callable, Callable]] = {
    "session-id-dropped": (dropped_trigger, dropped_near_miss),
    "missing-session-accepted": (accepted_trigger, accepted_near_miss),
    "no-reinit-after-404": (reinit_trigger, reinit_near_miss),
    "deleted-session-accepted": (deleted_trigger, deleted_near_miss),
    "session-id-invalid-chars": (invalid_chars_trigger, invalid_chars_near_miss),
    "protocol-version-header-missing": (pv_missing_trigger, pv_missing_near_miss),
    "protocol-version-header-mismatch": (pv_mismatch_trigger, pv_mismatch_near_miss),
    "protocol-version-invalid-accepted": (pv_invalid_trigger, pv_invalid_near_miss),
    "accept-header-incomplete": (accept_trigger, accept_near_miss),
    "notification-not-202": (notif_trigger, notif_near_miss),
    "batch-not-allowed": (batch_trigger, batch_near_miss),
    "get-stream-response": (get_response_trigger, get_response_near_miss),
    "modern-header-mismatch": (modern_mismatch_trigger, modern_mismatch_near_miss),
    "modern-header-mismatch-accepted": (modern_mismatch_accepted_trigger, modern_mismatch_accepted_near_miss),
    "modern-meta-missing": (modern_meta_trigger, modern_meta_near_miss),
    "modern-clientinfo-missing": (modern_clientinfo_trigger, modern_clientinfo_near_miss),
    "session-id-unknown": (unknown_trigger, unknown_near_miss),
    "session-id-foreign": (foreign_trigger, foreign_near_miss),
    "no-response": (no_response_trigger, no_response_near_miss),
    "era-probe": (probe_trigger, probe_near_miss),
}


# --- from public bug reports (issue 8): each case replays the wire behaviour its thread shows --------

GPT = "openai-mcp/1.0.0"
INSPECTOR = "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0 Safari/537.36"
PAGE = "http://localhost:6274"  # the Inspector's page origin


def churn_trigger():
    # openai/openai-apps-sdk-examples#201: every batch of tool calls is a fresh session
    # (initialize, tools/list, the call), dropped ~200 ms later without DELETE
    s = Scenario()
    for i in range(6):
        sid = f"15a9bdc6-{i:04d}"
        s.initialize(GPT, sid=sid)
        s.notify(GPT, sid=sid)
        s.request(GPT, "tools/list", sid=sid)
        s.request(GPT, "tools/call", sid=sid, params={"name": "fetch"})
    return s, GPT, 6


def churn_near_miss():
    s = Scenario()
    for i in range(6):  # as many short sessions, each closed with DELETE
        sid = f"closed-{i}"
        s.initialize(A, sid=sid)
        s.request(A, "tools/call", sid=sid, params={"name": "x"})
        s.delete(A, sid=sid)
    for i in range(3):  # several well-used sessions
        sid = f"busy-{i}"
        session(s, ua=B, sid=sid)
        for _ in range(10):
            s.request(B, "tools/call", sid=sid, params={"name": "x"})
    return s


def outside_init_trigger():
    # FlowFuse/flowfuse#8558: a fresh id on every response; cline/cline#11693: a fresh id on the
    # 400 to a GET without a session (Python SDK: "Bad Request: Missing session ID")
    s = Scenario()
    s.initialize(GPT, sid="a1")
    s.request(GPT, "tools/call", sid=None, params={"name": "x"}, resp_headers=[("Mcp-Session-Id", "b2")])
    s.request(GPT, "tools/call", sid=None, params={"name": "x"}, resp_headers=[("Mcp-Session-Id", "c3")])
    s.request(GPT, "tools/call", sid=None, params={"name": "x"}, status=400, error=(-32600, "Bad Request: Missing session ID"),
              resp_headers=[("Mcp-Session-Id", "f126a65aa95c41d989dda3623ce9a73a")])
    return s, GPT, 3


def outside_init_near_miss():
    # the Python SDK repeats the session's own id on every response of the session: harmless
    s = Scenario()
    session(s, sid="s-1")
    s.request(A, "tools/list", sid="s-1", resp_headers=[("Mcp-Session-Id", "s-1")])
    s.request(A, "tools/call", sid="s-1", params={"name": "x"}, status=404, resp_headers=[("Mcp-Session-Id", "s-1")])
    return s


def missing_wrong_status_trigger():
    # oaslananka/kicad-studio-kit#34: 421 "Missing session ID header" to the connector's second POST
    s = Scenario()
    s.initialize(GPT, sid="k-1")
    s.notify(GPT, sid=None, status=421)
    return s, GPT, 1


def missing_wrong_status_near_miss():
    s = Scenario()
    session(s, sid="k-1")
    s.request(A, "tools/list", sid=None, status=400)  # the SHOULD
    s.request(A, "tools/list", sid=None, status=401)  # authentication, a reason of its own
    s.get_stream(A, sid=None, status=405)  # no GET stream here
    return s


def unknown_wrong_status_trigger():
    # modelcontextprotocol/python-sdk#1727: after a restart, a known-to-the-client id gets
    # 400 "Bad Request: No valid session ID provided" (plain text); and after an accepted DELETE
    s = Scenario()
    session(s, sid="old-1")
    s.request(A, "tools/call", sid="old-1", params={"name": "x"}, status=400, resp_text="Bad Request: No valid session ID provided")
    session(s, sid="new-2")
    s.delete(A, sid="new-2", status=200)
    s.request(A, "tools/list", sid="new-2", status=400, error=(-32600, "Bad Request"))
    return s, A, 2


def unknown_wrong_status_near_miss():
    s = Scenario()
    session(s, sid="old-1")
    s.request(A, "tools/call", sid="old-1", params={"name": "x"}, status=404, error=(-32600, "Session not found"))
    session(s, sid="new-2")
    s.request(A, "tools/call", sid="new-2", params={"name": 1}, status=400, error=(-32602, "Invalid params"))  # not about the session
    return s


def flapping_trigger():
    # hyodotdev/openiap#287: sessions live in one instance behind a load balancer
    s = Scenario()
    session(s, sid="lb-1")
    s.request(A, "tools/list", sid="lb-1", status=404)
    s.request(A, "tools/list", sid="lb-1", status=200)
    s.request(A, "tools/list", sid="lb-1", status=400,
              error=(-32000, "Bad Request: initialize first, then send mcp-session-id on follow-up requests."))
    s.request(A, "tools/list", sid="lb-1", status=200)
    return s, A, 2


def flapping_near_miss():
    s = Scenario()
    session(s, sid="lb-1")
    s.request(A, "tools/list", sid="lb-1", status=404)
    session(s, sid="lb-2")  # the client starts again, as it must
    s.request(A, "tools/list", sid="lb-2")
    s.request(A, "tools/call", sid="lb-2", params={"name": 1}, status=400, error=(-32602, "Invalid params"))
    s.request(A, "tools/call", sid="lb-2", params={"name": "x"})
    return s


def duplicated_trigger():
    # bcurts/agentchattr#80: the proxy copied both spellings of the header; the client joined them
    s = Scenario()
    s.initialize(A, sid="abc123", resp_headers=[("mcp-session-id", "abc123")])
    s.notify(A, sid="abc123, abc123", status=404)
    return s, A, 1


def duplicated_near_miss():
    s = Scenario()
    session(s, sid="abc123")
    return s


def get_wrong_status_trigger():
    # punkpeye/mcp-proxy#62: a stateless server answers Cursor's GET with 400 "No sessionId"
    s = Scenario()
    s.initialize("Cursor/1.7", sid=None)
    s.get_stream("Cursor/1.7", sid=None, status=400, resp_text="No sessionId")
    return s, "Cursor/1.7", 1


def get_wrong_status_near_miss():
    s = Scenario()
    s.initialize(A, sid=None)
    s.get_stream(A, sid=None, status=405)  # the fix: 405
    session(s, ua=B, sid="s-1")
    s.get_stream(B, sid=None, status=400)  # the session rules explain this one (B dropped its id)
    s.get_stream(B, sid="dead-1", status=404)  # and this one
    return s


def not_exposed_trigger():
    # modelcontextprotocol/python-sdk#1135, inspector#905: CORS without expose_headers
    s = Scenario()
    cors = [("Access-Control-Allow-Origin", PAGE), ("Access-Control-Allow-Credentials", "true")]
    s.initialize(INSPECTOR, sid="d29151a7", extra_headers=[("Origin", PAGE)], resp_headers=cors)
    s.notify(INSPECTOR, sid=None, status=400, extra_headers=[("Origin", PAGE)])
    return s, INSPECTOR, 1


def not_exposed_near_miss():
    s = Scenario()
    cors = [("Access-Control-Allow-Origin", PAGE), ("Access-Control-Expose-Headers", "mcp-session-id, mcp-protocol-version")]
    s.initialize(INSPECTOR, sid="d29151a7", extra_headers=[("Origin", PAGE)], resp_headers=cors)
    s.notify(INSPECTOR, sid="d29151a7", extra_headers=[("Origin", PAGE)])
    s.initialize(B, sid="same-origin-1", extra_headers=[("Origin", "http://127.0.0.1:8000")])  # same origin: all readable
    return s


def preflight_trigger():
    # netdata/netdata#22258: the second POST asks for mcp-protocol-version; the preflight does not allow it
    s = Scenario()
    netdata = "accept, x-requested-with, origin, content-type, cookie, pragma, cache-control, x-auth-token, x-netdata-auth, x-transaction-id"
    s.preflight(INSPECTOR, PAGE, "content-type", status=200, allow_headers=netdata)
    s.initialize(INSPECTOR, sid="n-1", extra_headers=[("Origin", PAGE)],
                 resp_headers=[("Access-Control-Allow-Origin", PAGE), ("Access-Control-Expose-Headers", "Mcp-Session-Id")])
    s.preflight(INSPECTOR, PAGE, "content-type,mcp-protocol-version,mcp-session-id", status=200, allow_headers=netdata)
    return s, INSPECTOR, 1


def preflight_near_miss():
    s = Scenario()
    fixed = "accept, content-type, authorization, mcp-protocol-version, mcp-session-id, last-event-id"
    s.preflight(INSPECTOR, PAGE, "content-type", status=200, allow_headers="content-type")
    s.preflight(INSPECTOR, PAGE, "content-type,mcp-protocol-version,mcp-session-id", status=204, allow_headers=fixed)
    s.preflight(INSPECTOR, PAGE, "mcp-session-id", status=204, allow_headers="*")
    return s


def refused_trigger():
    # anthropics/claude-code#92835: the server negotiated 2024-11-05, the client keeps sending
    # MCP-Protocol-Version: 2025-11-25, and every request after initialize is refused
    s = Scenario()
    msg = "Bad Request: Unsupported protocol version: 2025-11-25. Supported versions: 2024-11-05"
    s.initialize(A, sid="h-1", version="2024-11-05", requested=V)
    s.notify(A, sid="h-1", status=400)
    for m in ("tools/list", "prompts/list", "resources/list"):
        s.request(A, m, sid="h-1", status=400, error=(-32600, msg))
    return s, A, 4


def refused_near_miss():
    s = Scenario()
    session(s)
    s.request(A, "tools/call", sid="sid-1", params={"name": "x"}, status=400, error=(-32602, "Invalid params"))
    s.request(A, "tools/call", sid="sid-1", params={"name": "x"})
    s.request(B, "tools/list", sid=None, status=500)  # one failure among successes is no pattern
    s.request(B, "tools/list", sid=None, status=200)
    s.request(B, "tools/list", sid=None, status=200)
    return s


CASES.update({
    "session-churn": (churn_trigger, churn_near_miss),
    "session-id-outside-initialize": (outside_init_trigger, outside_init_near_miss),
    "missing-session-wrong-status": (missing_wrong_status_trigger, missing_wrong_status_near_miss),
    "unknown-session-wrong-status": (unknown_wrong_status_trigger, unknown_wrong_status_near_miss),
    "session-flapping": (flapping_trigger, flapping_near_miss),
    "session-header-duplicated": (duplicated_trigger, duplicated_near_miss),
    "get-wrong-status": (get_wrong_status_trigger, get_wrong_status_near_miss),
    "session-id-not-exposed": (not_exposed_trigger, not_exposed_near_miss),
    "cors-preflight-blocks-mcp-headers": (preflight_trigger, preflight_near_miss),
    "requests-refused": (refused_trigger, refused_near_miss),
})


def test_every_rule_has_golden_cases():
    assert set(CASES) == set(rules.RULES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_trigger(rule_id, tmp_path):
    s, plane, count = CASES[rule_id][0]()
    found = run(s, tmp_path)
    assert rule_id in found, f"{rule_id} not triggered; got {sorted(found)}"
    (f,) = found[rule_id]
    assert (f.plane, f.count) == (plane, count)
    assert f.severity == rules.get(rule_id).severity


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_near_miss(rule_id, tmp_path):
    found = run(CASES[rule_id][1](), tmp_path)
    assert rule_id not in found, f"{rule_id} triggered on its near miss: {found[rule_id]}"


def test_near_misses_are_clean_of_errors(tmp_path):
    """Near misses that model correct behaviour give no error at all (not only not their own)."""
    for rid in ("session-id-dropped", "no-reinit-after-404", "accept-header-incomplete", "modern-meta-missing", "get-stream-response"):
        found = run(CASES[rid][1](), tmp_path)
        errors = {r for r, fs in found.items() if fs[0].severity == "error"}
        assert not errors, (rid, errors)


def test_seed_scenario_flags_only_the_tool_plane(tmp_path):
    found = run(seed_scenario(tool_calls=4), tmp_path)
    # 4 of the TOOL plane's 6 requests were refused (400): noted, beside the error that explains it
    assert sorted(found) == ["requests-refused", "session-id-dropped"]
    assert found["requests-refused"][0].plane == "openai-mcp/1.0.0"
    (f,) = found["session-id-dropped"]
    assert f.plane == "openai-mcp/1.0.0"
    assert f.count == 4 and f.by_method == {"tools/call": 4}
    assert f.version == "2025-11-25"


def test_seed_scenario_lenient_server_is_also_flagged(tmp_path):
    found = run(seed_scenario(tool_calls=2, accept_missing=True), tmp_path)
    assert found["missing-session-accepted"][0].count == 2
    assert found["missing-session-accepted"][0].plane == "openai-mcp/1.0.0"


def test_legacy_and_modern_never_flag_session_headers(tmp_path):
    s = Scenario()
    s.legacy_session(A, "abc", ["tools/list", "tools/call"])
    s.modern(B, "tools/list")
    s.modern(B, "tools/call", params={"name": "echo"})
    found = run(s, tmp_path)
    assert not {"session-id-dropped", "missing-session-accepted", "session-id-unknown"} & set(found)
    assert not [r for r, fs in found.items() if fs[0].severity == "error"]


def test_dropped_is_scoped_to_the_server_that_issued(tmp_path):
    # the same User-Agent talks to a stateful and to a stateless server
    s = Scenario()
    session(s, sid="sid-1")
    s.request(A, "tools/list", sid="sid-1")
    other = "http://127.0.0.1:9000/mcp"
    s.initialize(A, sid=None, url=other)
    s.request(A, "tools/list", sid=None, url=other)
    assert "session-id-dropped" not in run(s, tmp_path)


def test_session_header_on_a_non_initialize_response_issues_nothing(tmp_path):
    s = Scenario()
    s.initialize(A, sid=None)
    s.exchange(A, headers=s.mcp_headers(None, V), rpc=[{"jsonrpc": "2.0", "id": 5, "method": "tools/list"}],
               status=400, resp_headers=[("Mcp-Session-Id", "fresh-on-error")])
    s.request(A, "tools/list", sid=None)
    assert "session-id-dropped" not in run(s, tmp_path)


def test_truncated_body_switches_modern_rules_off(tmp_path):
    s = Scenario()
    rec = s.modern(A, "tools/list", meta={})
    rec["req"]["body"]["truncated"] = True
    assert "modern-meta-missing" not in run(s, tmp_path)


# --- issue 8: fixes to existing rules, and diagnosis beyond single rules ------------------------------


def test_mismatch_when_the_server_negotiated_an_older_version(tmp_path):
    # anthropics/claude-code#92835: 2024-11-05 negotiated over Streamable HTTP, header 2025-11-25
    s = Scenario()
    s.initialize(A, sid="h-1", version="2024-11-05", requested=V)
    s.request(A, "tools/list", sid="h-1", pv=V, status=400, error=(-32600, "Bad Request: Unsupported protocol version: 2025-11-25"))
    found = run(s, tmp_path)
    (f,) = found["protocol-version-header-mismatch"]
    assert f.detail == "sent 2025-11-25 where 2024-11-05 was negotiated"
    assert "protocol-version-header-missing" not in found  # the header did not exist in 2024-11-05


def test_mismatch_needs_a_known_negotiation(tmp_path):
    s = Scenario()
    s.request(A, "tools/list", sid="mid-capture", pv=V)  # the initialize was never seen
    assert "protocol-version-header-mismatch" not in run(s, tmp_path)


def test_dropped_counts_a_get_stream_opened_without_the_id(tmp_path):
    # elastic/docs-builder#2726: Cursor opens GET /mcp without the Mcp-Session-Id it was just given
    s = Scenario()
    session(s, ua="Cursor/1.7", sid="c-1")
    s.get_stream("Cursor/1.7", sid=None, pv=None, status=400, resp_text="Bad Request: Mcp-Session-Id header is required")
    s.delete("Cursor/1.7", sid=None, pv=None, status=400)
    found = run(s, tmp_path)
    (f,) = found["session-id-dropped"]
    assert f.by_method == {"DELETE": 1, "GET": 1}
    assert "get-wrong-status" not in found  # the 400 is the session rule's answer


def test_a_redirected_initialize_still_issues_its_session(tmp_path):
    # anthropics/claude-ai-mcp#99: POST /mcp -> 307 /mcp/ -> 200 with the session; later requests to /mcp
    s = Scenario()
    s.exchange(A, headers=s.mcp_headers(None, None), rpc=[{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}],
               status=307, resp_headers=[("Location", "/mcp/")])
    s.initialize(A, sid="r-1", url="http://127.0.0.1:8000/mcp/")
    s.request(A, "tools/list", sid="r-1")
    s.request(A, "tools/list", sid=None, status=400)
    found = run(s, tmp_path)
    (f,) = found["session-id-dropped"]
    assert f.count == 1 and f.values == {"total": 2}


def test_likely_cause_names_the_server_finding(tmp_path):
    from mcpsniff.documents.analysis import document

    s, _, _ = not_exposed_trigger()
    p = tmp_path / "cap.jsonl"
    p.write_bytes(s.jsonl())
    doc = document(analyze([str(p)]))
    by_rule = {f["rule"]: f for f in doc["findings"]}
    assert by_rule["session-id-dropped"]["likely_cause"] == ["session-id-not-exposed"]
    assert by_rule["session-id-not-exposed"]["likely_cause"] == []
    s, _, _ = flapping_trigger()
    p.write_bytes(s.jsonl())
    by_rule = {f["rule"]: f for f in document(analyze([str(p)]))["findings"]}
    assert by_rule["no-reinit-after-404"]["likely_cause"] == ["session-flapping"]


def test_correlation_keys_of_a_plane_that_drops_the_header(tmp_path):
    # FlowFuse/flowfuse#8561: ChatGPT's tool calls carry _meta "openai/session" instead of the header
    from mcpsniff.documents.analysis import document

    s = Scenario()
    s.initialize(GPT, sid="g-1")
    for i in range(6):
        conv = f"v1/conv-{i % 2}"
        s.request(GPT, "tools/call", sid=None, status=400, params={"name": "x", "_meta": {
            "openai/session": conv, "openai/subject": "v1/user-1", "openai/locale": "en-US"}},
            extra_headers=[("traceparent", f"00-{i:032x}-00f067aa0ba902b7-01")])
    p = tmp_path / "cap.jsonl"
    p.write_bytes(s.jsonl())
    (plane,) = document(analyze([str(p)]))["planes"]
    corr = {c["key"]: (c["distinct"], c["requests"]) for c in plane["correlation"]}
    assert corr["openai/session"] == (2, 6) and corr["openai/subject"] == (1, 6) and corr["openai/locale"] == (1, 6)
    assert corr["traceparent trace-id"] == (6, 6)
    assert corr["client connection"] == (1, 7)


def test_a_plane_whose_traffic_failed_is_never_ok(tmp_path):
    from mcpsniff.documents.analysis import document

    s = Scenario()
    for _ in range(3):  # a proxy that cannot reach the server answers for it
        s.exchange(A, headers=s.mcp_headers(None, None), rpc=[{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}],
                   status=502, resp_text="Certificate verify failed: self-signed certificate")
    s.exchange(A, headers=s.mcp_headers(None, None), rpc=[{"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {}}],
               status=None, error="Connection refused")
    p = tmp_path / "cap.jsonl"
    p.write_bytes(s.jsonl())
    doc = document(analyze([str(p)]))
    (plane,) = doc["planes"]
    assert plane["verdict"] == "refused"
    assert doc["summary"]["capture_failed"] == {
        "failed": 4, "exchanges": 4,
        "answers": {"502 Certificate verify failed: self-signed certificate": 3, "no response: Connection refused": 1}}
    (f,) = [f for f in doc["findings"] if f["rule"] == "requests-refused"]
    assert f["detail"] == "4 of 4 requests failed: 502 Certificate verify failed: self-signed certificate x3; no response: Connection refused x1"
