"""The exchange columns: each declared once, as SQL over a typed record.

Both readers turn records into rows with the same ``SELECT`` (:func:`select_sql`): the fast reader
(:mod:`.fast`) over DuckDB's ``read_json`` of a clean JSONL file, the careful reader (:mod:`.rows`)
over ``json_transform`` of records it has validated in Python. So a column means one thing
whichever reader made it, and a new column is one line of :data:`COLUMNS`: its name, SQL type,
SQL over the record (typed as :data:`RECORD`) and the sentence docs/schema.md shows for it.

What the column SQL may use, besides the record's fields: ``hl`` / ``rhl`` (the request's /
response's header names, lower case, in order), ``FIRST`` (the first JSON-RPC message of the
request body), ``err_code`` / ``err_message`` (the first JSON-RPC error of the response, JSON body
first, then its SSE events) and ``sse_rids`` (the ids, as JSON text, of the JSON-RPC responses
among the SSE events, in order).
"""

from __future__ import annotations

import json
from typing import NamedTuple

from ..mcp import (
    H_ACCEPT, H_LAST_EVENT_ID, H_METHOD, H_NAME, H_PROTOCOL_VERSION, H_SESSION, H_USER_AGENT,
    META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION,
)
from ..schema import MAX_SIZE, MAX_TIME

MSG_CHARS = 200  # a refusal's message is kept to this many characters
CORR_KEYS = 8  # _meta correlation keys kept per request
CORR_SEP, CORR_KV = "\x1e", "\x1f"

_MSG = ("STRUCT(id JSON, method VARCHAR, "
        "params STRUCT(name VARCHAR, uri VARCHAR, protocolVersion VARCHAR, clientInfo STRUCT(name VARCHAR, version VARCHAR), "
        "capabilities JSON, _meta MAP(VARCHAR, JSON)), "
        "result STRUCT(protocolVersion VARCHAR, capabilities JSON, tools JSON, structuredContent JSON, isError JSON), "
        "error JSON)")
# the numbers and flags the checks rely on are read as JSON and type-checked (no "200" taken for 200,
# no true for 1); strings are read as strings
_BODY = f"STRUCT(size JSON, truncated JSON, batch JSON, text VARCHAR, rpc {_MSG}[])"
#: what the columns read of a record, typed (the ``columns`` of ``read_json``, the structure of
#: ``json_transform``); fields not named here are not read
RECORD: dict[str, str] = {
    "v": "JSON", "kind": "VARCHAR", "id": "VARCHAR",
    "t": 'STRUCT(req JSON, resp JSON, "end" JSON)', "client": "STRUCT(conn VARCHAR)",
    "req": f"STRUCT(method VARCHAR, url VARCHAR, headers VARCHAR[][], body {_BODY})",
    "resp": (f"STRUCT(status JSON, headers VARCHAR[][], content_type VARCHAR, body {_BODY}, "
             "sse STRUCT(t JSON, id VARCHAR, event VARCHAR, data VARCHAR, truncated JSON)[])"),
    "error": "VARCHAR", "mcpsniff": "VARCHAR", "mitmproxy": "VARCHAR", "python": "VARCHAR",
}


def record_struct_sql() -> str:
    """:data:`RECORD` as a DuckDB struct literal (``read_json``'s ``columns``)."""
    return "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in RECORD.items()) + "}"


def record_json_sql() -> str:
    """:data:`RECORD` as a SQL string of JSON (``json_transform``'s structure)."""
    return _lit(json.dumps(RECORD))


# JSON-typed values are checked on their text (DuckDB re-serialises them: a JSON string keeps its
# quotes, a boolean is true/false, a number is digits; 1e3 becomes 1000.0): far cheaper than json_type
def _text(expr: str) -> str:
    return f"({expr})::VARCHAR"


def _num(expr: str) -> str:
    """A JSON number as DOUBLE (NULL for JSON null, a missing value or anything else)."""
    return f"TRY_CAST({_text(expr)} AS DOUBLE)"


def _flag(expr: str) -> str:
    return f"coalesce({_text(expr)} = 'true', false)"


def _int(expr: str) -> str:
    """A JSON integer (no fraction, no exponent) as HUGEINT."""
    return f"(CASE WHEN NOT contains({_text(expr)}, '.') THEN TRY_CAST({_text(expr)} AS HUGEINT) END)"


