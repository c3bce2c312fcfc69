"""Scenarios beyond the golden cases: how rules behave together and at their edges.

Every rule's own trigger and near miss are data (tests/checks/cases/, run by test_cases.py).
Captures here are synthetic (tests/synth.py), written to JSONL and read back through the real
loader, so the whole analyze pipeline runs.  Real SDK traffic is covered by the end-to-end tests.
"""

from __future__ import annotations

from typing import Callable

import pytest

from mcpsniff.checks import catalogue as rules
from mcpsniff.documents.analysis import analyze
from mcpsniff.schema import make_event
from golden import Case, cases
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


GPT = "openai-mcp/1.0.0"


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

    p = tmp_path / "cap.jsonl"
    p.write_bytes(Case.jsonl(cases()["session-id-not-exposed"].trigger))
    doc = document(analyze([str(p)]))
    by_rule = {f["rule"]: f for f in doc["findings"]}
    assert by_rule["session-id-dropped"]["likely_cause"] == ["session-id-not-exposed"]
    assert by_rule["session-id-not-exposed"]["likely_cause"] == []
    p.write_bytes(Case.jsonl(cases()["session-flapping"].trigger))
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
