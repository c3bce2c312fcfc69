"""The fast reader: DuckDB's multi-threaded ``read_json`` extracts the model's columns from a large
mcpsniff JSONL file (plain or gzip) in SQL.

It computes what :func:`mcpsniff.model.rows.row_of` computes (``tests/model/test_fast.py`` holds the
two to it on every sample and golden case) for files that are clean. DuckDB reads values into the
declared types and casts compatible ones ("200" as a status, 5 as a header value) where the careful
reader would reject the line; values it cannot cast, lines that are not JSON or not records of
schema 1, and values out of range (statuses, times) send the whole file to the careful reader,
which reports every bad line as ``file:line: reason`` (``--strict`` always uses it). Line numbers
are the record's position in the file (DuckDB keeps insertion order); a file with blank lines
(DuckDB skips them: fewer rows than lines) takes the careful path too.
"""

from __future__ import annotations

import gzip


from ..mcp import (
    H_ACCEPT, H_LAST_EVENT_ID, H_METHOD, H_NAME, H_PROTOCOL_VERSION, H_SESSION, H_USER_AGENT,
    META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION,
)
from ..schema import MAX_SIZE, MAX_TIME
from .rows import CORR_KEYS, CORR_KV, CORR_SEP, MSG_CHARS
from .sql import quote as _lit

_MSG = ("STRUCT(id VARCHAR, method VARCHAR, "
        "params STRUCT(name VARCHAR, uri VARCHAR, protocolVersion VARCHAR, clientInfo STRUCT(name VARCHAR, version VARCHAR), "
        "_meta MAP(VARCHAR, JSON)), "
        "result STRUCT(protocolVersion VARCHAR), error STRUCT(code DOUBLE, message VARCHAR))")
# the numbers and flags the checks rely on are read as JSON and type-checked (no "200" taken for 200,
# no true for 1); strings are read as strings
_BODY = f"STRUCT(size JSON, truncated JSON, batch JSON, text VARCHAR, rpc {_MSG}[])"
COLUMNS_SQL = (
    "{'v': 'JSON', 'kind': 'VARCHAR', 'id': 'VARCHAR', "
    "'t': 'STRUCT(req JSON, resp JSON, \"end\" JSON)', 'client': 'STRUCT(conn VARCHAR)', "
    f"'req': 'STRUCT(method VARCHAR, url VARCHAR, headers VARCHAR[][], body {_BODY})', "
    f"'resp': 'STRUCT(status JSON, headers VARCHAR[][], content_type VARCHAR, body {_BODY}, "
    "sse STRUCT(t JSON, event VARCHAR, data VARCHAR)[])', "
    "'error': 'VARCHAR', 'mcpsniff': 'VARCHAR', 'mitmproxy': 'VARCHAR', 'python': 'VARCHAR'}"
)
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
    return f"{headers}[list_position({names}, '{name}')][2]"


def _joined(name: str) -> str:
    """All values of a response header, joined with ', ' (the careful reader's joining); only looked
    for where the response has one (most have none)."""
    return (f"CASE WHEN list_contains(rhl, '{name}') THEN nullif(array_to_string(list_transform(list_filter(resp.headers, "
            f"lambda h: lower(h[1]) = '{name}'), lambda h: h[2]), ', '), '') END")


def _time_ok(expr: str, json: bool = True) -> str:
    value = _num(expr) if json else expr
    typed = _typed(expr, 'num') if json else "TRUE"
    return f"({typed} AND ({value} IS NULL OR ({value} >= 0 AND {value} < {MAX_TIME})))"


def _size_ok(expr: str) -> str:
    return f"({_typed(expr, 'int')} AND ({_int(expr)} IS NULL OR {_int(expr)} BETWEEN -1 AND {MAX_SIZE - 1}))"


def _body_ok(b: str) -> str:
    return f"({b} IS NULL OR ({_size_ok(b + '.size')} AND {_typed(b + '.truncated', 'bool')} AND {_typed(b + '.batch', 'bool')}))"


_T_END = 't."end"'
#: a record the fast reader keeps: schema 1, an exchange or meta line, values of the right type and range
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


def _meta_client_info(meta: str) -> str:
    j = f"{meta}['{META_CLIENT_INFO}']"
    name, ver = f"json_extract_string({j}, '$.name')", f"json_extract_string({j}, '$.version')"
    return f"(CASE WHEN {name} IS NOT NULL THEN {name} || coalesce('/' || {ver}, '') END)"