def _typed(expr: str, kind: str) -> str:
    """Absent, JSON null, or a value of the kind ("num", "int" or "bool")."""
    test = {"num": f"{_num(expr)} IS NOT NULL", "int": f"{_int(expr)} IS NOT NULL",
            "bool": f"{_text(expr)} IN ('true', 'false')"}[kind]
    return f"({expr} IS NULL OR {test})"


def _hdr(name: str, headers: str = "req.headers", names: str = "hl") -> str:
    """The first value of a header."""
    return f"{headers}[list_position({names}, '{name}')][2]"


def _rhdr(name: str) -> str:
    return _hdr(name, "resp.headers", "rhl")


def _joined(name: str) -> str:
    """All values of a response header, joined with ', '; only looked for where the response has
    one (most have none)."""
    return (f"CASE WHEN list_contains(rhl, '{name}') THEN nullif(array_to_string(list_transform(list_filter(resp.headers, "
            f"lambda h: lower(h[1]) = '{name}'), lambda h: h[2]), ', '), '') END")


def _media(expr: str) -> str:
    """A Content-Type's media type: lower case, without parameters."""
    return f"lower(trim(split_part({expr}, ';', 1)))"


def _time_ok(expr: str) -> str:
    return f"({_typed(expr, 'num')} AND ({_num(expr)} IS NULL OR ({_num(expr)} >= 0 AND {_num(expr)} < {MAX_TIME})))"


def _size_ok(expr: str) -> str:
    return f"({_typed(expr, 'int')} AND ({_int(expr)} IS NULL OR {_int(expr)} BETWEEN -1 AND {MAX_SIZE - 1}))"


def _body_ok(b: str) -> str:
    return f"({b} IS NULL OR ({_size_ok(b + '.size')} AND {_typed(b + '.truncated', 'bool')} AND {_typed(b + '.batch', 'bool')}))"


_T_END = 't."end"'
#: a record the fast reader keeps: schema 1, an exchange or meta line, values of the right type and
#: range (the careful reader checks the same in Python, :func:`mcpsniff.schema.check_record`)
VALID_SQL = " AND ".join([
    "v::VARCHAR = '1'", "kind IN ('exchange', 'meta')",
    f"(kind = 'meta' OR ({_num('t.req')} IS NOT NULL AND {_time_ok('t.req')} AND {_time_ok('t.resp')}"
    f" AND {_time_ok(_T_END)} AND req.method IS NOT NULL AND req.url IS NOT NULL AND {_body_ok('req.body')}"
    f" AND (resp IS NULL OR ({_int('resp.status')} BETWEEN 100 AND 599"
    f" AND {_body_ok('resp.body')}"
    f" AND (resp.sse IS NULL OR list_bool_and(list_transform(resp.sse, lambda e: {_time_ok('e.t')})) IS NOT FALSE)))))",
])

FIRST = "req.body.rpc[1]"
_INIT = f"({FIRST}.method = 'initialize')"
_META = f"{FIRST}.params._meta"
_TRACEPARENT = _hdr("traceparent")


def _sse_json(needle: str, path: str) -> str:
    """The JSON of each SSE event whose data contains ``needle`` (a cheap pre-filter) at ``path``."""
    return (f"list_filter(list_transform(resp.sse, lambda e: CASE WHEN contains(e.data, '{needle}') "
            f"THEN try(json_extract(e.data, '{path}')) END), lambda v: v IS NOT NULL)")


def _meta_client_info(meta: str) -> str:
    j = f"{meta}['{META_CLIENT_INFO}']"
    name, ver = f"json_extract_string({j}, '$.name')", f"json_extract_string({j}, '$.version')"
    return f"(CASE WHEN {name} IS NOT NULL THEN {name} || coalesce('/' || {ver}, '') END)"


