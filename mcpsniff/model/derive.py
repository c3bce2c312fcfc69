"""Derive: planes, endpoints, eras, issued sessions and echo classes -- in SQL, once per capture.

Vocabulary
----------
plane     the exact User-Agent string of a request ("(no User-Agent)" when absent)
scope     (plane, endpoint): sessions are issued by one server endpoint to one plane
endpoint  an MCP endpoint is one JSON-RPC was posted to (or a legacy SSE endpoint); traffic to
          other URLs is not judged by the transport's rules, whatever MCP headers it carries
role      per exchange, decided once: "call" (POST to the endpoint), "stream" (GET on it), "end"
          (DELETE on it), "preflight" (CORS OPTIONS on it), "auth" (authorization traffic:
          discovery documents, announced resource metadata, registration, token, authorize) or
          "other" (any other HTTP)
era       per exchange, from its conversation: "legacy" (2024-11-05 HTTP+SSE), "handshake"
          (2025-03-26 .. 2025-11-25 Streamable HTTP: any exchange carrying a session id or an
          initialize, whatever newer headers the client adds), "modern" (2026-07-28, stateless:
          no initialize handshake, the 2026-07-28 shape), "probe" (a dual-era client's failed POST
          initialize before falling back to legacy SSE) or "other" (not endpoint traffic)
session   an id issued in the ``Mcp-Session-Id`` header of a successful ``initialize``
          response; a header on any other response issues nothing. Its lifecycle: issued -> in
          use -> ended (a DELETE the server accepted, or the id refused as unknown: 404, or a
          JSON-RPC error saying so whatever the status) -> a new initialize opens a new session,
          even when it still carries the dead id
follow-up a handshake request that must repeat the session's headers: any but initialize
          and CORS preflights
echo      for each follow-up: "echoed" (an id issued to this plane), "dropped" (no header
          although this scope was issued one), "foreign" (an id issued to another plane),
          "unknown" (an id never seen issued: capture started mid-session) or "none"
          (nothing to echo)
scope_sid for a follow-up without a session id: its scope's latest session (``sql.SID`` gives every
          exchange's session: the one an initialize opens, the id a follow-up carries, or this)
ended     "deleted" / "refused" when the exchange carries a session id that had ended before it
gone      the answer refuses the exchange's session id as unknown or ended
why       one explanation per exchange, by precedence (see docs/json.md)

URL-level facts (endpoint keys, redirect targets, announced legacy endpoints, host:port) are
worked out in Python once per distinct URL with the same functions the capture uses
(:func:`mcpsniff.mcp.endpoint_key`); everything per exchange is SQL over the exchanges (``u``), which this turns into ``m``.

Every step over all exchanges is a scan, a sort or an ASOF join (DuckDB spills those); no hash
table or window holds every exchange at once, which DuckDB could not always spill.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import duckdb

from ..mcp import EVENT_STREAM, EXCHANGE_ERAS, MODERN_VERSION, NO_USER_AGENT, endpoint_key, netloc
from .store import each_on_a_cursor

#: well-known documents of authorization discovery (RFC 9728, RFC 8414, OpenID Connect Discovery);
#: a path holding one of them is authorization traffic wherever it sits (``/x/.well-known/...``)
AUTH_WELL_KNOWN = ("/.well-known/oauth-protected-resource", "/.well-known/oauth-authorization-server",
                   "/.well-known/openid-configuration")
#: last path segments of the endpoints an authorization flow talks to (RFC 6749, RFC 7591, RFC 7009,
#: RFC 7662, OpenID Connect): judged as authorization traffic only where no JSON-RPC was ever posted
AUTH_SEGMENTS = frozenset({"token", "authorize", "authorization", "register", "registration", "revoke",
                           "introspect", "userinfo", "jwks", "jwks.json", "callback", "par", "device_authorization"})
#: what the capture writes when the client went away before the answer (mitmproxy and the ASGI recorder)
CLIENT_GONE = "Client disconnected."
CAPTURE_STOPPED = "capture stopped"
# what servers say when they do not (or no longer) know a session id: "No valid session ID provided"
# (Python SDK before 1.24), "Session not found", "Invalid or expired session ID", "initialize first,
# then send mcp-session-id" (a load-balanced server whose instance never saw the session)
UNKNOWN_SESSION_WORDS = (
    r"(?i)session.{0,40}(unknown|invalid|expired|not found|no valid|terminated|does not exist|not exist|closed)"
    r"|(unknown|invalid|expired|no valid|no such|terminated) session|initiali[sz]e first"
)
#: methods that are bookkeeping, not a unit of work, when counting what a session was used for
BOOKKEEPING = ("notifications/initialized", "ping", "tools/list", "prompts/list", "resources/list",
               "resources/templates/list", "logging/setLevel", "notifications/cancelled", "notifications/roots/list_changed")


def is_auth_url(url: str, announced: set[str]) -> bool:
    """Authorization traffic by its URL: a well-known discovery document, a URL a server announced as
    its ``resource_metadata``, or an authorization endpoint's usual last path segment."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    if any(w in path for w in AUTH_WELL_KNOWN) or endpoint_key(url) in announced:
        return True
    return path.rstrip("/").rsplit("/", 1)[-1].lower() in AUTH_SEGMENTS


