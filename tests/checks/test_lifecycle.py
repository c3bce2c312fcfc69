"""Exchange roles, eras from the conversation, the session lifecycle and one explanation per
exchange: for each class of real-world traffic that broke verdicts, a trigger (the rule still
fires where the spec is broken) and a near miss (traffic that looks alike and is correct).

Each scenario reproduces the wire behaviour of a public thread or of the conformance suite; the
thread is cited above it. Captures are written to JSONL and read through the real loader.
"""

from __future__ import annotations

import json

import orjson
from typer.testing import CliRunner

from mcpsniff.cli import app
from mcpsniff.documents.analysis import analyze, document
from mcpsniff.schema import make_event
from synth import URL, Scenario

A, B = "client-a/1.0", "client-b/2.0"
V = "2025-11-25"
runner = CliRunner()


def run(s: Scenario, tmp_path) -> tuple[dict[str, list], dict]:
    p = tmp_path / "cap.jsonl"
    p.write_bytes(s.jsonl())
    a = analyze([str(p)])
    found: dict[str, list] = {}
    for f in a.findings:
        found.setdefault(f.rule, []).append(f)
    return found, document(a, evidence_limit=None)


def explain(s: Scenario, tmp_path, *args: str) -> dict:
    p = tmp_path / "cap.jsonl"
    p.write_bytes(s.jsonl())
    r = runner.invoke(app, ["explain", str(p), "-f", "json", "--limit", "0", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def exchanges(doc: dict) -> list[dict]:
    return [e for p in doc["planes"] for s in p["sessions"] for e in s["exchanges"]]


def session(s: Scenario, ua: str = A, sid: str = "sid-1", **kw) -> None:
    s.initialize(ua, sid=sid, version=V, **kw)
    s.notify(ua, sid=sid, pv=V)


def rpc_error_200(s: Scenario, ua: str, method: str, sid: str, message: str, *, sse: bool = False) -> None:
    """A request answered 200 whose body is a JSON-RPC error (in JSON, or in an SSE event)."""
    rid = 900 + len(s.records)
    msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": {}}
    err = {"jsonrpc": "2.0", "id": rid, "error": {"code": -32001, "message": message}}
    if sse:
        s.exchange(ua, headers=s.mcp_headers(sid, V), rpc=[msg], status=200, sse=[make_event(s.t, orjson.dumps(err).decode())])
    else:
        s.exchange(ua, headers=s.mcp_headers(sid, V), rpc=[msg], status=200, resp_rpc=[err])


# --- exchange roles: authorization traffic is not the MCP endpoint ---------------------------
# The conformance suite's auth client scenarios (modelcontextprotocol/conformance, auth/*): the
# client GETs the discovery documents carrying MCP-Protocol-Version (basic/authorization: clients
# SHOULD send it during discovery) with Accept: application/json, registers, and trades a code.

def oauth_discovery(s: Scenario, ua: str) -> None:
    base = URL.rsplit("/", 1)[0]
    json_accept = [("Accept", "application/json"), ("MCP-Protocol-Version", V)]
    s.request(ua, "initialize", pv=None, status=401, resp_headers=[
        ("WWW-Authenticate", f'Bearer resource_metadata="{base}/meta/prm-for-mcp"')], error=(-32001, "Unauthorized"))
    for path, status in (("/meta/prm-for-mcp", 200), ("/.well-known/oauth-protected-resource/mcp", 200),
                         ("/.well-known/oauth-authorization-server", 200), ("/.well-known/openid-configuration", 404)):
        s.exchange(ua, http_method="GET", url=base + path, headers=json_accept, status=status, resp_text='{"issuer": "x"}')
    s.exchange(ua, url=base + "/register", headers=json_accept + [("Content-Type", "application/json")], status=201,
               resp_text='{"client_id": "c"}')
    s.exchange(ua, http_method="GET", url=base + "/authorize?response_type=code&client_id=c", headers=json_accept, status=302,
               resp_headers=[("Location", "http://127.0.0.1:3333/callback?code=abc")])
    s.exchange(ua, url=base + "/token", headers=json_accept + [("Content-Type", "application/x-www-form-urlencoded")],
               status=200, resp_text='{"access_token": "t"}')


def test_authorization_traffic_is_not_judged_as_the_endpoint(tmp_path):
    s = Scenario()
    oauth_discovery(s, A)
    session(s)
    s.request(A, "tools/list", sid="sid-1", pv=V)
    found, doc = run(s, tmp_path)
    assert not {"accept-header-incomplete", "get-wrong-status", "requests-refused"} & set(found), sorted(found)
    roles = {(e["http_method"], e["role"], e["explanation"]) for e in exchanges(explain(s, tmp_path))}
    assert ("GET", "auth", "authorization") in roles and ("POST", "auth", "authorization") in roles
    assert doc["capture"]["eras"]["other"] == 7  # the discovery, registration, authorize and token exchanges
    (auth,) = doc["authorization"]
    assert auth["user_agent"] == A and auth["retried_ok"] is True
    assert {k: v["count"] for k, v in auth["kinds"].items()} == {
        "unauthorized": 1, "metadata": 1, "discovery": 3, "registration": 1, "authorize": 1, "token": 1}


def test_the_endpoints_own_get_without_event_stream_is_still_judged(tmp_path):
    s = Scenario()
    oauth_discovery(s, A)
    session(s)
    s.get_stream(A, sid="sid-1", pv=V, accept="application/json", status=406)
    found, _ = run(s, tmp_path)
    (f,) = found["accept-header-incomplete"]
    assert (f.plane, f.count, f.by_method) == (A, 1, {"GET": 1})


# --- eras come from the conversation -----------------------------------------------------------
# mcp-remote 0.15 (built on the v2 SDK client) and other SEP-2243 clients send Mcp-Method / Mcp-Name
# headers inside an ordinary 2025-11-25 session (modelcontextprotocol/swift-sdk#228,
# modelcontextprotocol/php-sdk#353: "Gated on protocol version").

def sep2243_headers(method: str, name: str | None = None) -> list[tuple[str, str]]:
    return [("Mcp-Method", method)] + ([("Mcp-Name", name)] if name else [])


def test_a_v2_clients_extra_headers_stay_in_its_handshake_session(tmp_path):
    s = Scenario()
    s.initialize(A, sid="sid-1", version=V, extra_headers=sep2243_headers("initialize"))
    s.notify(A, sid="sid-1", pv=V, extra_headers=sep2243_headers("notifications/initialized"))
    s.request(A, "tools/list", sid="sid-1", pv=V, extra_headers=sep2243_headers("tools/list"))
    s.request(A, "tools/call", sid="sid-1", pv=V, params={"name": "echo"}, extra_headers=sep2243_headers("tools/call", "echo"))
    s.delete(A, sid="sid-1", pv=V)
    found, doc = run(s, tmp_path)
    assert found == {}, sorted(found)
    (plane,) = doc["planes"]
    assert plane["eras"] == {"handshake": 5} and plane["sessions_issued"] == 1
    assert plane["session_header"]["echoed"] == 4 and plane["session_header"]["unknown"] == 0


def test_the_2026_shape_without_a_handshake_is_judged_as_2026(tmp_path):
    s = Scenario()
    # Mcp-Method and MCP-Protocol-Version: 2026-07-28, no initialize, no _meta: a 2026-07-28 request
    s.modern(A, "tools/list", meta={})
    # the same plane also holds a handshake conversation with another endpoint: judged on its own
    s.initialize(A, sid="sid-9", version=V, url="http://127.0.0.1:8000/other/mcp")
    found, doc = run(s, tmp_path)
    (f,) = found["modern-meta-missing"]
    assert (f.plane, f.count) == (A, 1)
    assert doc["capture"]["eras"] == {"modern": 1, "handshake": 1}


# --- the session lifecycle ------------------------------------------------------------------
# zoedsoupe/anubis-mcp#89: an expired session answered HTTP 200 with a JSON-RPC error instead of 404;
# modelcontextprotocol/python-sdk#1676: a client that keeps the dead id instead of re-initialising.

def test_a_2xx_session_not_found_ends_the_session(tmp_path):
    s = Scenario()
    session(s)
    rpc_error_200(s, A, "tools/list", "sid-1", "Session not found")
    s.request(A, "tools/list", sid="sid-1", pv=V, status=404, error=(-32001, "Session not found"))
    found, _ = run(s, tmp_path)
    assert (found["unknown-session-wrong-status"][0].count, found["no-reinit-after-404"][0].count) == (1, 1)


def test_the_same_refusal_in_an_sse_event_ends_the_session_too(tmp_path):
    s = Scenario()
    session(s)
    rpc_error_200(s, A, "tools/list", "sid-1", "Invalid or expired session ID", sse=True)
    s.request(A, "tools/call", sid="sid-1", pv=V, params={"name": "x"})
    found, _ = run(s, tmp_path)
    assert found["no-reinit-after-404"][0].count == 1 and found["session-flapping"][0].count == 1


# piotr-agier/google-drive-mcp#197: "An initialize that still carries a stale session id is accepted
# and opens a new session" (a claude.ai connector coming back to a dead session).
def test_a_new_initialize_carrying_the_dead_id_opens_a_new_session(tmp_path):
    s = Scenario()
    session(s)
    s.delete(A, sid="sid-1", pv=V)
    s.initialize(A, sid="sid-2", version=V, req_sid="sid-1")
    s.notify(A, sid="sid-2", pv=V)
    s.request(A, "tools/list", sid="sid-2", pv=V)
    found, _ = run(s, tmp_path)
    assert not {"deleted-session-accepted", "session-flapping", "session-id-unknown"} & set(found), sorted(found)
    states = [(e["method"] or e["http_method"], e["session_state"]) for e in exchanges(explain(s, tmp_path, "--raw-ids"))]
    assert ("initialize", "issued") in states and ("DELETE", "in use") in states


def test_refusals_for_other_reasons_end_no_session(tmp_path):
    s = Scenario()
    session(s)
    s.request(A, "tools/call", sid="sid-1", pv=V, status=401, error=(-32001, "token expired"))
    s.request(A, "tools/call", sid="sid-1", pv=V, status=429, resp_text="slow down")
    s.request(A, "tools/call", sid="sid-1", pv=V, status=502, resp_text="<html><body>Bad Gateway</body></html>")
    s.request(A, "tools/call", sid="sid-1", pv=V)
    s.request(A, "tools/call", sid="sid-1", pv=V)
    found, _ = run(s, tmp_path)
    assert not {"session-flapping", "no-reinit-after-404", "deleted-session-accepted"} & set(found), sorted(found)


def test_a_deleted_session_served_again_is_still_found(tmp_path):
    s = Scenario()
    session(s)
    s.delete(A, sid="sid-1", pv=V)
    s.request(A, "tools/list", sid="sid-1", pv=V)
    found, _ = run(s, tmp_path)
    assert found["deleted-session-accepted"][0].count == 1


# --- one explanation per exchange, by precedence ----------------------------------------------
# modelcontextprotocol/python-sdk#1051 and punkpeye/mcp-proxy#62: a GET without a session id to a
# server that issues sessions is answered 400 ("Missing session ID"); Cursor opens that GET.

def test_a_get_without_a_session_answered_400_is_the_missing_session_answer(tmp_path):
    s = Scenario()
    session(s, ua=B, sid="sid-b")
    s.get_stream(A, sid=None, pv=None, status=400, resp_text="Bad Request: Missing session ID")
    found, _ = run(s, tmp_path)
    assert "get-wrong-status" not in found, sorted(found)
    (e,) = [e for e in exchanges(explain(s, tmp_path)) if e["http_method"] == "GET"]
    assert e["explanation"] == "missing-session"


def test_a_get_with_its_session_answered_400_is_a_wrong_get_status(tmp_path):
    s = Scenario()
    session(s)
    s.get_stream(A, sid="sid-1", pv=V, status=400, resp_text="Bad Request")
    found, _ = run(s, tmp_path)
    assert found["get-wrong-status"][0].count == 1


def test_405_to_get_is_healthy_not_a_refusal(tmp_path):
    s = Scenario()
    session(s)
    for _ in range(4):
        s.get_stream(A, sid="sid-1", pv=V, status=405)
    s.request(A, "tools/list", sid="sid-1", pv=V)
    found, doc = run(s, tmp_path)
    assert found == {}, sorted(found)
    assert doc["summary"]["capture_failed"] is None


def test_gets_answered_500_are_refused(tmp_path):
    s = Scenario()
    session(s)
    for _ in range(4):
        s.get_stream(A, sid="sid-1", pv=V, status=500, resp_text="Internal Server Error")
    s.request(A, "tools/list", sid="sid-1", pv=V)
    found, _ = run(s, tmp_path)
    assert found["requests-refused"][0].count == 4


# The seed (openai/openai-apps-sdk-examples, "tools/call requests no longer echo Mcp-Session-Id"):
# the Python SDK attaches a fresh id to its 400 answers: those ids are outside initialize. A
# response that repeats its own session's id is not.
def test_a_response_repeating_its_own_sessions_id_issues_nothing(tmp_path):
    s = Scenario()
    session(s)
    s.request(A, "tools/list", sid="sid-1", pv=V, resp_headers=[("Mcp-Session-Id", "sid-1")])
    s.request(A, "tools/call", sid=None, pv=V, status=400, resp_headers=[("Mcp-Session-Id", "sid-1")])
    found, doc = run(s, tmp_path)
    assert "session-id-outside-initialize" not in found and "session-id-dropped" in found
    (dropped,) = [f for f in doc["findings"] if f["rule"] == "session-id-dropped"]
    assert dropped["evidence"][0]["response_session_id"] == "sid-1"


def test_a_fresh_id_on_a_refusal_is_outside_initialize(tmp_path):
    s = Scenario()
    session(s)
    s.request(A, "tools/call", sid=None, pv=V, status=400, resp_headers=[("Mcp-Session-Id", "fresh-1")])
    found, doc = run(s, tmp_path)
    assert found["session-id-outside-initialize"][0].count == 1
    (f,) = [f for f in doc["findings"] if f["rule"] == "session-id-outside-initialize"]
    assert f["evidence"][0]["response_session_id"] == "fresh-1"


def test_an_exchange_the_client_abandoned_is_not_the_servers_missing_response(tmp_path):
    s = Scenario()
    session(s)
    for i in range(3):
        s.exchange(A, headers=s.mcp_headers("sid-1", V), rpc=[{"jsonrpc": "2.0", "id": 50 + i, "method": "tools/call"}],
                   status=None, error="Client disconnected.")
    s.request(A, "tools/list", sid="sid-1", pv=V)
    found, doc = run(s, tmp_path)
    assert not {"no-response", "requests-refused"} & set(found), sorted(found)
    assert {e["explanation"] for e in exchanges(explain(s, tmp_path)) if e["status"] is None} == {"abandoned"}


def test_a_server_that_drops_the_connection_gave_no_response(tmp_path):
    s = Scenario()
    session(s)
    s.exchange(A, headers=s.mcp_headers("sid-1", V), rpc=[{"jsonrpc": "2.0", "id": 50, "method": "tools/call"}],
               status=None, error="Server disconnected.")
    found, _ = run(s, tmp_path)
    assert found["no-response"][0].count == 1


# auggie (augmentcode/auggie#162) and antigravity-cli (google-antigravity/antigravity-cli#716): a new
# session per unit of work, never closed with DELETE. Real SDK clients send initialized, open the
# GET stream and list tools in each: more than three requests a session.
def churn(s: Scenario, calls: int, delete: bool) -> None:
    for i in range(6):
        sid = f"churn-{i}"
        session(s, sid=sid)
        s.get_stream(A, sid=sid, pv=V)
        s.request(A, "tools/list", sid=sid, pv=V)
        for _ in range(calls):
            s.request(A, "tools/call", sid=sid, pv=V, params={"name": "x"})
        if delete:
            s.delete(A, sid=sid, pv=V)


def test_sessions_abandoned_after_one_unit_of_work_churn(tmp_path):
    s = Scenario()
    churn(s, calls=1, delete=False)
    found, _ = run(s, tmp_path)
    (f,) = found["session-churn"]
    assert (f.plane, f.count) == (A, 6)


def test_well_used_or_closed_sessions_do_not_churn(tmp_path):
    s = Scenario()
    churn(s, calls=3, delete=False)
    churn(s, calls=1, delete=True)
    found, _ = run(s, tmp_path)
    assert "session-churn" not in found


def test_explain_names_the_rules_each_exchange_fed(tmp_path):
    s = Scenario()
    session(s)
    s.request(A, "tools/call", sid=None, pv=V, status=400)
    doc = explain(s, tmp_path)
    (e,) = [e for e in exchanges(doc) if e["status"] == 400]
    assert "session-id-dropped" in e["rules"] and e["session_state"] == "in use (id not sent)"
    assert e["session_id"] is None and doc["session_ids"] == "pseudonymised"
    assert any(r["id"] == "session-id-dropped" and "MUST include it" in r["spec"]["quote"] for r in doc["rules"])
    assert explain(s, tmp_path, "--session", "session-A")["planes"][0]["sessions"][0]["session"] == "session-A"


# SEP-1699 (server-side disconnect and polling, 2025-11-25): a server may close a POST's stream after
# an event with an id and deliver the response when the client resumes with Last-Event-ID. A stream
# that ends without the response and without an id to resume from left the request unanswered.
def call_stream(s: Scenario, rid: int, events: list[dict]) -> None:
    s.exchange(A, headers=s.mcp_headers("sid-1", V), rpc=[{"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                                                           "params": {"name": "slow"}}], status=200, sse=events)


def progress(t: float, id: str | None = None) -> dict:
    note = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}}
    return make_event(t, orjson.dumps(note).decode(), id=id)


def test_a_stream_that_ends_without_its_response_is_no_response(tmp_path):
    s = Scenario()
    session(s)
    call_stream(s, 70, [progress(s.t)])
    found, doc = run(s, tmp_path)
    (f,) = found["no-response"]
    assert (f.plane, f.count, f.by_method) == (A, 1, {"tools/call": 1})
    (e,) = [f for f in doc["findings"] if f["rule"] == "no-response"][0]["evidence"]
    assert e["explanation"] == "stream-without-response"


def test_a_resumable_stream_or_a_replayed_response_counts_as_delivered(tmp_path):
    s = Scenario()
    session(s)
    call_stream(s, 71, [progress(s.t, id="ev-1"), make_event(s.t, "", id="ev-2")])  # primed, closed to poll
    replay = orjson.dumps({"jsonrpc": "2.0", "id": 71, "result": {"content": []}}).decode()
    s.get_stream(A, sid="sid-1", pv=V, last_event_id="ev-2", events=[make_event(s.t, replay, id="ev-3")])
    call_stream(s, 72, [progress(s.t), make_event(s.t, orjson.dumps({"jsonrpc": "2.0", "id": 72, "result": {}}).decode())])
    found, _ = run(s, tmp_path)
    assert not {"no-response", "get-stream-response"} & set(found), sorted(found)