def _sse_json(needle: str, path: str) -> str:
    """The JSON of each SSE event whose data contains ``needle`` (a cheap pre-filter) at ``path``."""
    return (f"list_filter(list_transform(resp.sse, lambda e: CASE WHEN contains(e.data, '{needle}') AND json_valid(e.data) "
            f"THEN json_extract(e.data, '{path}') END), lambda v: v IS NOT NULL)")


SELECT_SQL = f"""
SELECT
  {_hdr(H_USER_AGENT)} AS ua, {_hdr(H_SESSION)} AS req_sid, {_hdr(H_PROTOCOL_VERSION)} AS pv_hdr,
  {_hdr(H_ACCEPT)} AS accept, {_hdr(H_METHOD)} AS mcp_method_hdr, {_hdr(H_NAME)} AS mcp_name_hdr,
  {_hdr(H_LAST_EVENT_ID)} AS last_event_id,
  array_to_string(hl, ',') AS hnames, ? AS src, 0 AS line, id AS exid,
  {_num('t.req')} AS t_req, {_num('t.resp')} AS t_resp, {_num(_T_END)} AS t_end,
  req.method AS http_method, req.url AS url,
  {_flag('req.body.batch')} AS batch, {_flag('req.body.truncated')} AS req_trunc,
  coalesce(len(req.body.rpc), 0) AS n_msgs,
  {FIRST}.method AS rpc_method,
  coalesce({FIRST}.id IS NOT NULL, false) AS has_id,
  coalesce(len(req.body.rpc) > 0 AND NOT list_bool_or(list_transform(req.body.rpc, lambda m: m.method IS NOT NULL AND m.id IS NOT NULL)), false) AS notif_only,
  CASE WHEN json_type({FIRST}.params._meta['{META_PROTOCOL_VERSION}']) = 'VARCHAR'
       THEN {FIRST}.params._meta['{META_PROTOCOL_VERSION}'] ->> '$' END AS meta_pv,
  coalesce(map_contains({FIRST}.params._meta, '{META_CLIENT_CAPABILITIES}'), false) AS meta_caps,
  coalesce(map_contains({FIRST}.params._meta, '{META_CLIENT_INFO}'), false) AS meta_client,
  coalesce({FIRST}.params.name, {FIRST}.params.uri) AS name_param,
  CASE WHEN {_INIT} THEN (CASE WHEN {FIRST}.params.clientInfo.name IS NOT NULL THEN
          {FIRST}.params.clientInfo.name || coalesce('/' || {FIRST}.params.clientInfo.version, '') END)
       WHEN {FIRST}.params._meta IS NOT NULL THEN {_meta_client_info(FIRST + '.params._meta')} END AS client_info,
  CASE WHEN {_INIT} THEN {FIRST}.params.protocolVersion END AS init_pv_req,
  coalesce({_int('resp.status')}::INTEGER, -1) AS status,
  {_hdr(H_SESSION, 'resp.headers', 'rhl')} AS resp_sid,
  lower(trim(split_part(resp.content_type, ';', 1))) AS ctype,
  coalesce({_int('resp.body.size')}::BIGINT, -1) AS resp_size,
  {_flag('resp.body.truncated')} AS resp_trunc,
  coalesce(len(resp.sse), 0) AS n_events,
  resp.sse[1].event AS first_event,
  CASE WHEN resp.sse[1].event = 'endpoint' THEN resp.sse[1].data END AS first_event_data,
  CASE WHEN {_INIT} AND resp IS NOT NULL THEN coalesce(
      list_filter(resp.body.rpc, lambda m: m.result IS NOT NULL)[1].result.protocolVersion,
      list_filter(list_transform({_sse_json('"result"', '$.result')}, lambda r: json_extract_string(r, '$.protocolVersion')),
                  lambda v: v IS NOT NULL)[1]) END AS neg_pv,
  CASE WHEN req.method = 'GET' AND len(resp.sse) > 0 THEN len(list_filter(resp.sse, lambda e:
      CASE WHEN contains(e.data, '"id"') AND json_valid(e.data) THEN json_type(e.data) = 'OBJECT' AND json_exists(e.data, '$.id')
      AND NOT json_exists(e.data, '$.method') AND (json_exists(e.data, '$.result') OR json_exists(e.data, '$.error')) ELSE false END)) ELSE 0 END AS get_responses,
  error,
  {_hdr('origin')} AS origin, {_hdr('access-control-request-headers')} AS acrh, {_hdr('traceparent')} AS traceparent,
  client.conn AS conn,
  CASE WHEN {FIRST}.params._meta IS NOT NULL OR {_hdr('traceparent')} IS NOT NULL THEN
    nullif(array_to_string(list_slice(list_sort(list_concat(
      coalesce(list_transform(list_filter(map_entries({FIRST}.params._meta), lambda e: NOT starts_with(e.key, 'io.modelcontextprotocol/')
          AND json_type(e.value) IN ('VARCHAR', 'BIGINT', 'UBIGINT')),
          lambda e: left(e.key, 100) || '{CORR_KV}' || left(CASE WHEN json_type(e.value) = 'VARCHAR' THEN e.value ->> '$' ELSE e.value::VARCHAR END, {MSG_CHARS})), []),
      CASE WHEN len(string_split({_hdr('traceparent')}, '-')) >= 3 AND len(string_split({_hdr('traceparent')}, '-')[2]) = 32
           THEN ['traceparent trace-id{CORR_KV}' || string_split({_hdr('traceparent')}, '-')[2]] ELSE [] END)), 1, {CORR_KEYS}), '{CORR_SEP}'), '')
  END AS corr,
  CASE WHEN NOT coalesce(list_contains(rhl, '{H_SESSION}'), false) THEN 0 ELSE least(len(list_filter(rhl, lambda n: n = '{H_SESSION}')), 99) END AS resp_sid_n,
  {_joined('access-control-allow-headers')} AS acah, {_joined('access-control-expose-headers')} AS aceh,
  {_joined('access-control-allow-origin')} AS acao, {_joined('location')} AS location,
  CASE WHEN err_code = floor(err_code) AND abs(err_code) < 9007199254740992 THEN err_code END AS rpc_err,
  coalesce(left(err_message, {MSG_CHARS}),
           CASE WHEN {_int('resp.status')} >= 400 THEN left(trim(list_filter(string_split(replace(resp.body.text, chr(13), chr(10)), chr(10)),
               lambda s: trim(s) <> '')[1]), {MSG_CHARS}) END) AS resp_msg,
  {_num('resp.sse[1].t')} AS t_event,
  kind, ({VALID_SQL}) AS valid,
  CASE WHEN kind = 'meta' THEN json_object('mcpsniff', mcpsniff, 'mitmproxy', mitmproxy, 'python', python) END AS meta
FROM (
  SELECT *,
    list_transform(req.headers, lambda h: lower(h[1])) AS hl,
    list_transform(resp.headers, lambda h: lower(h[1])) AS rhl,
    CASE WHEN resp IS NOT NULL AND ({_int('resp.status')} >= 300 OR len(resp.sse) > 0) THEN coalesce(
        list_filter(resp.body.rpc, lambda m: m.error IS NOT NULL)[1].error,
        json_transform(list_filter({_sse_json('"error"', '$.error')}, lambda x: json_type(x) = 'OBJECT')[1],
                       '{{"code": "DOUBLE", "message": "VARCHAR"}}')) END AS err,
    err['code'] AS err_code, err['message'] AS err_message
  FROM ({{read}})
)
"""


