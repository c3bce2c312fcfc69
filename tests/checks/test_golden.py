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
               status=None, error="Client disconnected.")
    return s, A, 1


def no_response_near_miss():
    s = Scenario()
    session(s)
    # not MCP traffic
    s.exchange(None, http_method="GET", url="http://127.0.0.1:8000/favicon.ico", status=None, error="connection refused")
    # an SSE stream the client closed after its response arrived: it did get a response
    s.exchange(A, headers=s.mcp_headers("sid-1", V), rpc=[{"jsonrpc": "2.0", "id": 9, "method": "resources/read"}],
               status=200, sse=[make_event(0, '{"jsonrpc":"2.0","id":9,"result":{}}')], error="Client disconnected.")
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
    assert sorted(found) == ["session-id-dropped"]
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