_CORR = f"""CASE WHEN {_META} IS NOT NULL OR {_TRACEPARENT} IS NOT NULL THEN
    nullif(array_to_string(list_slice(list_sort(list_concat(
      coalesce(list_transform(list_filter(map_entries({_META}), lambda e: NOT starts_with(e.key, 'io.modelcontextprotocol/')
          AND json_type(e.value) IN ('VARCHAR', 'BIGINT', 'UBIGINT')),
          lambda e: left(e.key, 100) || '{CORR_KV}' || left(CASE WHEN json_type(e.value) = 'VARCHAR' THEN e.value ->> '$' ELSE e.value::VARCHAR END, {MSG_CHARS})), []),
      CASE WHEN len(string_split({_TRACEPARENT}, '-')) >= 3 AND len(string_split({_TRACEPARENT}, '-')[2]) = 32
           THEN ['traceparent trace-id{CORR_KV}' || string_split({_TRACEPARENT}, '-')[2]] ELSE [] END)), 1, {CORR_KEYS}), '{CORR_SEP}'), '')
  END"""
#: the response body's JSON-RPC messages that are responses (an id, a result or an error, no method)
_BODY_RIDS = "list_transform(list_filter(resp.body.rpc, lambda m: m.id IS NOT NULL AND m.method IS NULL AND (m.result IS NOT NULL OR m.error IS NOT NULL)), lambda m: m.id::VARCHAR)"
#: the WWW-Authenticate header values' resource_metadata parameter (RFC 9728 5.1), quoted or a token
_RM = r'''(?i)(?:^|[\s,])resource_metadata\s*=\s*(?:"([^"]*)"|([^\s,"]+))'''
_WWW_AUTH_RM = (f"CASE WHEN list_contains(rhl, 'www-authenticate') THEN list_filter(list_transform(list_filter(resp.headers, "
                f"lambda h: lower(h[1]) = 'www-authenticate'), lambda h: coalesce(nullif(regexp_extract(h[2], '{_RM}', 1), ''), "
                f"nullif(regexp_extract(h[2], '{_RM}', 2), ''))), lambda v: v IS NOT NULL)[1] END")


#: the ids (JSON text) of the request messages of the body
_REQ_IDS = ("coalesce(list_transform(list_filter(req.body.rpc, lambda m: m.id IS NOT NULL AND m.method IS NOT NULL), "
            "lambda m: m.id::VARCHAR), []::VARCHAR[])")
#: the response holds one response, to the first request message (most do): nothing else to look at
_PLAIN_ANSWER = f"(len(rids) = 1 AND rids[1] = {FIRST}.id::VARCHAR AND {FIRST}.method IS NOT NULL)"
_ERR_STRUCT = '{"code": "DOUBLE", "message": "VARCHAR"}'
#: JSON Schema's name of a DuckDB JSON type (``nothing`` for an absent value)
_JTYPE = ("(CASE {t} WHEN 'VARCHAR' THEN 'string' WHEN 'BIGINT' THEN 'integer' WHEN 'UBIGINT' THEN 'integer' "
          "WHEN 'DOUBLE' THEN 'number' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' WHEN 'OBJECT' THEN 'object' "
          "WHEN 'ARRAY' THEN 'array' ELSE 'nothing' END)")


def _present(v: str) -> str:
    """A JSON member is there and not JSON null."""
    return f"({v} IS NOT NULL AND json_type({v}) <> 'NULL')"


def _malformed(mid: str, method: str, result: str, error: str) -> str:
    """What is wrong with a JSON-RPC response message (its parts as JSON), NULL when nothing is or it is no response."""
    res, err = _present(result), _present(error)
    code, msg = f"json_type({error}, '$.code')", f"json_type({error}, '$.message')"
    return f"""(CASE WHEN {method} IS NOT NULL OR NOT ({mid} IS NOT NULL OR {res} OR {err}) THEN NULL
      WHEN {res} AND {err} THEN 'both result and error'
      WHEN {err} AND json_type({error}) <> 'OBJECT' THEN 'error: expected object, got ' || {_JTYPE.format(t=f'json_type({error})')}
      WHEN {err} AND coalesce({code}, '') NOT IN ('BIGINT', 'UBIGINT') THEN 'error.code: expected integer, got ' || {_JTYPE.format(t=code)}
      WHEN {err} AND coalesce({msg}, '') <> 'VARCHAR' THEN 'error.message: expected string, got ' || {_JTYPE.format(t=msg)}
      WHEN NOT {res} AND NOT {err} THEN 'neither result nor error' END)"""


