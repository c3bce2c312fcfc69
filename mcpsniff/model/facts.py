"""Declared facts of a capture: helper tables the rules read, each built once per Model.

A fact is a name and the SQL that selects its rows from the exchange table ``m`` (optionally
with a Python test per row, for what SQL cannot judge, such as decoding a header). It is built
lazily, as a temporary table, on the first :func:`table` call for a Model, and later calls get
the same table: checks stay pure (they only read), and two rules that need the same fact share
it without knowing of each other.

:func:`table` answers None when the fact holds no row, so that a rule's condition over it can be
a plain ``FALSE``: such a condition costs no scan of the exchanges (much traffic has no 404s, no
refusals and no DELETE at all).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Callable

from ..mcp import CLIENT_FEATURES, LIST_CHANGED, NAMED_METHODS, NULL_ID_ERRORS, SERVER_FEATURES
from .model import Model
from .sql import SID, in_list, quote

#: whole (untruncated, unbatched) JSON-RPC requests
WHOLE_REQUESTS = "(has_id AND rpc_method IS NOT NULL AND NOT batch AND NOT req_trunc)"
#: whole 2026-07-28 POST requests (the ones whose metadata headers must mirror the body)
MODERN_REQUESTS = f"(http_method = 'POST' AND {WHOLE_REQUESTS} AND era = 'modern')"


@dataclass(frozen=True)
class Fact:
    name: str  # the table's name
    sql: str  # SELECT of its rows over m
    keep: Callable[[tuple], bool] | None = None  # a row test in Python, applied to the SELECT's rows
    columns: tuple[str, ...] = ()  # the SELECT's column names (needed with ``keep``)
    make: Callable[[Model, str], None] | None = None  # builds the table itself (what SQL and a row test cannot)


FACTS: dict[str, Fact] = {}


def declare(name: str, sql: str, keep: Callable[[tuple], bool] | None = None, columns: tuple[str, ...] = (),
            make: Callable[[Model, str], None] | None = None) -> Fact:
    if name in FACTS:
        raise ValueError(f"two facts called {name!r}")
    FACTS[name] = Fact(name, sql, keep, columns, make)
    return FACTS[name]


def table(model: Model, fact: Fact) -> str | None:
    """The fact's table (built on the first request for this model), or None when it is empty."""
    def build() -> str | None:
        name = f"fact_{fact.name}"
        if fact.make is not None:
            fact.make(model, name)
        elif fact.keep is None:
            model.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {fact.sql}")
        else:
            rows = [r for r in model.rows(fact.sql) if fact.keep(r)]
            model.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM ({fact.sql}) LIMIT 0")
            if rows:
                model.con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in fact.columns)})", rows)
        return name if model.value(f"SELECT count(*) FROM {name}") else None
    return model.memo(f"fact:{fact.name}", build)


def not_judged(model: Model) -> list[dict[str, Any]]:
    """What the facts built so far could not judge, and why (a schema too big or hostile to apply
    ...): the analysis shows it, so that no finding is never taken for no problem."""
    return model.memo("not-judged", list)


def decode_mcp_name(value: Any) -> Any:
    """``=?base64?...?=`` encoded Mcp-Name values are compared decoded (2026-07-28)."""
    if isinstance(value, str) and value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return value
    return value


#: (Mcp-Name header, body name or uri) pairs of whole 2026-07-28 named requests that differ,
#: the header compared decoded
MCP_NAME_MISMATCH = declare(
    "mcp_name_mismatch",
    f"""SELECT DISTINCT mcp_name_hdr AS hdr, name_param AS name FROM m WHERE {MODERN_REQUESTS}
        AND rpc_method IN {in_list(list(NAMED_METHODS))} AND name_param IS NOT NULL""",
    keep=lambda r: decode_mcp_name(r[0]) != r[1], columns=("hdr", "name"))


# ---------------------------------------------------------------- the conversation (JSON-RPC lint)
# Each fact below holds the positions (``f_pos``) of the exchanges that break one rule of the
# conversation, and what is wrong with each (``f_what``). They are judged per conversation: a plane's
# session with an endpoint (``sql.SID``), or, for a server that issues no session id, the plane's
# conversation with the endpoint. Only what was read whole is judged: an initialize whose result was
# not read declares nothing either way, a conversation whose start was not captured is not judged.

#: the handshake-era conversations whose initialize was captured, with what either side declared
#: (few rows: one per initialize; read by the capability facts)
INITS = declare("inits", f"""SELECT plane AS i_plane, endpoint AS i_ep, {SID} AS i_sid, pos AS i_pos, caps_client, caps_server
                             FROM m WHERE why IN ('initialize', 'initialize-stateless') AND era = 'handshake'""")

