"""rows.row_of: one record -> one tuple, whose elements line up with COLUMNS by name."""

from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np

from mcpsniff import schema
from mcpsniff.model import rows
from mcpsniff.model.rows import COLUMNS, chunk_frame, row_of
from mcpsniff.model.store import Store
from mcpsniff.model.derive import derive


def _returned_names() -> list[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(rows.row_of)))
    returns = [n for n in ast.walk(tree) if isinstance(n, ast.Return)]
    assert len(returns) == 1, "row_of must have exactly one return"
    value = returns[0].value
    assert isinstance(value, ast.Tuple)
    assert all(isinstance(e, ast.Name) for e in value.elts), "every element must be a plain local named as its column"
    return [e.id for e in value.elts]


def test_row_tuple_lines_up_with_columns_by_name():
    assert _returned_names() == [name for name, _ in COLUMNS]


def _rich_record() -> dict:
    req_body = schema.make_body(100, rpc=[{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "echo", "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                  "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "9"}}}}])
    resp = schema.make_response(200, [("Content-Type", "text/event-stream; charset=utf-8"), ("Mcp-Session-Id", "S1")],
                                schema.make_body(50), sse=[schema.make_event(2.5, "/messages?x=1", event="endpoint")])
    return schema.make_exchange(
        "ex-1", t_req=2.0, t_resp=2.1, t_end=None, method="POST", url="http://h/mcp?q=1",
        req_headers=[("User-Agent", "ua/1"), ("mcp-session-id", "S0"), ("MCP-Protocol-Version", "2026-07-28"),
                     ("Accept", "application/json"), ("Mcp-Method", "tools/call"), ("Mcp-Name", "echo"),
                     ("Last-Event-ID", "ev-1"), ("User-Agent", "second-ua-ignored")],
        req_body=req_body, resp=resp, error="Client disconnected.")


def test_row_values_by_column():
    got = dict(zip([n for n, _ in COLUMNS], row_of(_rich_record(), 3, 42)))
    assert got["ua"] == "ua/1" and got["req_sid"] == "S0" and got["pv_hdr"] == "2026-07-28"
    assert got["accept"] == "application/json" and got["mcp_method_hdr"] == "tools/call" and got["mcp_name_hdr"] == "echo"
    assert got["last_event_id"] == "ev-1"
    assert got["hnames"] == "user-agent,mcp-session-id,mcp-protocol-version,accept,mcp-method,mcp-name,last-event-id,user-agent"
    assert (got["src"], got["line"], got["exid"]) == (3, 42, "ex-1")
    assert got["t_req"] == 2.0 and got["t_resp"] == 2.1 and np.isnan(got["t_end"])
    assert got["rpc_method"] == "tools/call" and got["has_id"] and not got["notif_only"] and got["n_msgs"] == 1
    assert got["meta_pv"] == "2026-07-28" and not got["meta_caps"] and got["meta_client"] and got["client_info"] == "c/9"
    assert got["name_param"] == "echo" and got["init_pv_req"] is None
    assert got["status"] == 200 and got["resp_sid"] == "S1" and got["ctype"] == "text/event-stream"
    assert got["n_events"] == 1 and got["first_event"] == "endpoint" and got["first_event_data"] == "/messages?x=1"
    assert got["error"] == "Client disconnected."


def test_the_table_orders_by_time_then_file_order():
    a = row_of(_rich_record(), 0, 1)
    later = list(a)
    later[[n for n, _ in COLUMNS].index("t_req")] = 1.0  # earlier in time, later in the file
    later[[n for n, _ in COLUMNS].index("line")] = 2
    store = Store()
    store.insert_frame(chunk_frame([a, tuple(later)]))
    store.finish()
    assert store.con.execute("SELECT t_end FROM u").fetchall() == [(None,), (None,)]  # NaN became NULL
    derive(store.con, store.parts)
    assert store.con.execute("SELECT pos, t_req, line FROM m ORDER BY pos").fetchall() == [(0, 1.0, 2), (1, 2.0, 1)]
    store.close()