#: a response that may hold a malformed JSON-RPC response: its body holds more than one message, or one
#: that is not a plain result; or one of its SSE events is a response with an error or without a result
_SUSPECT = ("((len(resp.body.rpc) > 0 AND NOT (len(resp.body.rpc) = 1 AND resp.body.rpc[1].result IS NOT NULL "
            "AND resp.body.rpc[1].error IS NULL)) OR (len(sse_msgs) > 0 AND list_bool_or(list_transform(sse_msgs, "
            "lambda x: x[2] IS NULL AND (x[4] IS NOT NULL OR x[3] IS NULL)))))")


def _nonempty(expr: str) -> str:
    """A list, NULL when it is empty."""
    return f"(CASE WHEN len({expr}) > 0 THEN {expr} END)"


#: the first result of the response (JSON body: typed; SSE events: JSON)
_BODY_RESULT = "list_filter(resp.body.rpc, lambda m: m.result IS NOT NULL)[1].result"
_SSE_RESULT = "list_filter(sse_msgs, lambda x: json_type(x[3]) = 'OBJECT')[1][3]"
_READABLE = f"(resp IS NOT NULL AND NOT {_flag('resp.body.truncated')})"
_TOOLS = f"coalesce({_BODY_RESULT}.tools, {_SSE_RESULT} -> '$.tools')"


class Column(NamedTuple):
    """One column of the exchange table: its name, SQL type, SQL over the record, and what it means
    (docs/schema.md's table of the Parquet export is made of these)."""

    name: str
    type: str
    sql: str
    doc: str