def _declared(caps: str, cap: str) -> str:
    """SQL: the capabilities object ``caps`` (JSON text) declares ``cap`` (``tools``; ``tools.listChanged``: true)."""
    return (f"(CASE WHEN ends_with({cap}, '.listChanged') THEN coalesce(json_extract_string({caps}, '$.' || {cap}) = 'true', false)"
            f" ELSE coalesce(json_type({caps}, '$.' || {cap}), 'NULL') <> 'NULL' END)")


def _undeclared(inits: str, caps: str, names: list[str]) -> str:
    """Per conversation, the capabilities of ``names`` that no initialize of it declared (where every
    declaration of it was read)."""
    arr = "[" + ", ".join(f"'{n}'" for n in names) + "]"
    return f"""(SELECT i_plane, i_ep, i_sid, cap FROM (SELECT *, unnest({arr}) AS cap FROM {inits})
              GROUP BY ALL HAVING bool_and({caps} IS NOT NULL) AND NOT bool_or({_declared(caps, 'cap')}))"""


def _feature_of(method: str, table: dict[str, str], caps: list[str]) -> tuple[str, str]:
    """SQL: the capability of ``caps`` that ``method`` needs (from a prefix -> capability table), and a
    cheap test that it needs one of them."""
    keys = [k for k, v in table.items() if v in caps]
    whens = " ".join(f"WHEN starts_with({method}, {quote(k)}) THEN {quote(table[k])}" for k in keys)
    test = " OR ".join(f"starts_with({method}, {quote(k)})" for k in keys) or "FALSE"
    return f"(CASE {whens} END)", f"({test})"


