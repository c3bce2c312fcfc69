"""The fast reader: DuckDB's multi-threaded ``read_json`` extracts the model's columns from a large,
clean mcpsniff JSONL file (plain or gzip) in SQL.

It computes exactly what :func:`mcpsniff.model.rows.row_of` computes (``tests/model/test_fast.py``
holds the two to it), but it accepts only clean files: DuckDB casts compatible values where the
careful reader rejects them ("200" as a status), so any line that is not a valid exchange or meta
record, or that DuckDB cannot read, sends the whole file to the careful reader, which reports
every bad line as ``file:line: reason``. Line numbers are the record's position in the file
(DuckDB keeps insertion order); a file with blank lines takes the careful path too.
"""

from __future__ import annotations

import mmap
import os
from ..mcp import (
    H_ACCEPT, H_LAST_EVENT_ID, H_METHOD, H_NAME, H_PROTOCOL_VERSION, H_SESSION, H_USER_AGENT,
    META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION,
)
from ..schema import MAX_SIZE, MAX_TIME
from .rows import CORR_KEYS, CORR_KV, CORR_SEP, MSG_CHARS

_MSG = ("STRUCT(id JSON, method JSON, "
        "params STRUCT(name JSON, uri JSON, protocolVersion JSON, clientInfo STRUCT(name JSON, version JSON), "
        "_meta MAP(VARCHAR, JSON)), "
        "result STRUCT(protocolVersion JSON), error STRUCT(code JSON, message JSON))")
_BODY = "STRUCT(size JSON, truncated JSON, batch JSON, text VARCHAR, rpc {msg}[])".format(msg=_MSG)
COLUMNS_SQL = (
    "{'v': 'JSON', 'kind': 'VARCHAR', 'id': 'JSON', "
    "'t': 'STRUCT(req JSON, resp JSON, \"end\" JSON)', 'client': 'STRUCT(conn JSON)', "
    f"'req': 'STRUCT(method JSON, url JSON, headers JSON[][], body {_BODY})', "
    f"'resp': 'STRUCT(status JSON, headers JSON[][], content_type JSON, body {_BODY}, "
    "sse STRUCT(t JSON, id JSON, event JSON, data JSON)[])', "
    "'error': 'JSON', "
    "'mcpsniff': 'JSON', 'mitmproxy': 'JSON', 'python': 'JSON'}"  # what meta lines say that reports use
)


def _str(expr: str) -> str:
    """A JSON value as VARCHAR when it is a JSON string, else NULL (the careful reader's _str_or_none)."""
    return f"(CASE WHEN json_type({expr}) = 'VARCHAR' THEN ({expr}) ->> '$' END)"


def _hdr(name: str, headers: str = "req.headers", names: str = "hl") -> str:
    return f"({headers})[list_position({names}, '{name}')][2] ->> '$'"


def _joined(name: str) -> str:
    """All values of a response header, joined with ', ' (the careful reader's joining)."""
    return (f"nullif(array_to_string(list_transform(list_filter(resp.headers, lambda h: lower(h[1] ->> '$') = '{name}'), "
            f"lambda h: h[2] ->> '$'), ', '), '')")


def _is_int(expr: str) -> str:
    return f"json_type({expr}) IN ('BIGINT', 'UBIGINT')"


def _is_num(expr: str) -> str:
    return f"json_type({expr}) IN ('BIGINT', 'UBIGINT', 'DOUBLE')"


def _is_bool_or_null(expr: str) -> str:
    return f"({expr} IS NULL OR json_type({expr}) IN ('BOOLEAN', 'NULL'))"


def _time_ok(expr: str, required: bool = False) -> str:
    null_ok = "" if required else f"{expr} IS NULL OR json_type({expr}) = 'NULL' OR "
    return f"({null_ok}({_is_num(expr)} AND ({expr})::DOUBLE >= 0 AND ({expr})::DOUBLE < {MAX_TIME}))"


def _size_ok(expr: str) -> str:
    return f"({expr} IS NULL OR ({_is_int(expr)} AND ({expr})::HUGEINT BETWEEN -1 AND {MAX_SIZE - 1}))"