C = Column
#: the exchange table's columns, in order; header names are compared lower-case, the first value is
#: kept where a header repeats unless the column says otherwise; NULL means absent
COLUMNS: tuple[Column, ...] = (
    C("ua", "VARCHAR", _hdr(H_USER_AGENT), "request `User-Agent` (the plane)"),
    C("req_sid", "VARCHAR", _hdr(H_SESSION), "request `Mcp-Session-Id`"),
    C("pv_hdr", "VARCHAR", _hdr(H_PROTOCOL_VERSION), "request `MCP-Protocol-Version`"),
    C("accept", "VARCHAR", _hdr(H_ACCEPT), "request `Accept`"),
    C("mcp_method_hdr", "VARCHAR", _hdr(H_METHOD), "request `Mcp-Method` (2026-07-28)"),
    C("mcp_name_hdr", "VARCHAR", _hdr(H_NAME), "request `Mcp-Name` (2026-07-28)"),
    C("last_event_id", "VARCHAR", _hdr(H_LAST_EVENT_ID), "request `Last-Event-ID`"),
    C("hnames", "VARCHAR", "array_to_string(hl, ',')", "the request's header names, lower-case, comma-separated, in order"),
    C("src", "INTEGER", "{src}", "position of the capture file among the inputs of the export"),
    C("line", "BIGINT", "{line}", "line (entry, flow) of the exchange in that file"),
    C("exid", "VARCHAR", "id", "the record's `id`"),
    C("t_req", "DOUBLE", _num("t.req"), "`t.req`: request start, epoch seconds"),
    C("t_resp", "DOUBLE", _num("t.resp"), "`t.resp`: response headers"),
    C("t_end", "DOUBLE", _num(_T_END), "`t.end`: response complete or exchange ended"),
    C("http_method", "VARCHAR", "req.method", "`req.method`"),
    C("url", "VARCHAR", "req.url", "`req.url`"),
    C("batch", "BOOLEAN", _flag("req.body.batch"), "the request body is a JSON-RPC batch"),
    C("req_trunc", "BOOLEAN", _flag("req.body.truncated"), "the request body was cut at capture"),
    C("n_msgs", "INTEGER", "coalesce(len(req.body.rpc), 0)", "JSON-RPC messages in the request body"),
    C("rpc_method", "VARCHAR", f"{FIRST}.method", "method of the first request message"),
    C("has_id", "BOOLEAN", f"coalesce({FIRST}.id IS NOT NULL, false)",
      "the first message has an `id` (a request, not a notification)"),
    C("notif_only", "BOOLEAN", "coalesce(len(req.body.rpc) > 0 AND NOT list_bool_or(list_transform(req.body.rpc, "
      "lambda m: m.method IS NOT NULL AND m.id IS NOT NULL)), false)", "every message is a notification or a response"),
    C("meta_pv", "VARCHAR", f"CASE WHEN json_type({_META}['{META_PROTOCOL_VERSION}']) = 'VARCHAR' "
      f"THEN {_META}['{META_PROTOCOL_VERSION}'] ->> '$' END",
      '`params._meta["io.modelcontextprotocol/protocolVersion"]` (2026-07-28)'),
    C("meta_caps", "BOOLEAN", f"coalesce(map_contains({_META}, '{META_CLIENT_CAPABILITIES}'), false)", "`_meta` has client capabilities"),
    C("meta_client", "BOOLEAN", f"coalesce(map_contains({_META}, '{META_CLIENT_INFO}'), false)", "`_meta` has client info"),
    C("name_param", "VARCHAR", f"coalesce({FIRST}.params.name, {FIRST}.params.uri)", "`params.name` or `params.uri`"),
    C("client_info", "VARCHAR", f"CASE WHEN {_INIT} THEN (CASE WHEN {FIRST}.params.clientInfo.name IS NOT NULL THEN "
      f"{FIRST}.params.clientInfo.name || coalesce('/' || {FIRST}.params.clientInfo.version, '') END) "
      f"WHEN {_META} IS NOT NULL THEN {_meta_client_info(_META)} END",
      "`name/version` of `initialize`'s `clientInfo` (or `_meta` client info)"),
    C("init_pv_req", "VARCHAR", f"CASE WHEN {_INIT} THEN {FIRST}.params.protocolVersion END",
      "the `protocolVersion` an `initialize` asked for"),
    C("status", "SMALLINT", f"coalesce({_int('resp.status')}::INTEGER, -1)", "response status; -1 without a response"),
    C("resp_sid", "VARCHAR", _rhdr(H_SESSION), "response `Mcp-Session-Id`"),
    C("ctype", "VARCHAR", _media("resp.content_type"), "response media type, lower-case, without parameters"),
    C("resp_size", "BIGINT", f"coalesce({_int('resp.body.size')}::BIGINT, -1)", "response body bytes; -1 unknown"),
    C("resp_trunc", "BOOLEAN", _flag("resp.body.truncated"), "the response body was cut at capture"),
    C("n_events", "INTEGER", "coalesce(len(resp.sse), 0)", "SSE events recorded"),
    C("first_event", "VARCHAR", "resp.sse[1].event", "`event:` of the first SSE event"),
    C("first_event_data", "VARCHAR", "CASE WHEN resp.sse[1].event = 'endpoint' THEN resp.sse[1].data END",
      "its data when it is a legacy `endpoint` event"),
    C("neg_pv", "VARCHAR", f"""CASE WHEN {_INIT} AND resp IS NOT NULL THEN coalesce(
      list_filter(resp.body.rpc, lambda m: m.result IS NOT NULL)[1].result.protocolVersion,
      list_filter(list_transform({_sse_json('"result"', '$.result')}, lambda r: json_extract_string(r, '$.protocolVersion')),
                  lambda v: v IS NOT NULL)[1]) END""", "the `protocolVersion` an `initialize` result negotiated"),
    C("get_responses", "INTEGER", "CASE WHEN req.method = 'GET' THEN len(sse_rids) ELSE 0 END",
      "JSON-RPC responses on a GET stream"),
    C("error", "VARCHAR", "error", "the exchange's error (`Client disconnected.` ...)"),
    C("origin", "VARCHAR", _hdr("origin"), "request `Origin`"),
    C("acrh", "VARCHAR", _hdr("access-control-request-headers"), "request `Access-Control-Request-Headers`"),
    C("traceparent", "VARCHAR", _TRACEPARENT, "request `traceparent`"),
    C("conn", "VARCHAR", "client.conn", "client connection id"),
    C("corr", "VARCHAR", _CORR, "correlation keys of `_meta` and `traceparent` (for planes that drop the session header)"),
    C("resp_sid_n", "TINYINT", f"CASE WHEN NOT coalesce(list_contains(rhl, '{H_SESSION}'), false) THEN 0 "
      f"ELSE least(len(list_filter(rhl, lambda n: n = '{H_SESSION}')), 99) END",
      "how many `Mcp-Session-Id` headers the response had (capped at 99)"),
    C("acah", "VARCHAR", _joined("access-control-allow-headers"), "response `Access-Control-Allow-Headers` (repeats joined with `, `)"),
    C("aceh", "VARCHAR", _joined("access-control-expose-headers"), "response `Access-Control-Expose-Headers` (repeats joined with `, `)"),
    C("acao", "VARCHAR", _joined("access-control-allow-origin"), "response `Access-Control-Allow-Origin` (repeats joined with `, `)"),
    C("location", "VARCHAR", _joined("location"), "response `Location` (repeats joined with `, `)"),
    C("rpc_err", "DOUBLE", "CASE WHEN err_code = floor(err_code) AND abs(err_code) < 9007199254740992 THEN err_code END",
      "JSON-RPC `error.code` of the response (JSON body or SSE events, any status)"),
    C("resp_msg", "VARCHAR", f"""coalesce(left(err_message, {MSG_CHARS}),
           CASE WHEN {_int('resp.status')} >= 400 THEN left(trim(list_filter(string_split(replace(resp.body.text, chr(13), chr(10)), chr(10)),
               lambda s: trim(s) <> '')[1]), {MSG_CHARS}) END)""",
      f"its `error.message`, or the first line of an error body ({MSG_CHARS} characters at most)"),
    C("t_event", "DOUBLE", _num("resp.sse[1].t"), "arrival of the first SSE event"),
    C("www_auth", "BOOLEAN", "coalesce(list_contains(rhl, 'www-authenticate'), false)", "the response has a `WWW-Authenticate` header"),
    C("www_auth_rm", "VARCHAR", _WWW_AUTH_RM,
      "the `resource_metadata` parameter of the response's `WWW-Authenticate` (RFC 9728 §5.1; the first found)"),
    C("resp_for_req", "BOOLEAN", f"""CASE WHEN {FIRST}.id IS NULL OR resp IS NULL THEN NULL
      WHEN list_contains(rids, {FIRST}.id::VARCHAR) THEN true
      WHEN {_flag('resp.body.truncated')} OR list_bool_or(list_transform(resp.sse, lambda e: {_flag('e.truncated')})) THEN NULL
      WHEN resp.body.rpc IS NULL AND resp.body.text IS NULL AND coalesce(len(resp.sse), 0) = 0
           AND coalesce({_int('resp.body.size')}, -1) <> 0 THEN NULL
      ELSE false END""",
      "a JSON-RPC response with the first message's `id` (same JSON value: `\"1\"` is not `1`) is in the response "
      "(JSON body or SSE events); NULL without an id or a response, or when the response was cut or not recorded "
      "and holds no such response"),
    C("sse_ids", "BOOLEAN", "coalesce(list_bool_or(list_transform(resp.sse, lambda e: coalesce(e.id, '') <> '')), false)",
      "an SSE event of the response carries an `id` (a resumable stream)"),
    C("rpc_id", "VARCHAR", f"CASE WHEN {FIRST}.method IS NOT NULL THEN {FIRST}.id::VARCHAR END",
      "the first request message's `id` as JSON text (`\"1\"` is not `1`); NULL for a notification"),
    C("rids_other", "VARCHAR[]", f"""CASE WHEN len(rids) = 0 OR {_PLAIN_ANSWER} THEN NULL
      ELSE nullif(list_filter(rids, lambda r: NOT list_contains({_REQ_IDS}, r)), []::VARCHAR[]) END""",
      "ids (JSON text) of the JSON-RPC responses in the response (JSON body or SSE events) that answer no request of "
      "this exchange; NULL when there are none"),
    C("rids_twice", "BOOLEAN", "CASE WHEN len(rids) > 1 THEN len(list_distinct(rids)) < len(rids) ELSE false END",
      "the response holds two JSON-RPC responses with the same id"),
    C("rpc_malformed", "VARCHAR", f"""CASE WHEN {_SUSPECT} THEN coalesce(list_filter(list_transform(resp.body.rpc, lambda m:
      {_malformed("m.id", "m.method", "m.result", "m.error")}), lambda p: p IS NOT NULL)[1],
      list_filter(list_transform(sse_msgs, lambda x: {_malformed("x[1]", "x[2]", "x[3]", "x[4]")}), lambda p: p IS NOT NULL)[1]) END""",
      "what is wrong with the first malformed JSON-RPC response in the response (`error.code: expected integer, got "
      "string`, `both result and error` ...)"),
    C("srv_methods", "VARCHAR[]", "CASE WHEN len(sse_msgs) > len(sse_rids) THEN " + _nonempty(
      "list_sort(list_distinct(list_transform(list_filter(sse_msgs, lambda x: x[2] IS NOT NULL), lambda x: x[2] ->> '$')))")
      + " END",
      "the methods of the server's requests and `list_changed` notifications among the response's SSE events "
      "(distinct, sorted)"),
    C("caps_client", "VARCHAR", f"CASE WHEN {_INIT} THEN {FIRST}.params.capabilities::VARCHAR END",
      "the `capabilities` an `initialize` declared for the client (JSON)"),
    C("caps_server", "VARCHAR", f"""CASE WHEN {_INIT} AND {_READABLE} THEN coalesce({_BODY_RESULT}.capabilities,
      list_filter(list_transform(sse_msgs, lambda x: x[3] -> '$.capabilities'), lambda v: v IS NOT NULL)[1])::VARCHAR END""",
      "the `capabilities` an `initialize` result declared for the server (JSON)"),
    C("tools_json", "VARCHAR", "tools_json",
      "the `tools` of a `tools/list` result (JSON); NULL when the result was not read whole"),
    C("tool_outcome", "VARCHAR", """CASE WHEN call_body IS NOT NULL THEN CASE WHEN call_body.isError::VARCHAR = 'true' THEN 'isError' ELSE 'result' END
      WHEN call_sse IS NOT NULL THEN CASE WHEN (call_sse -> '$.isError')::VARCHAR = 'true' THEN 'isError' ELSE 'result' END END""",
      "what a `tools/call` was answered with: `result`, `isError` (a result flagged as an error), NULL "
      "when no result was read (an error, no response, a cut body)"),
    C("tool_sc", "VARCHAR", "nullif(coalesce(call_body.structuredContent, call_sse -> '$.structuredContent')::VARCHAR, 'null')",
      "the `structuredContent` of a `tools/call` result (JSON)"),
)