def _undeclared_use(side: str, names: list[str], features: dict[str, str], rows: str, method: str, extra: str = "TRUE",
                    only_if: str = "TRUE"):
    """A fact builder: the exchanges of ``rows`` (SQL over m giving pos, plane, endpoint, sid and
    ``method``) whose method needs a capability its conversation did not declare. The conversations'
    declarations are worked out first (few rows); only the methods of capabilities some conversation
    left undeclared are looked for among the exchanges, and only when some exchange holds ``only_if``."""
    def make(model: Model, name: str) -> None:
        con = model.con
        inits = table(model, INITS)
        if inits is None or not model.value(f"SELECT count(*) FROM m WHERE {only_if}"):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (f_pos BIGINT, f_what VARCHAR)")
            return
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name}_u AS SELECT * FROM {_undeclared(inits, 'caps_' + side, names)}")
        caps = [c for (c,) in con.execute(f"SELECT DISTINCT cap FROM {name}_u").fetchall()]
        if not caps:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (f_pos BIGINT, f_what VARCHAR)")
            con.execute(f"DROP TABLE {name}_u")
            return
        feature, needs = _feature_of(method, features, caps)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS
            SELECT f_pos, string_agg(DISTINCT {method}, ', ' ORDER BY {method}) AS f_what FROM (
              SELECT x.pos AS f_pos, x.{method} FROM ({rows}) x JOIN {name}_u u
                ON u.i_plane = x.plane AND u.i_ep = x.endpoint AND u.i_sid IS NOT DISTINCT FROM x.sid AND u.cap = {feature}
              WHERE {needs} AND {extra})
            GROUP BY f_pos""")
        con.execute(f"DROP TABLE {name}_u")
    return make


#: requests the server did not serve: a request it answered with a result shows it offers the
#: feature, and the missing declaration is then the server's (the conformance suite's test server
#: declares no tools and lists them)
_REQUESTS = f"""SELECT pos, plane, endpoint, {SID} AS sid, rpc_method, neg_version FROM m
                WHERE era = 'handshake' AND http_method = 'POST' AND has_id AND NOT batch
                  AND NOT coalesce(resp_for_req AND rpc_err IS NULL AND status BETWEEN 200 AND 299, false)"""
_SRV_METHODS = f"""SELECT pos, plane, endpoint, {SID} AS sid, unnest(srv_methods) AS method FROM m
                   WHERE srv_methods IS NOT NULL AND era = 'handshake'"""
_LC = {k: v + ".listChanged" for k, v in LIST_CHANGED.items()}
#: client requests for server features the session's initialize result did not declare
CLIENT_UNDECLARED = declare("client_undeclared", "", make=_undeclared_use(
    "server", sorted(set(SERVER_FEATURES.values())), SERVER_FEATURES, _REQUESTS, "rpc_method",
    "(x.rpc_method <> 'completion/complete' OR x.neg_version >= '2025-03-26')"))
#: the server's requests (on any of the conversation's streams) for client features its initialize did not declare
SERVER_UNDECLARED = declare("server_undeclared", "", make=_undeclared_use(
    "client", sorted(CLIENT_FEATURES.values()), CLIENT_FEATURES, _SRV_METHODS, "method", only_if="srv_methods IS NOT NULL"))
#: list_changed notifications for a list whose listChanged the session's initialize result did not declare
LIST_CHANGED_UNDECLARED = declare("list_changed_undeclared", "", make=_undeclared_use(
    "server", sorted(_LC.values()), _LC, _SRV_METHODS, "method", only_if="srv_methods IS NOT NULL"))
#: handshake-era exchanges of an issued session (the only ones whose earlier requests were all captured)
_ISSUED = "(SELECT sid FROM sessions)"
#: requests other than ping sent in a conversation after its initialize and before the client's
#: notifications/initialized (or with none at all)
def _before_initialized(model: Model, name: str) -> None:
    con = model.con
    # the conversations (few rows) whose initialized notification does not follow their initialize
    # at once: only their exchanges need looking at
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name}_c AS SELECT * FROM (
        SELECT plane AS c_plane, endpoint AS c_ep, {SID} AS c_sid,
               min(pos) FILTER (why IN ('initialize', 'initialize-stateless')) AS c_init,
               min(pos) FILTER (rpc_method = 'notifications/initialized') AS c_ready
        FROM m WHERE era = 'handshake' AND http_method = 'POST'
          AND (why IN ('initialize', 'initialize-stateless') OR rpc_method = 'notifications/initialized')
        GROUP BY ALL HAVING c_init IS NOT NULL) WHERE c_ready IS NULL OR c_ready > c_init + 1""")
    first = model.value(f"SELECT min(c_init) FROM {name}_c")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS
        SELECT pos AS f_pos, rpc_method AS f_what FROM m JOIN {name}_c c
          ON c.c_plane = m.plane AND c.c_ep = m.endpoint AND c.c_sid IS NOT DISTINCT FROM {SID}
        WHERE {'FALSE' if first is None else f'pos > {int(first)}'} AND era = 'handshake' AND http_method = 'POST' AND has_id
          AND rpc_method NOT IN ('ping', 'initialize') AND pos > c_init AND (c_ready IS NULL OR pos < c_ready)""")
    con.execute(f"DROP TABLE {name}_c")


#: requests other than ping sent in a conversation after its initialize and before the client's
#: notifications/initialized (or with none at all)
BEFORE_INITIALIZED = declare("before_initialized", "", make=_before_initialized)
#: initialize answered with a newer protocolVersion than the client asked for, after which the client carried on
VERSION_NOT_OFFERED = declare("version_not_offered", f"""
    SELECT pos AS f_pos, 'asked for ' || init_pv_req || ', answered ' || neg_pv AS f_what FROM m i
    WHERE why IN ('initialize', 'initialize-stateless') AND era = 'handshake'
      AND regexp_full_match(init_pv_req, '\\d{{4}}-\\d{{2}}-\\d{{2}}') AND regexp_full_match(neg_pv, '\\d{{4}}-\\d{{2}}-\\d{{2}}')
      AND neg_pv > init_pv_req
      AND EXISTS (SELECT 1 FROM m x WHERE x.plane = i.plane AND x.endpoint = i.endpoint AND x.pos > i.pos
                  AND x.http_method = 'POST' AND x.follow_up AND coalesce(x.req_sid, x.scope_sid) IS NOT DISTINCT FROM i.resp_sid)""")
#: requests whose id the client had used before in the same session for a request the server answered
#: (a resend of a request that was never answered is a retry, not a reuse)
DUPLICATE_REQUEST_ID = declare("duplicate_request_id", f"""
    WITH r AS (SELECT pos, plane, endpoint, {SID} AS sid, rpc_id, coalesce(resp_for_req, false) AS answered FROM m
               WHERE era = 'handshake' AND http_method = 'POST' AND rpc_id IS NOT NULL AND NOT batch AND {SID} IS NOT NULL),
    d AS (SELECT hash(plane, endpoint, sid, rpc_id) AS h FROM r GROUP BY h HAVING count(*) > 1)
    SELECT pos AS f_pos, 'id ' || rpc_id AS f_what FROM (
      SELECT pos, rpc_id, bool_or(answered) OVER (PARTITION BY plane, endpoint, sid, rpc_id ORDER BY pos
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS seen
      FROM r WHERE hash(plane, endpoint, sid, rpc_id) IN (SELECT h FROM d))
    WHERE seen""")
#: responses (ids that answer no request of their own exchange) in an issued session, in 2xx answers:
#: the JSON-RPC error of a refused HTTP request (the Python SDK's 400 to a missing session id carries
#: the id "server-error") answers no JSON-RPC request, and is not judged by the id rules
_FOREIGN = f"""(SELECT pos, plane, endpoint, sid, rid, rpc_err, last_event_id FROM (
    SELECT pos, plane, endpoint, {SID} AS sid, unnest(rids_other) AS rid, rpc_err, last_event_id FROM m
    WHERE rids_other IS NOT NULL AND era = 'handshake' AND status BETWEEN 200 AND 299) WHERE sid IN {_ISSUED})"""
#: responses whose id matches no request of their session (a null id only for the errors that have one)
RESPONSE_ID_UNKNOWN = declare("response_id_unknown", f"""
    WITH k AS (SELECT * FROM {_FOREIGN} WHERE NOT (rid = 'null' AND rpc_err IN {in_list(list(NULL_ID_ERRORS))})),
    req AS (SELECT plane AS r_plane, endpoint AS r_ep, {SID} AS r_sid, rpc_id AS r_id, batch OR req_trunc AS r_unread FROM m
            WHERE http_method = 'POST' AND (rpc_id IS NOT NULL OR batch OR req_trunc) AND {SID} IN (SELECT sid FROM k))
    SELECT pos AS f_pos, string_agg(DISTINCT 'id ' || rid, ', ') AS f_what FROM k
    WHERE NOT EXISTS (SELECT 1 FROM req WHERE r_plane = k.plane AND r_ep = k.endpoint AND r_sid = k.sid
                      AND (r_id = k.rid OR r_unread))
    GROUP BY pos""")
#: responses to a request that another exchange of the session had answered already (a resumed
#: stream's replay is not counted: the client may not have had it)
ANSWERED_TWICE = declare("answered_twice", f"""
    WITH k AS (SELECT * FROM {_FOREIGN} WHERE last_event_id IS NULL AND rid <> 'null'),
    a AS (SELECT pos, plane, endpoint, sid, rid, true AS foreign_ FROM k
          UNION ALL
          SELECT pos, plane, endpoint, {SID}, rpc_id, false FROM m
          WHERE resp_for_req AND rpc_id IS NOT NULL AND {SID} IN (SELECT sid FROM k))
    SELECT pos AS f_pos, 'id ' || rid AS f_what FROM (
      SELECT *, row_number() OVER w AS n, bool_or(foreign_) OVER (PARTITION BY plane, endpoint, sid, rid) AS any_foreign
      FROM a WINDOW w AS (PARTITION BY plane, endpoint, sid, rid ORDER BY pos))
    WHERE n > 1 AND any_foreign""")
#: the tools/list answers (2xx; not a JSON-RPC error): their endpoint, position and tools (NULL, or not
#: a JSON array: not read whole)
_LISTS = """(SELECT endpoint AS l_ep, pos AS l_pos, tools_json AS l_json FROM m
             WHERE rpc_method = 'tools/list' AND status BETWEEN 200 AND 299 AND (tools_json IS NOT NULL OR rpc_err IS NULL))"""
#: per endpoint, each tool a list offered: its name, outputSchema (NULL: none) and the first position
#: a list offered it so (the JSON of each distinct list is read once)
_OFFERED = f"""(
    WITH lists AS {_LISTS},
    per AS (SELECT l_ep, l_json, min(l_pos) AS l_pos FROM lists WHERE starts_with(l_json, '[') GROUP BY ALL),
    tools AS (SELECT t_json, json_extract_string(t, '$.name') AS t_name,
                     CASE WHEN coalesce(json_type(t, '$.outputSchema'), 'NULL') <> 'NULL'
                          THEN json_extract(t, '$.outputSchema')::VARCHAR END AS t_schema
              FROM (SELECT t_json, unnest(json_extract(t_json, '$[*]')) AS t FROM (SELECT DISTINCT l_json AS t_json FROM per)))
    SELECT l_ep AS o_ep, t_name AS o_name, t_schema AS o_schema, min(l_pos) AS o_pos
    FROM per JOIN tools ON t_json = l_json WHERE t_name IS NOT NULL GROUP BY ALL)"""
#: tools/call requests of a name no earlier tools/list result of the endpoint offered (any plane or
#: session); endpoints with a tools/list answer that was not read whole are not judged
def _unknown_tool(model: Model, name: str) -> None:
    con = model.con
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name}_e AS
        SELECT l_ep, min(l_pos) FILTER (starts_with(l_json, '[')) AS l_first,
               bool_or(l_json IS NULL OR NOT starts_with(l_json, '[')) AS l_unread
        FROM {_LISTS} GROUP BY l_ep""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name}_o AS SELECT o_ep, o_name, min(o_pos) AS o_pos FROM {_OFFERED} GROUP BY ALL")
    # the (endpoint, name) pairs called before any list offered them, or never offered: few rows,
    # from one aggregate; only their calls are looked at
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name}_k AS
        SELECT c.endpoint AS k_ep, c.name_param AS k_name FROM (
          SELECT endpoint, name_param, max(pos) AS last FROM m
          WHERE rpc_method = 'tools/call' AND has_id AND NOT req_trunc AND name_param IS NOT NULL GROUP BY ALL) c
        JOIN {name}_e e ON e.l_ep = c.endpoint AND NOT e.l_unread AND e.l_first < c.last
        LEFT JOIN {name}_o o ON o.o_ep = c.endpoint AND o.o_name = c.name_param
        WHERE o.o_name IS NULL OR o.o_pos > e.l_first""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS
        SELECT pos AS f_pos, name_param AS f_what FROM m JOIN {name}_k k ON k.k_ep = m.endpoint AND k.k_name = m.name_param
          JOIN {name}_e e ON e.l_ep = m.endpoint AND e.l_first < m.pos
          LEFT JOIN {name}_o o ON o.o_ep = m.endpoint AND o.o_name = m.name_param AND o.o_pos < m.pos
        WHERE m.rpc_method = 'tools/call' AND m.has_id AND NOT m.req_trunc AND o.o_name IS NULL""")
    for t in "eok":
        con.execute(f"DROP TABLE {name}_{t}")