def count_lines(path: str, compressed: bool, start: int = 0, length: int = -1, block: int = 1 << 22) -> int:
    """The file's lines (a last line without its newline counts too), or those of ``length`` bytes
    from ``start`` (a piece of a plain file). DuckDB skips blank lines, so the fast reader keeps a
    file only when it made a row of every line: then row i is line i + 1."""
    buf = bytearray(block)
    lines, last, left = 0, b"\n", length
    with (gzip.open(path, "rb") if compressed else open(path, "rb", buffering=0)) as fo:
        if start:
            fo.seek(start)
        while left and (n := fo.readinto(buf if left < 0 else memoryview(buf)[:left])):
            lines += buf.count(b"\n", 0, n)
            last = bytes(buf[n - 1:n])
            if left > 0:
                left -= n
    return lines + (last != b"\n")


def insert_sql(path: str, compressed: bool) -> str:
    """``SELECT`` of the model's columns plus ``kind``, ``valid`` and ``meta`` for every record of the file."""
    comp = "gzip" if compressed else "none"
    read = (f"SELECT * FROM read_json({_lit(path)}, format='newline_delimited', "
            f"columns={COLUMNS_SQL}, compression='{comp}', maximum_object_size=16777216)")
    return SELECT_SQL.replace("{read}", read)