#: the values every column may use (module docstring), computed once per record
_SHARED = f"""
    list_transform(req.headers, lambda h: lower(h[1])) AS hl,
    list_transform(resp.headers, lambda h: lower(h[1])) AS rhl,
    CASE WHEN resp IS NOT NULL THEN coalesce(
        json_transform(list_filter(resp.body.rpc, lambda m: json_type(m.error) = 'OBJECT')[1].error, '{_ERR_STRUCT}'),
        json_transform(list_filter({_sse_json('"error"', '$.error')}, lambda x: json_type(x) = 'OBJECT')[1],
                       '{_ERR_STRUCT}')) END AS err,
    err['code'] AS err_code, err['message'] AS err_message,
    CASE WHEN len(resp.sse) > 0 THEN list_filter(list_transform(resp.sse, lambda e:
        CASE WHEN contains(e.data, '"id"') OR contains(e.data, '/list_changed')
             THEN try(json_extract(e.data, ['$.id', '$.method', '$.result', '$.error'])) END), lambda x: x IS NOT NULL)
      ELSE [] END AS sse_msgs,
    list_transform(list_filter(sse_msgs, lambda x: x[1] IS NOT NULL AND x[2] IS NULL AND (x[3] IS NOT NULL OR x[4] IS NOT NULL)),
                   lambda x: x[1]::VARCHAR) AS sse_rids,
    coalesce(list_concat({_BODY_RIDS}, sse_rids), []::VARCHAR[]) AS rids,
    CASE WHEN {FIRST}.method = 'tools/list' AND {_READABLE} THEN {_TOOLS}::VARCHAR END AS tools_json,
    CASE WHEN {FIRST}.method = 'tools/call' AND {_READABLE} THEN resp.body.rpc[1].result END AS call_body,
    CASE WHEN {FIRST}.method = 'tools/call' AND {_READABLE} AND call_body IS NULL THEN {_SSE_RESULT} END AS call_sse"""


def select_sql(read: str, src: str, line: str, extra: str = "") -> str:
    """``SELECT`` of every column (then ``extra``) from ``read``, a query of records typed as
    :data:`RECORD`; ``src`` and ``line`` are the SQL of those two columns."""
    cols = ",\n  ".join(f"{c.sql.replace('{src}', src).replace('{line}', line)} AS {c.name}" for c in COLUMNS)
    return f"SELECT\n  {cols}{extra}\nFROM (\n  SELECT *, {_SHARED}\n  FROM ({read})\n)"


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


__all__ = ["COLUMNS", "Column", "RECORD", "VALID_SQL", "select_sql", "record_struct_sql", "record_json_sql"]