def _headers_ok(expr: str) -> str:
    pair_ok = "len(p) = 2 AND json_type(p[1]) = 'VARCHAR' AND json_type(p[2]) = 'VARCHAR'"
    return f"({expr} IS NULL OR list_bool_and(list_transform({expr}, lambda p: {pair_ok})) IS NOT FALSE)"


def _body_ok(b: str) -> str:
    return (f"({b} IS NULL OR ({_size_ok(b + '.size')} AND {_is_bool_or_null(b + '.truncated')} "
            f"AND {_is_bool_or_null(b + '.batch')}))")


#: a record passes when every value the careful reader checks is of the right type and range
VALID_SQL = " AND ".join([
    f"({_is_int('v')} AND v::BIGINT = 1)",
    "kind = 'exchange'",
    _time_ok("t.req", required=True), _time_ok("t.resp"), _time_ok('t."end"'),
    "json_type(req.method) = 'VARCHAR'", "json_type(req.url) = 'VARCHAR'",
    _headers_ok("req.headers"), _body_ok("req.body"),
    "(error IS NULL OR json_type(error) IN ('VARCHAR', 'NULL'))",
    "(resp IS NULL OR ({ok_status} AND {hdrs} AND {body} AND (resp.content_type IS NULL OR json_type(resp.content_type) "
    "IN ('VARCHAR', 'NULL')) AND (resp.sse IS NULL OR list_bool_and(list_transform(resp.sse, lambda e: "
    "(e.data IS NULL OR json_type(e.data) = 'VARCHAR') AND {ev_t} AND (e.id IS NULL OR json_type(e.id) IN ('VARCHAR', 'NULL')) "
    "AND (e.event IS NULL OR json_type(e.event) IN ('VARCHAR', 'NULL')))) IS NOT FALSE)))".format(
        ok_status=f"({_is_int('resp.status')} AND resp.status::BIGINT BETWEEN 100 AND 599)",
        hdrs=_headers_ok("resp.headers"), body=_body_ok("resp.body"), ev_t=_time_ok("e.t")),
])


def _client_info(info: str) -> str:
    """name/version of a clientInfo object (the careful reader's _client_info)."""
    name = f"({info}).name"
    ver = f"({info}).version"
    show = lambda e: f"(CASE WHEN json_type({e}) = 'VARCHAR' THEN {e} ->> '$' ELSE {e}::VARCHAR END)"  # noqa: E731
    return (f"(CASE WHEN {name} IS NOT NULL AND json_type({name}) <> 'NULL' THEN "
            f"{show(name)} || CASE WHEN {ver} IS NOT NULL AND json_type({ver}) <> 'NULL' THEN '/' || {show(ver)} ELSE '' END END)")


def _meta_info(meta: str) -> str:
    return _client_info(f"json_transform({meta}['{META_CLIENT_INFO}'], '{{\"name\": \"JSON\", \"version\": \"JSON\"}}')")


