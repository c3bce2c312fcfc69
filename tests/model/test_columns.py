"""The exchange columns (mcpsniff.model.columns) on small records: the careful reader and the fast
reader give each record the same values, and those values are what the columns promise."""

from __future__ import annotations

import orjson
import pytest

import mcpsniff.model as model_pkg
from mcpsniff import schema
from mcpsniff.model import build, from_records
from mcpsniff.model.columns import COLUMNS

SSE = ("Content-Type", "text/event-stream")
JSON = ("Content-Type", "application/json")
RM = "https://rs.example/.well-known/oauth-protected-resource"


def request(rid=1, method="tools/call", *, ctype="application/json; charset=UTF-8", http="POST"):
    rpc = None if method is None else [{"jsonrpc": "2.0", **({} if rid is None else {"id": rid}), "method": method}]
    headers = [("User-Agent", "t/1")] + ([("Content-Type", ctype)] if ctype else [])
    return dict(method=http, url="http://h/mcp", req_headers=headers, req_body=schema.make_body(10, rpc=rpc))


def ex(n, resp=None, **req):
    return schema.make_exchange(f"x{n}", t_req=100.0 + n, t_resp=100.5 + n if resp else None, t_end=101.0 + n,
                                resp=resp, error=None if resp else "Server disconnected.", **(req or request()))


def json_resp(status, *msgs, headers=(), truncated=False, text=None):
    body = schema.make_body(50, rpc=list(msgs) or None, text=text, truncated=truncated)
    return schema.make_response(status, [JSON, *headers], body)


def sse_resp(*events, status=200, headers=()):
    return schema.make_response(status, [SSE, *headers], schema.make_body(200), sse=list(events))


def ev(data, *, id=None, truncated=False):
    return schema.make_event(100.7, data if isinstance(data, str) else orjson.dumps(data).decode(), id=id, truncated=truncated)


def result(rid):
    return {"jsonrpc": "2.0", "id": rid, "result": {}}


def values(recs, tmp_path, monkeypatch, cols):
    """The columns of each record (in order), checked equal from both readers."""
    sql = f"SELECT {', '.join(cols)} FROM m ORDER BY pos"
    careful = from_records(recs).rows(sql)
    p = tmp_path / "cap.jsonl"
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    monkeypatch.setattr(model_pkg, "FAST_MIN_BYTES", 0)
    fast = build([str(p)]).rows(sql)
    assert fast == careful
    return [r[0] if len(cols) == 1 else r for r in careful]


def test_every_column_has_a_sql_type_and_a_sentence():
    names = [c.name for c in COLUMNS]
    assert len(names) == len(set(names))
    assert all(c.type.isupper() and c.sql and c.doc for c in COLUMNS)


def test_www_authenticate_and_its_resource_metadata(tmp_path, monkeypatch):
    recs = [
        ex(0, json_resp(401, headers=[("WWW-Authenticate", f'Bearer resource_metadata="{RM}"')])),
        ex(1, json_resp(401, headers=[("www-authenticate", f'Bearer realm="x", Resource_Metadata={RM}, scope="a"')])),
        ex(2, json_resp(401, headers=[("WWW-Authenticate", 'Basic realm="x"'),
                                      ("WWW-Authenticate", f'Bearer resource_metadata="{RM}?2"'),
                                      ("WWW-Authenticate", f'Bearer resource_metadata="{RM}?3"')])),
        ex(3, json_resp(401, headers=[("WWW-Authenticate", 'Bearer x_resource_metadata="nope"')])),
        ex(4, json_resp(200, result(1))),
        ex(5),  # no response
    ]
    got = values(recs, tmp_path, monkeypatch, ["www_auth", "www_auth_rm"])
    assert got == [(True, RM), (True, RM), (True, f"{RM}?2"), (True, None), (False, None), (False, None)]


def test_get_responses_count_responses_on_a_get_stream_only(tmp_path, monkeypatch):
    note = {"jsonrpc": "2.0", "method": "notifications/message", "params": {}}
    err = {"jsonrpc": "2.0", "id": 2, "error": {"code": -32603, "message": "boom"}}
    recs = [
        ex(0, sse_resp(ev(note), ev(result(1)), ev(err), ev("not json \"id\""))),
        ex(1, sse_resp(ev(result(7)), ev({"jsonrpc": "2.0", "id": 8, "method": "sampling/createMessage"})),
           **request(None, None, http="GET", ctype=None)),
        ex(2, json_resp(200, result(1))),
        ex(3),
    ]
    got = values(recs, tmp_path, monkeypatch, ["get_responses", "http_method"])
    assert got == [(0, "POST"), (1, "GET"), (0, "POST"), (0, "POST")]