def _url_table(con: duckdb.DuckDBPyConnection, announced_rm: set[str]) -> dict[str, tuple[str, list]]:
    """Per distinct URL: a number (what the exchanges carry while they are sorted: narrower than
    the strings), its endpoint (redirects followed to the end of their chain), host:port, whether
    its endpoint is an MCP endpoint (JSON-RPC was posted to it, or it speaks legacy SSE) and whether
    it is authorization traffic (an auth-looking URL of an endpoint that is not an MCP endpoint)."""
    per_url = con.execute("""SELECT url, bool_or(n_msgs > 0 AND http_method = 'POST') OR bool_or(first_event = 'endpoint')
                             FROM u GROUP BY url""").fetchall()
    alias: dict[str, str] = {}
    for url, loc in con.execute(
            "SELECT DISTINCT url, location FROM u WHERE status BETWEEN 300 AND 399 AND location IS NOT NULL").fetchall():
        try:
            target = endpoint_key(urljoin(url, loc.strip()))
        except ValueError:
            continue
        ep = endpoint_key(url)
        if target != ep:
            alias.setdefault(ep, target)

    def final(ep: str) -> str:
        seen = {ep}
        while ep in alias and alias[ep] not in seen:
            ep = alias[ep]
            seen.add(ep)
        return ep

    urls = [u for u, _ in per_url]
    endpoints = [final(endpoint_key(u)) for u in urls]
    ep_ids: dict[str, int] = {}
    for ep in endpoints:
        ep_ids.setdefault(ep, len(ep_ids))
    mcp_eps = {ep for ep, (_, rpc) in zip(endpoints, per_url) if rpc}
    mcp = [ep in mcp_eps for ep in endpoints]
    auth = [not m and is_auth_url(u, announced_rm) for u, m in zip(urls, mcp)]
    return {"url": ("VARCHAR", urls), "url_id": ("INTEGER", list(range(len(urls)))), "endpoint": ("VARCHAR", endpoints),
            "ep_id": ("INTEGER", [ep_ids[e] for e in endpoints]),
            "netloc": ("VARCHAR", [netloc(u) for u in urls]), "mcp_ep": ("BOOLEAN", mcp), "auth": ("BOOLEAN", auth)}


def _announced(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, list]]:
    """The POST URLs legacy servers announced in their ``endpoint`` events."""
    out = set()
    for url, data in con.execute("SELECT DISTINCT url, first_event_data FROM u WHERE first_event = 'endpoint'").fetchall():
        if isinstance(data, str) and data.strip():
            try:
                out.add(urljoin(url, data.strip()))
            except ValueError:  # an announced URL that does not parse announces nothing
                continue
    return {"url": ("VARCHAR", sorted(out))}