FIRST = "req.body.rpc[1]"
SELECT_SQL = f"""
SELECT
  {_hdr(H_USER_AGENT)} AS ua, {_hdr(H_SESSION)} AS req_sid, {_hdr(H_PROTOCOL_VERSION)} AS pv_hdr,
  {_hdr(H_ACCEPT)} AS accept, {_hdr(H_METHOD)} AS mcp_method_hdr, {_hdr(H_NAME)} AS mcp_name_hdr,
  {_hdr(H_LAST_EVENT_ID)} AS last_event_id,
  array_to_string(hl, ',') AS hnames, ? AS src, ordinal AS line,
  CASE WHEN json_type(id) = 'VARCHAR' THEN id ->> '$' ELSE id::VARCHAR END AS exid,
  t.req::DOUBLE AS t_req, t.resp::DOUBLE AS t_resp, t."end"::DOUBLE AS t_end,
  req.method ->> '$' AS http_method, req.url ->> '$' AS url,
  coalesce(req.body.batch::BOOLEAN, false) AS batch, coalesce(req.body.truncated::BOOLEAN, false) AS req_trunc,
  coalesce(len(req.body.rpc), 0) AS n_msgs,
  {_str(FIRST + '.method')} AS rpc_method,
  coalesce({FIRST}.id IS NOT NULL, false) AS has_id,
  coalesce(len(req.body.rpc) > 0 AND NOT list_bool_or(list_transform(req.body.rpc, lambda m: m.method IS NOT NULL AND m.id IS NOT NULL)), false) AS notif_only,
  {_str(FIRST + f".params._meta['{META_PROTOCOL_VERSION}']")} AS meta_pv,
  coalesce(map_contains({FIRST}.params._meta, '{META_CLIENT_CAPABILITIES}'), false) AS meta_caps,
  coalesce(map_contains({FIRST}.params._meta, '{META_CLIENT_INFO}'), false) AS meta_client,
  (CASE WHEN {FIRST}.params.name IS NOT NULL THEN (CASE WHEN json_type({FIRST}.params.name) = 'VARCHAR' THEN {FIRST}.params.name ->> '$' ELSE {FIRST}.params.name::VARCHAR END)
        WHEN {FIRST}.params.uri IS NOT NULL THEN (CASE WHEN json_type({FIRST}.params.uri) = 'VARCHAR' THEN {FIRST}.params.uri ->> '$' ELSE {FIRST}.params.uri::VARCHAR END) END) AS name_param,
  (CASE WHEN {_str(FIRST + '.method')} = 'initialize' THEN {_client_info(FIRST + '.params.clientInfo')}
        ELSE {_meta_info(FIRST + '.params._meta')} END) AS client_info,
  (CASE WHEN {_str(FIRST + '.method')} = 'initialize' THEN {_str(FIRST + '.params.protocolVersion')} END) AS init_pv_req,
  coalesce(resp.status::INTEGER, -1) AS status,
  {_hdr(H_SESSION, 'resp.headers', 'rhl')} AS resp_sid,
  lower(trim(split_part(resp.content_type ->> '$', ';', 1))) AS ctype,
  coalesce(resp.body.size::BIGINT, CASE WHEN resp IS NULL THEN -1 ELSE -1 END) AS resp_size,
  coalesce(resp.body.truncated::BOOLEAN, false) AS resp_trunc,
  coalesce(len(resp.sse), 0) AS n_events,
  {_str('resp.sse[1].event')} AS first_event,
  CASE WHEN {_str('resp.sse[1].event')} = 'endpoint' THEN resp.sse[1].data ->> '$' END AS first_event_data,
  CASE WHEN {_str(FIRST + '.method')} = 'initialize' AND resp IS NOT NULL THEN coalesce(
      {_str("list_filter(resp.body.rpc, lambda m: m.result IS NOT NULL)[1].result.protocolVersion")},
      list_filter(list_transform(sse_json, lambda j: CASE WHEN json_type(j, '$.result') = 'OBJECT'
          THEN json_extract_string(j, '$.result.protocolVersion') END), lambda v: v IS NOT NULL)[1]) END AS neg_pv,
  CASE WHEN req.method ->> '$' = 'GET' AND resp.sse IS NOT NULL THEN len(list_filter(sse_json, lambda j:
      json_type(j) = 'OBJECT' AND json_exists(j, '$.id') AND NOT json_exists(j, '$.method')
      AND (json_exists(j, '$.result') OR json_exists(j, '$.error')))) ELSE 0 END AS get_responses,
  error ->> '$' AS error,
  {_hdr('origin')} AS origin, {_hdr('access-control-request-headers')} AS acrh, {_hdr('traceparent')} AS traceparent,
  client.conn ->> '$' AS conn,
  nullif(array_to_string(list_slice(list_sort(list_concat(
      list_transform(list_filter(map_entries({FIRST}.params._meta), lambda e: NOT starts_with(e.key, 'io.modelcontextprotocol/')
          AND json_type(e.value) IN ('VARCHAR', 'BIGINT', 'UBIGINT')),
          lambda e: left(e.key, 100) || '{CORR_KV}' || left(CASE WHEN json_type(e.value) = 'VARCHAR' THEN e.value ->> '$' ELSE e.value::VARCHAR END, {MSG_CHARS})),
      CASE WHEN len(string_split({_hdr('traceparent')}, '-')) >= 3 AND len(string_split({_hdr('traceparent')}, '-')[2]) = 32
           THEN ['traceparent trace-id{CORR_KV}' || string_split({_hdr('traceparent')}, '-')[2]] ELSE [] END)), 1, {CORR_KEYS}), '{CORR_SEP}'), '') AS corr,
  CASE WHEN resp IS NULL THEN 0 ELSE least(len(list_filter(rhl, lambda n: n = '{H_SESSION}')), 99) END AS resp_sid_n,
  {_joined('access-control-allow-headers')} AS acah, {_joined('access-control-expose-headers')} AS aceh,
  {_joined('access-control-allow-origin')} AS acao, {_joined('location')} AS location,
  rpc_err, resp_msg,
  kind, ({VALID_SQL}) AS valid,
  CASE WHEN kind = 'meta' THEN json_object('mcpsniff', mcpsniff ->> '$', 'mitmproxy', mitmproxy ->> '$', 'python', python ->> '$') END AS meta
FROM (
  SELECT *,
    list_transform(req.headers, lambda h: lower(h[1] ->> '$')) AS hl,
    list_transform(resp.headers, lambda h: lower(h[1] ->> '$')) AS rhl,
    -- the SSE event data that is JSON (as JSON), only where the columns below look at it
    CASE WHEN resp.sse IS NOT NULL AND (req.method ->> '$' = 'GET' OR resp.status::INTEGER >= 300
              OR {_str(FIRST + '.method')} = 'initialize' OR len(resp.sse) > 0) THEN
        list_transform(resp.sse, lambda e: CASE WHEN json_type(e.data) = 'VARCHAR' AND json_valid(e.data ->> '$')
                                              THEN (e.data ->> '$')::JSON END) END AS sse_json,
    CASE WHEN resp IS NOT NULL AND (resp.status::INTEGER >= 300 OR len(resp.sse) > 0) THEN coalesce(
        list_filter(resp.body.rpc, lambda m: m.error IS NOT NULL)[1].error,
        json_transform(list_filter(list_transform(sse_json, lambda j: CASE WHEN json_type(j, '$.error') = 'OBJECT'
            THEN json_extract(j, '$.error') END), lambda v: v IS NOT NULL)[1],
            '{{"code": "JSON", "message": "JSON"}}')) END AS err_obj,
    CASE WHEN {_is_int("err_obj['code']")} AND abs((err_obj['code'])::HUGEINT) < 9007199254740992 THEN (err_obj['code'])::DOUBLE END AS rpc_err,
    coalesce(left({_str("err_obj['message']")}, {MSG_CHARS}),
             CASE WHEN resp.status::INTEGER >= 400 THEN left(trim(list_filter(string_split(replace(resp.body.text, chr(13), chr(10)), chr(10)),
                 lambda s: trim(s) <> '')[1]), {MSG_CHARS}) END) AS resp_msg
  FROM ({{read}})
)
"""


def has_blank_lines(path: str) -> bool:
    """Whether a plain file has an empty line (the fast reader would misnumber what follows)."""
    with open(path, "rb") as fo:
        if os.fstat(fo.fileno()).st_size == 0:
            return True
        with mmap.mmap(fo.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return mm[:1] == b"\n" or mm.find(b"\n\n") >= 0 or mm.find(b"\n\r\n") >= 0


def insert_sql(path: str, compressed: bool) -> str:
    """``SELECT`` of the model's columns plus ``kind``, ``valid`` and ``meta`` for every record of the file."""
    comp = "gzip" if compressed else "none"
    read = (f"SELECT row_number() OVER () AS ordinal, * FROM read_json({_lit(path)}, format='newline_delimited', "
            f"columns={COLUMNS_SQL}, compression='{comp}', maximum_object_size=16777216)")
    return SELECT_SQL.replace("{read}", read)


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