#: tools/call requests of a name no earlier tools/list result of the endpoint offered (any plane or
#: session); endpoints with a tools/list answer that was not read whole are not judged
UNKNOWN_TOOL = declare("unknown_tool", "", make=_unknown_tool)


def _schema_mismatch(model: Model, name: str) -> None:
    """Successful tools/call results of tools whose latest listing before the call declared an
    ``outputSchema``, validated once per distinct (schema, structuredContent) pair in Python
    (:mod:`.toolschema`, bounded); the table holds the calls that do not conform."""
    from .toolschema import validate_pairs  # jsonschema is imported only where a tool declared a schema

    con = model.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (f_pos BIGINT, f_what VARCHAR)")
    if not model.value("""SELECT count(*) FROM m WHERE rpc_method = 'tools/list' AND contains(tools_json, '"outputSchema"')"""):
        return
    # each tool's listings: its schema (NULL: none) from the first listing that gave it, per endpoint;
    # a call is held to the one listed last before it
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {name}_pairs AS
        WITH listed AS (SELECT * FROM {_OFFERED} WHERE o_ep IN (SELECT DISTINCT endpoint FROM m WHERE contains(tools_json, '"outputSchema"'))),
        calls AS (
          SELECT c.pos, v.o_schema AS v_schema, c.tool_sc FROM (SELECT pos, endpoint, name_param, tool_sc FROM m
                                                               WHERE tool_outcome = 'result' AND NOT req_trunc) c
          ASOF JOIN listed v ON v.o_ep = c.endpoint AND v.o_name = c.name_param AND c.pos > v.o_pos)
        SELECT row_number() OVER () AS k, v_schema, tool_sc, list(pos) AS ps FROM calls WHERE v_schema IS NOT NULL
        GROUP BY v_schema, tool_sc""")
    out = validate_pairs(model.rows(f"SELECT k, v_schema, tool_sc FROM {name}_pairs ORDER BY k"))
    for why, n in out.not_judged.items():
        not_judged(model).append({"what": "tool results against their outputSchema", "reason": why, "count": n})
    if out.bad:  # the pairs that failed, handed over as two lists
        con.execute(f"""INSERT INTO {name} SELECT unnest(ps), what FROM {name}_pairs
                        JOIN (SELECT unnest($1::BIGINT[]) AS k, unnest($2::VARCHAR[]) AS what) USING (k)""",
                    [list(out.bad), list(out.bad.values())])
    con.execute(f"DROP TABLE {name}_pairs")


#: tools/call results that do not conform to their tool's outputSchema (no structuredContent, or
#: content that does not validate); isError results are exempt
SCHEMA_MISMATCH = declare("schema_mismatch", "", make=_schema_mismatch)