def _table(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, tuple[str, list]]) -> None:
    """A temporary table of Python lists of equal length (column: (SQL type, values))."""
    cols = ", ".join(f"unnest(${i}::{t}[]) AS {c}" for i, (c, (t, _)) in enumerate(columns.items(), 1))
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT {cols}", [v for _, v in columns.values()])


def _resource_metadata(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Endpoints of the protected-resource metadata URLs servers announced in ``WWW-Authenticate``."""
    out = set()
    for url, rm in con.execute("SELECT DISTINCT url, www_auth_rm FROM u WHERE www_auth_rm IS NOT NULL").fetchall():
        try:
            out.add(endpoint_key(urljoin(url, rm.strip())))
        except ValueError:
            continue
    return out


#: the roles and explanations an exchange can have: one byte each in the table (an ENUM), not a string
ROLES = ("call", "stream", "end", "preflight", "auth", "other")
WHYS = ("authorization", "not-endpoint", "preflight", "abandoned", "unanswered", "initialize", "initialize-stateless",
        "initialize-refused", "after-end", "session-refused", "session-deleted", "delete-not-allowed",
        "no-standalone-stream", "missing-session", "credential-refused", "rate-limited", "unavailable",
        "stream-without-response", "ok", "failed")


def _enum(con: duckdb.DuckDBPyConnection, name: str, values: tuple[str, ...]) -> None:
    con.execute(f"CREATE TYPE IF NOT EXISTS {name} AS ENUM ({', '.join(repr(v) for v in values)})")


def derive(con: duckdb.DuckDBPyConnection, parts: list[tuple[str, bool]] | None = None) -> None:
    """Turn ``u`` into ``m`` (adding pos -- the position by time, file order breaking ties -- plane,
    endpoint, role, era, follow_up, echo, sid_issued_to, neg_version, scope_sid, ended, gone, why) and build
    ``sessions`` (sid, plane, endpoint, t, version, pos, t_ended, ended_by, uses, work, closed, and the
    plane's number, plane_id).

    Only ``base`` and ``m`` read the wide exchange rows; the steps between work on narrow tables.
    ``parts`` are the SELECTs that make up ``u`` (see :func:`assemble`); None: ``u`` as one part."""
    _enum(con, "mcpsniff_role", ROLES)
    _enum(con, "mcpsniff_why", WHYS)
    _enum(con, "mcpsniff_era", EXCHANGE_ERAS)
    _table(con, "urls_df", _url_table(con, _resource_metadata(con)))
    _table(con, "announced_df", _announced(con))
    # the planes and endpoints by number: what every sort and join below carries instead of the strings
    # (m gets the strings back beside its rows)
    con.execute(f"""CREATE TEMP TABLE d_planes AS SELECT (row_number() OVER (ORDER BY plane) - 1)::INTEGER AS plane_id, plane
                    FROM (SELECT DISTINCT coalesce(ua, '{NO_USER_AGENT}') AS plane FROM u)""")
    con.execute("CREATE TEMP TABLE d_eps AS SELECT DISTINCT ep_id, endpoint FROM urls_df")
    legacy = "(first_event = 'endpoint' OR a.url IS NOT NULL)"
    marked = f"(req_sid IS NOT NULL OR mcp_method_hdr IS NOT NULL OR ctype = '{EVENT_STREAM}' OR n_msgs > 0)"
    con.execute(f"""
        CREATE TEMP TABLE base0 AS
        SELECT src, line, plane_id, url_id, role,
          CASE
            WHEN role IN ('auth', 'other') THEN 'other'
            WHEN legacy THEN 'legacy'
            WHEN req_sid IS NOT NULL OR rpc_method = 'initialize' THEN 'handshake'
            WHEN meta_pv IS NOT NULL OR pv_hdr >= '{MODERN_VERSION}' OR rpc_method = 'server/discover' THEN 'modern'
            WHEN mcp_method_hdr IS NOT NULL THEN 'modern?'
            WHEN n_msgs > 0 OR pv_hdr IS NOT NULL OR ctype = '{EVENT_STREAM}' THEN 'handshake'
            ELSE 'other' END AS era0,
          announces, http_method, rpc_method, status, req_sid, resp_sid, neg_pv, t_done, t_req, gone, abandoned,
          lost_response
        FROM (
          SELECT src, line, pl.plane_id, url.url_id, {legacy} AS legacy,
            CASE
              WHEN http_method = 'OPTIONS' THEN CASE WHEN url.mcp_ep THEN 'preflight' ELSE 'other' END
              WHEN {legacy} THEN CASE http_method WHEN 'GET' THEN 'stream' WHEN 'POST' THEN 'call' ELSE 'other' END
              WHEN url.auth THEN 'auth'
              WHEN NOT url.mcp_ep AND NOT {marked} THEN 'other'
              WHEN http_method = 'POST' THEN 'call'
              WHEN http_method = 'GET' THEN 'stream'
              WHEN http_method = 'DELETE' THEN 'end'
              ELSE 'other' END::mcpsniff_role AS role,
            first_event = 'endpoint' AS announces, http_method, rpc_method, status, req_sid, resp_sid, neg_pv,
            meta_pv, pv_hdr, mcp_method_hdr, n_msgs, ctype,
            coalesce(t_resp, t_end, t_req) AS t_done, t_req,
            coalesce(req_sid IS NOT NULL AND (status = 404 OR regexp_matches(resp_msg, '{UNKNOWN_SESSION_WORDS}')), false) AS gone,
            coalesce((error = '{CLIENT_GONE}' OR starts_with(error, '{CAPTURE_STOPPED}'))
                     AND (status < 0 OR (http_method = 'POST' AND has_id AND NOT coalesce(resp_for_req, false))), false) AS abandoned,
            coalesce(http_method = 'POST' AND has_id AND status BETWEEN 200 AND 299 AND ctype = '{EVENT_STREAM}'
                     AND NOT resp_for_req AND NOT sse_ids AND error IS NULL, false) AS lost_response
          FROM u JOIN urls_df url USING (url) LEFT JOIN announced_df a USING (url)
          JOIN d_planes pl ON pl.plane = coalesce(u.ua, '{NO_USER_AGENT}'))""")
    # by time (file order breaks ties): the row id is the position. The narrow rows are made first and
    # sorted apart from the wide input tables (sorted while scanning them, a big capture outgrows a
    # small memory limit); the URL's number, not its endpoint and host strings, is sorted
    con.execute("CREATE TEMP TABLE base AS SELECT * FROM base0 ORDER BY t_req, src, line")
    con.execute("DROP TABLE base0")
    # The era comes from the conversation: an exchange carrying a session id, or an initialize, is of
    # the handshake era whatever newer headers a client adds. A request whose only modern marker is an
    # Mcp-Method header is of the handshake era where its plane held an initialize handshake with that
    # endpoint, else of the 2026-07-28 era. GET, DELETE, OPTIONS without MCP markers on an endpoint
    # with Streamable HTTP traffic take that endpoint's main era (a GET stream opened without the
    # session header is still MCP)
    con.execute(f"""
        CREATE TEMP TABLE base2 AS
        WITH ep_era AS (
          SELECT ep_id, arg_max(era0, n * 2 + CASE era0 WHEN 'handshake' THEN 1 ELSE 0 END) AS era
          FROM (SELECT url.ep_id, era0, sum(n) AS n
                FROM (SELECT url_id, era0, count(*) AS n FROM base WHERE era0 IN ('handshake', 'modern') GROUP BY ALL)
                JOIN urls_df url USING (url_id) GROUP BY ALL)
          GROUP BY ep_id),
        shook AS (SELECT DISTINCT b.plane_id, url.ep_id FROM base b JOIN urls_df url USING (url_id)
                  WHERE era0 = 'handshake' AND rpc_method = 'initialize' AND status BETWEEN 200 AND 299),
        legacy_get AS (SELECT DISTINCT b.plane_id, url.netloc FROM base b JOIN urls_df url USING (url_id) WHERE announces)
        SELECT b.rowid AS pos, b.* EXCLUDE (era0, url_id, announces), url.ep_id,
          CASE
            WHEN b.era0 = 'other' AND b.role IN ('stream', 'end', 'preflight') THEN coalesce(e.era, 'other')
            WHEN b.era0 = 'modern?' THEN CASE WHEN h.plane_id IS NOT NULL THEN 'handshake' ELSE 'modern' END
            WHEN b.era0 = 'handshake' AND b.rpc_method = 'initialize' AND b.status BETWEEN 400 AND 499
                 AND lg.plane_id IS NOT NULL THEN 'probe'
            ELSE b.era0 END::mcpsniff_era AS era
        FROM base b JOIN urls_df url USING (url_id) LEFT JOIN ep_era e ON e.ep_id = url.ep_id
        LEFT JOIN shook h ON h.plane_id = b.plane_id AND h.ep_id = url.ep_id
        LEFT JOIN legacy_get lg ON lg.plane_id = b.plane_id AND lg.netloc = url.netloc""")
    con.execute("""
        CREATE TEMP TABLE init AS
        SELECT pos, plane_id, ep_id, t_done AS t, resp_sid AS sid, neg_pv AS version FROM base2
        WHERE era = 'handshake' AND rpc_method = 'initialize' AND status BETWEEN 200 AND 299""")
    # how each session id ended: the first DELETE the server accepted, or the first refusal of the id
    # as unknown (404, or a JSON-RPC error saying so, whatever the status). Other refusals (401/403,
    # 429, a gateway's 502, 405 to a GET) end nothing. An initialize carrying an old id opens a new
    # session; it neither ends nor uses the old one
    bookkeeping = ", ".join(f"'{b}'" for b in BOOKKEEPING)
    con.execute(f"""
        CREATE TEMP TABLE ends AS
        SELECT req_sid AS sid, min(t_done) AS t,
               arg_min(CASE WHEN gone THEN 'refused' ELSE 'deleted' END, t_done) AS how
        FROM base2
        WHERE req_sid IS NOT NULL AND era = 'handshake' AND rpc_method IS DISTINCT FROM 'initialize'
          AND (gone OR (http_method = 'DELETE' AND status BETWEEN 200 AND 299))
        GROUP BY req_sid""")
    con.execute(f"""
        CREATE TABLE sessions AS
        WITH s AS (SELECT sid, plane_id, ep_id, t, version, pos FROM init WHERE sid IS NOT NULL
                   QUALIFY row_number() OVER (PARTITION BY sid ORDER BY pos) = 1),
        used AS (
          SELECT req_sid AS sid, count(*) FILTER (http_method <> 'DELETE') AS uses,
                 count(*) FILTER (http_method = 'POST' AND rpc_method NOT IN ({bookkeeping})
                                  AND NOT starts_with(rpc_method, 'notifications/')) AS work,
                 count(*) FILTER (http_method = 'DELETE') > 0 AS closed
          FROM base2 WHERE req_sid IS NOT NULL AND rpc_method IS DISTINCT FROM 'initialize' GROUP BY req_sid)
        SELECT s.sid, p.plane, d.endpoint, s.t, s.version, s.pos, e.t AS t_ended, e.how AS ended_by,
               coalesce(u.uses, 0) AS uses, coalesce(u.work, 0) AS work, coalesce(u.closed, false) AS closed, s.plane_id
        FROM s JOIN d_planes p USING (plane_id) JOIN d_eps d USING (ep_id)
        LEFT JOIN ends e USING (sid) LEFT JOIN used u USING (sid) ORDER BY s.pos""")
    # every derived column in one narrow table. A follow-up that carries a session id issued here
    # takes its facts from that session; only the others (no id, or an id never seen issued) need
    # their scope's latest successful initialize that finished before they started: an ASOF join
    # (a join keyed by position would need a hash table of every exchange; the ASOF join sorts, and
    # sorts spill), over those rows only. The rows with their session (b) are made again for each of
    # the two branches, not kept (kept, DuckDB writes them out and reads them back twice)
    con.execute(f"""
        CREATE TABLE facts AS
        WITH b AS NOT MATERIALIZED (
          SELECT b.*, s.sid AS s_sid, s.plane_id AS s_plane, s.version AS s_version, b.fu AND s.sid IS NULL AS scoped,
                 CASE WHEN s.t_ended < b.t_req THEN s.ended_by END AS s_ended
          FROM (SELECT *, coalesce(era = 'handshake' AND rpc_method IS DISTINCT FROM 'initialize' AND http_method <> 'OPTIONS', false) AS fu
                FROM base2) b
          LEFT JOIN sessions s ON s.sid = b.req_sid),
        j AS (
          SELECT * EXCLUDE (s_ended), s_ended AS ended_how, NULL::VARCHAR AS i_sid, NULL::VARCHAR AS i_version,
                 false AS ep_sessions
          FROM b WHERE NOT scoped
          UNION ALL
          -- the follow-ups without an issued id (none, or one never seen issued): their scope's session,
          -- the end of an unknown id, and whether their endpoint issued sessions at all
          SELECT b.* EXCLUDE (s_ended), CASE WHEN e.t < b.t_req THEN e.how END, i.sid, i.version,
                 se.ep_id IS NOT NULL
          FROM (SELECT * FROM b WHERE scoped) b
          ASOF LEFT JOIN init i ON b.plane_id = i.plane_id AND b.ep_id = i.ep_id AND b.t_req >= i.t
          LEFT JOIN ends e ON e.sid = b.req_sid
          LEFT JOIN (SELECT DISTINCT ep_id FROM init WHERE sid IS NOT NULL) se ON se.ep_id = b.ep_id),
        k AS (
          SELECT *,
            CASE WHEN NOT fu THEN NULL
                 WHEN req_sid IS NOT NULL AND s_sid IS NOT NULL AND s_plane = plane_id THEN 'echoed'
                 WHEN req_sid IS NOT NULL AND s_sid IS NOT NULL THEN 'foreign'
                 WHEN req_sid IS NOT NULL THEN 'unknown'
                 WHEN i_sid IS NOT NULL THEN 'dropped'
                 ELSE 'none' END AS echo,
            era = 'handshake' AND rpc_method = 'initialize' AND status BETWEEN 200 AND 299 AS opens
          FROM j)
        SELECT src, line, pos, ep_id, role, era, fu AS follow_up, echo,
          s_plane AS issued_to,
          CASE WHEN opens THEN neg_pv WHEN s_sid IS NOT NULL THEN s_version WHEN fu THEN i_version END AS neg_version,
          CASE WHEN fu AND req_sid IS NULL THEN i_sid END AS scope_sid,
          ended_how AS ended, gone,
          CASE
            WHEN role = 'auth' THEN 'authorization'
            WHEN role = 'other' OR era = 'other' THEN 'not-endpoint'
            WHEN role = 'preflight' THEN 'preflight'
            WHEN abandoned THEN 'abandoned'
            WHEN status < 0 THEN 'unanswered'
            WHEN opens THEN CASE WHEN resp_sid IS NULL THEN 'initialize-stateless' ELSE 'initialize' END
            WHEN rpc_method = 'initialize' THEN 'initialize-refused'
            WHEN ended_how IS NOT NULL THEN 'after-end'
            WHEN gone THEN 'session-refused'
            WHEN http_method = 'DELETE' AND status BETWEEN 200 AND 299 THEN 'session-deleted'
            WHEN http_method = 'DELETE' AND status = 405 THEN 'delete-not-allowed'
            WHEN http_method = 'GET' AND status = 405 THEN 'no-standalone-stream'
            WHEN status = 400 AND req_sid IS NULL AND fu AND ep_sessions THEN 'missing-session'
            WHEN status IN (401, 403) THEN 'credential-refused'
            WHEN status = 429 THEN 'rate-limited'
            WHEN status IN (502, 503, 504) THEN 'unavailable'
            WHEN lost_response THEN 'stream-without-response'
            WHEN status BETWEEN 200 AND 399 THEN 'ok'
            ELSE 'failed' END::mcpsniff_why AS why
        FROM k
        ORDER BY src, line""")  # the order of the input tables: assemble puts them beside it (not a
    # TEMP table: assemble's other cursors must see it)
    for t in ("base", "base2", "init", "ends"):
        con.execute(f"DROP TABLE {t}")
    assemble(con, parts if parts is not None else [("SELECT * FROM u", False)])
    for t in ("facts", "d_planes", "d_eps", "urls_df", "announced_df"):
        con.execute(f"DROP TABLE {t}")


#: the derived columns of ``m`` after ``pos``, from an exchange's row (``p`` or ``u``) and its facts ``f``;
#: the numbers the facts carry are named by looking them up in the lists ``$endpoints`` and ``$planes``
#: (a join there would be planned around the positional join and lose its order)
_FACTS = (f"coalesce(ua, '{NO_USER_AGENT}') AS plane, $endpoints[f.ep_id + 1] AS endpoint, f.role, f.era, f.follow_up, "
          "f.echo, $planes[f.issued_to + 1] AS sid_issued_to, f.neg_version, f.scope_sid, f.ended, f.gone, f.why")


def assemble(con: duckdb.DuckDBPyConnection, parts: list[tuple[str, bool]]) -> None:
    """``m``: each part's wide rows beside their derived ``facts``.

    A part whose rows come in (src, line) order (a file read front to back) is put beside its facts
    (sorted that way once, for all parts), by position: no hash table of a million rows, which
    DuckDB cannot always hold within a small memory limit. Each row checks that both sides are the
    same exchange; a part out of step (or not in order, like a Parquet export) is joined on
    (src, line) instead.

    A positional join runs on one thread, so parts are put in as many at once as DuckDB has threads,
    each on its own cursor."""
    names = {"endpoints": [e for (e,) in con.execute("SELECT endpoint FROM d_eps ORDER BY ep_id").fetchall()],
             "planes": [p for (p,) in con.execute("SELECT plane FROM d_planes ORDER BY plane_id").fetchall()]}
    con.execute(f"CREATE TABLE m AS SELECT u.*, f.pos, {_FACTS} FROM u JOIN facts f USING (src, line) LIMIT 0", names)
    con.execute("SET preserve_insertion_order = true")  # the sorted facts must stay sorted
    at_once = min(len(parts), con.execute("SELECT current_setting('threads')").fetchall()[0][0])

    def put(cur: duckdb.DuckDBPyConnection, part: tuple[str, bool]) -> None:
        sql, ordered = part
        if not (ordered and _beside(cur, sql, names)):
            cur.execute(f"INSERT INTO m SELECT p.*, f.pos, {_FACTS} FROM ({sql}) p JOIN facts f USING (src, line)", names)

    each_on_a_cursor(con, parts, put, at_once)


def _beside(con: duckdb.DuckDBPyConnection, sql: str, names: dict[str, list[str]]) -> bool:
    """Insert the part ``sql`` by a positional join with its facts; False when they are out of step."""
    spans = con.execute(f"SELECT src, min(line), max(line) FROM ({sql}) GROUP BY src").fetchall()
    if not spans:
        return True
    # the facts of its rows, in (src, line) order: a piece of a file holds a run of its lines, a part
    # of several inputs (the careful reader's) holds them whole
    where = (f"src = {int(spans[0][0])} AND line BETWEEN {int(spans[0][1])} AND {int(spans[0][2])}" if len(spans) == 1
             else f"src IN ({', '.join(str(int(s)) for s, _, _ in spans)})")
    fs = f"(SELECT * FROM facts WHERE {where}) f"
    try:
        con.execute(f"""
            INSERT INTO m
            SELECT p.*, CASE WHEN p.src IS NOT DISTINCT FROM f.src AND p.line IS NOT DISTINCT FROM f.line THEN f.pos
                             ELSE error('mcpsniff: exchange rows and facts out of step') END AS pos, {_FACTS}
            FROM ({sql}) p POSITIONAL JOIN {fs}""", names)
        return True
    except duckdb.InvalidInputException:  # the statement is undone as a whole
        return False