def test_response_for_the_request(tmp_path, monkeypatch):
    recs = [
        ex(0, json_resp(200, result(1))),  # JSON body: answered
        ex(1, json_resp(200, result("1"))),  # the string "1" does not answer the number 1
        ex(2, sse_resp(ev({"jsonrpc": "2.0", "method": "notifications/progress"}), ev(result("a")))),
        ex(3, sse_resp(ev({"jsonrpc": "2.0", "method": "notifications/progress"}))),  # stream without the answer
        ex(4, sse_resp(ev({"jsonrpc": "2.0", "method": "notifications/progress"}), ev("{\"jsonrpc\"", truncated=True))),
        ex(5, json_resp(200, result(9), truncated=True)),  # cut, and no answer in what was kept: unknown
        ex(6, json_resp(404, text="Session not found")),  # a refusal in words: no answer
        ex(7),  # no response: unknown
        ex(8, json_resp(202), **request(None, "notifications/initialized")),  # no id: nothing to answer
        ex(9, schema.make_response(200, [JSON], schema.make_body(80))),  # a body that was not recorded
    ]
    recs[2]["req"]["body"]["rpc"][0]["id"] = "a"
    recs[1]["req"]["body"]["rpc"][0]["id"] = 1
    got = values(recs, tmp_path, monkeypatch, ["resp_for_req"])
    assert got == [True, False, True, False, None, None, False, None, None, None]


def test_sse_ids(tmp_path, monkeypatch):
    recs = [ex(0, sse_resp(ev("", id="ev-0"), ev(result(1)))), ex(1, sse_resp(ev(result(1)))),
            ex(2, json_resp(200, result(1))), ex(3)]
    assert values(recs, tmp_path, monkeypatch, ["sse_ids"]) == [True, False, False, False]


def test_a_json_rpc_error_in_a_2xx_json_body_is_the_responses_error(tmp_path, monkeypatch):
    gone = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32001, "message": "Session not found"}}
    recs = [ex(0, json_resp(200, gone)), ex(1, sse_resp(ev(gone))), ex(2, json_resp(400, gone)),
            ex(3, json_resp(200, result(1))), ex(4, json_resp(500, text="\n  upstream exploded\nmore")), ex(5)]
    got = values(recs, tmp_path, monkeypatch, ["rpc_err", "resp_msg"])
    assert got == [(-32001.0, "Session not found")] * 3 + [(None, None), (None, "upstream exploded"), (None, None)]


def test_a_rich_request_fills_every_request_column(tmp_path, monkeypatch):
    req_body = schema.make_body(100, rpc=[{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "echo", "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                  "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "9"}}}}])
    resp = schema.make_response(200, [("Content-Type", "text/event-stream; charset=utf-8"), ("Mcp-Session-Id", "S1")],
                                schema.make_body(50), sse=[schema.make_event(102.5, "/messages?x=1", event="endpoint")])
    rec = schema.make_exchange(
        "ex-1", t_req=102.0, t_resp=102.1, t_end=None, method="POST", url="http://h/mcp?q=1",
        req_headers=[("User-Agent", "ua/1"), ("mcp-session-id", "S0"), ("MCP-Protocol-Version", "2026-07-28"),
                     ("Accept", "application/json"), ("Mcp-Method", "tools/call"), ("Mcp-Name", "echo"),
                     ("Last-Event-ID", "ev-1"), ("User-Agent", "second-ua-ignored")],
        req_body=req_body, resp=resp, error="Client disconnected.")
    names = [c.name for c in COLUMNS]
    got = dict(zip(names, values([rec], tmp_path, monkeypatch, names)[0]))
    assert got["ua"] == "ua/1" and got["req_sid"] == "S0" and got["pv_hdr"] == "2026-07-28"
    assert got["accept"] == "application/json" and got["mcp_method_hdr"] == "tools/call" and got["mcp_name_hdr"] == "echo"
    assert got["last_event_id"] == "ev-1"
    assert got["hnames"] == "user-agent,mcp-session-id,mcp-protocol-version,accept,mcp-method,mcp-name,last-event-id,user-agent"
    assert (got["line"], got["exid"]) == (1, "ex-1")
    assert got["t_req"] == 102.0 and got["t_resp"] == 102.1 and got["t_end"] is None
    assert got["rpc_method"] == "tools/call" and got["has_id"] and not got["notif_only"] and got["n_msgs"] == 1
    assert got["meta_pv"] == "2026-07-28" and not got["meta_caps"] and got["meta_client"] and got["client_info"] == "c/9"
    assert got["name_param"] == "echo" and got["init_pv_req"] is None
    assert got["status"] == 200 and got["resp_sid"] == "S1" and got["ctype"] == "text/event-stream"
    assert got["n_events"] == 1 and got["first_event"] == "endpoint" and got["first_event_data"] == "/messages?x=1"
    assert got["error"] == "Client disconnected." and got["resp_for_req"] is False


def test_the_table_orders_by_time_then_file_order():
    later_in_file = ex(0, json_resp(200, result(1)))
    earlier_in_file = ex(1, json_resp(200, result(1)))
    earlier_in_file["t"]["req"] = 200.0
    m = from_records([earlier_in_file, later_in_file])
    assert m.rows("SELECT pos, exid, line FROM m ORDER BY pos") == [(0, "x0", 2), (1, "x1", 1)]


def test_a_bad_record_is_refused_with_its_reason():
    rec = ex(0, json_resp(200, result(1)))
    rec["resp"]["status"] = "200"
    with pytest.raises(schema.SchemaError, match="'resp.status' is str, not an integer"):
        from_records([rec])
