"""Derive: planes, endpoints, eras, issued sessions and echo classes -- in SQL, once per capture.

Vocabulary
----------
plane     the exact User-Agent string of a request ("(no User-Agent)" when absent)
scope     (plane, endpoint): sessions are issued by one server endpoint to one plane
era       per exchange: "legacy" (2024-11-05 HTTP+SSE), "handshake" (2025-03-26 ..
          2025-11-25 Streamable HTTP), "modern" (2026-07-28, stateless), "probe"
          (a dual-era client's failed POST initialize before falling back to
          legacy SSE) or "other" (not MCP)
session   an id issued in the ``Mcp-Session-Id`` header of a successful
          ``initialize`` response; a header on any other response issues nothing
follow-up a handshake request that must repeat the session's headers: any but initialize
          and CORS preflights
echo      for each follow-up: "echoed" (an id issued to this plane), "dropped" (no header
          although this scope was issued one), "foreign" (an id issued to another plane),
          "unknown" (an id never seen issued: capture started mid-session) or "none"
          (nothing to echo)

URL-level facts (endpoint keys, redirect targets, announced legacy endpoints, host:port) are
worked out in Python once per distinct URL with the same functions the capture uses
(:func:`mcpsniff.mcp.endpoint_key`); everything per exchange is SQL over the exchanges (``u``), which this turns into ``m``.

Every step over all exchanges is a scan, a sort or an ASOF join (DuckDB spills those); no hash
table or window holds every exchange at once, which DuckDB could not always spill.
"""

from __future__ import annotations

from urllib.parse import urljoin

import duckdb
import pandas as pd

from ..mcp import MODERN_VERSION, NO_USER_AGENT, endpoint_key, netloc
from .store import each_on_a_cursor

SUPPORT_METHODS = ("GET", "DELETE", "OPTIONS")


def _url_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per distinct URL: a number (what the exchanges carry while they are sorted: narrower than
    the strings), its endpoint (redirects followed to the end of their chain) and host:port."""
    urls = [u for (u,) in con.execute("SELECT DISTINCT url FROM u").fetchall()]
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

    return pd.DataFrame({"url": pd.Series(urls, dtype=object), "url_id": pd.Series(range(len(urls)), dtype="int32"),
                         "endpoint": pd.Series([final(endpoint_key(u)) for u in urls], dtype=object),
                         "netloc": pd.Series([netloc(u) for u in urls], dtype=object)})


def _announced(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The POST URLs legacy servers announced in their ``endpoint`` events."""
    out = set()
    for url, data in con.execute("SELECT DISTINCT url, first_event_data FROM u WHERE first_event = 'endpoint'").fetchall():
        if isinstance(data, str) and data.strip():
            try:
                out.add(urljoin(url, data.strip()))
            except ValueError:  # an announced URL that does not parse announces nothing
                continue
    return pd.DataFrame({"url": sorted(out)}, dtype=object)


def derive(con: duckdb.DuckDBPyConnection, parts: list[tuple[str, bool]] | None = None) -> None:
    """Turn ``u`` into ``m`` (adding pos -- the position by time, file order breaking ties -- plane,
    endpoint, era, follow_up, echo, sid_issued_to, neg_version) and build ``sessions``
    (sid, plane, endpoint, t, version, pos).

    Only ``base`` and ``m`` read the wide exchange rows; the steps between work on narrow tables.
    ``parts`` are the SELECTs that make up ``u`` (see :func:`assemble`); None: ``u`` as one part."""
    con.register("urls_df", _url_table(con))
    con.register("announced_df", _announced(con))
    support = ", ".join(f"'{m}'" for m in SUPPORT_METHODS)
    con.execute(f"""
        CREATE TEMP TABLE base0 AS
        SELECT src, line, coalesce(ua, '{NO_USER_AGENT}') AS plane, url.url_id,
          CASE
            WHEN first_event = 'endpoint' OR a.url IS NOT NULL THEN 'legacy'
            WHEN meta_pv IS NOT NULL OR mcp_method_hdr IS NOT NULL OR pv_hdr >= '{MODERN_VERSION}'
                 OR rpc_method = 'server/discover' THEN 'modern'
            WHEN n_msgs > 0 OR req_sid IS NOT NULL OR pv_hdr IS NOT NULL OR mcp_method_hdr IS NOT NULL
                 OR ctype = 'text/event-stream' THEN 'handshake'
            ELSE 'other' END AS era0,
          first_event = 'endpoint' AS announces, http_method, rpc_method, status, req_sid, resp_sid, neg_pv,
          coalesce(t_resp, t_end, t_req) AS t_done, t_req
        FROM u JOIN urls_df url USING (url) LEFT JOIN announced_df a USING (url)""")
    # by time (file order breaks ties): the row id is the position. The narrow rows are made first and
    # sorted apart from the wide input tables: sorted while scanning them, 10M exchanges ran out of
    # memory at MCPSNIFF_MEMORY_LIMIT=800MB (grown to 1GB) where 200MB passed (10M: 11.2 s against 7.3 s,
    # 1M: the same 0.9 s). The URL's number, not its endpoint and host strings, is sorted: at 10M
    # exchanges 5.4 s against 9.1 s.
    con.execute("CREATE TEMP TABLE base AS SELECT * FROM base0 ORDER BY t_req, src, line")
    con.execute("DROP TABLE base0")
    # GET, DELETE, OPTIONS without MCP markers on an endpoint with Streamable HTTP traffic take
    # that endpoint's main era (a GET stream opened without the session header is still MCP)
    con.execute(f"""
        CREATE TEMP TABLE base2 AS
        WITH ep_era AS (
          SELECT endpoint, arg_max(era0, n * 2 + CASE era0 WHEN 'handshake' THEN 1 ELSE 0 END) AS era
          FROM (SELECT url.endpoint, era0, sum(n) AS n
                FROM (SELECT url_id, era0, count(*) AS n FROM base WHERE era0 IN ('handshake', 'modern') GROUP BY ALL)
                JOIN urls_df url USING (url_id) GROUP BY ALL)
          GROUP BY endpoint),
        legacy_get AS (SELECT DISTINCT b.plane, url.netloc FROM base b JOIN urls_df url USING (url_id) WHERE announces)
        SELECT b.rowid AS pos, b.* EXCLUDE (era0, url_id, announces), url.endpoint,
          CASE
            WHEN b.era0 = 'other' AND b.http_method IN ({support}) THEN coalesce(e.era, 'other')
            WHEN b.era0 = 'handshake' AND b.rpc_method = 'initialize' AND b.status BETWEEN 400 AND 499
                 AND lg.plane IS NOT NULL THEN 'probe'
            ELSE b.era0 END AS era
        FROM base b JOIN urls_df url USING (url_id) LEFT JOIN ep_era e ON e.endpoint = url.endpoint
        LEFT JOIN legacy_get lg ON lg.plane = b.plane AND lg.netloc = url.netloc""")
    con.execute("""
        CREATE TEMP TABLE init AS
        SELECT pos, plane, endpoint, t_done AS t, resp_sid AS sid, neg_pv AS version FROM base2
        WHERE era = 'handshake' AND rpc_method = 'initialize' AND status BETWEEN 200 AND 299""")
    con.execute("""
        CREATE TABLE sessions AS
        SELECT sid, plane, endpoint, t, version, pos FROM init WHERE sid IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY sid ORDER BY pos) = 1 ORDER BY pos""")
    # every derived column in one narrow table. A follow-up that carries a session id issued here
    # takes its facts from that session; only the others (no id, or an id never seen issued) need
    # their scope's latest successful initialize that finished before they started: an ASOF join
    # (a join keyed by position would need a hash table of every exchange; the ASOF join sorts, and
    # sorts spill), over those rows only (at 10M exchanges, 7% of them dropped: 9 s against 15-17 s).
    # The rows with their session (b) are made again for each of the two branches, not kept: kept,
    # DuckDB wrote them out and read them back twice (1M: 0.91 s, 862 MB spilled, against 0.61 s)
    con.execute("""
        CREATE TABLE facts AS
        WITH b AS NOT MATERIALIZED (
          SELECT b.*, s.sid AS s_sid, s.plane AS s_plane, s.version AS s_version, b.fu AND s.sid IS NULL AS scoped
          FROM (SELECT *, coalesce(era = 'handshake' AND rpc_method IS DISTINCT FROM 'initialize' AND http_method <> 'OPTIONS', false) AS fu
                FROM base2) b
          LEFT JOIN sessions s ON s.sid = b.req_sid),
        j AS (
          SELECT *, NULL::VARCHAR AS i_sid, NULL::VARCHAR AS i_version FROM b WHERE NOT scoped
          UNION ALL
          SELECT b.*, i.sid, i.version FROM (SELECT * FROM b WHERE scoped) b
          ASOF LEFT JOIN init i ON b.plane = i.plane AND b.endpoint = i.endpoint AND b.t_req >= i.t)
        SELECT src, line, pos, plane, endpoint, era, fu AS follow_up,
          CASE WHEN NOT fu THEN NULL
               WHEN req_sid IS NOT NULL AND s_sid IS NOT NULL AND s_plane = plane THEN 'echoed'
               WHEN req_sid IS NOT NULL AND s_sid IS NOT NULL THEN 'foreign'
               WHEN req_sid IS NOT NULL THEN 'unknown'
               WHEN i_sid IS NOT NULL THEN 'dropped'
               ELSE 'none' END AS echo,
          s_plane AS sid_issued_to,
          CASE WHEN era = 'handshake' AND rpc_method = 'initialize' AND status BETWEEN 200 AND 299 THEN neg_pv
               WHEN s_sid IS NOT NULL THEN s_version
               WHEN fu THEN i_version END AS neg_version
        FROM j
        ORDER BY src, line""")  # the order of the input tables: assemble puts them beside it (not a
    # TEMP table: assemble's other cursors must see it)
    for t in ("base", "base2", "init"):
        con.execute(f"DROP TABLE {t}")
    assemble(con, parts if parts is not None else [("SELECT * FROM u", False)])
    con.execute("DROP TABLE facts")
    con.unregister("urls_df")
    con.unregister("announced_df")


def assemble(con: duckdb.DuckDBPyConnection, parts: list[tuple[str, bool]]) -> None:
    """``m``: each part's wide rows beside their derived ``facts``.

    A part whose rows come in (src, line) order (a file read front to back) is put beside its facts
    (sorted that way once, for all parts), by position: no hash table of a million rows, which
    DuckDB cannot always hold within a small memory limit. Each row checks that both sides are the
    same exchange; a part out of step (or not in order, like a Parquet export) is joined on
    (src, line) instead.

    A positional join runs on one thread, so parts are put in as many at once as DuckDB has threads,
    each on its own cursor (10M exchanges in ten parts: 14 s against 22 s one after the other)."""
    con.execute("CREATE TABLE m AS SELECT u.*, f.* EXCLUDE (src, line) FROM u JOIN facts f USING (src, line) LIMIT 0")
    con.execute("SET preserve_insertion_order = true")  # the sorted facts must stay sorted
    at_once = min(len(parts), con.execute("SELECT current_setting('threads')").fetchall()[0][0])

    def put(cur: duckdb.DuckDBPyConnection, part: tuple[str, bool]) -> None:
        sql, ordered = part
        if not (ordered and _beside(cur, sql)):
            cur.execute(f"INSERT INTO m SELECT p.*, f.* EXCLUDE (src, line) FROM ({sql}) p JOIN facts f USING (src, line)")

    each_on_a_cursor(con, parts, put, at_once)


def _beside(con: duckdb.DuckDBPyConnection, sql: str) -> bool:
    """Insert the part ``sql`` by a positional join with its facts; False when they are out of step."""
    spans = con.execute(f"SELECT src, min(line), max(line) FROM ({sql}) GROUP BY src").fetchall()
    if not spans:
        return True
    # the facts of its rows, in (src, line) order: a piece of a file holds a run of its lines, a part
    # of several inputs (the careful reader's) holds them whole
    where = (f"src = {int(spans[0][0])} AND line BETWEEN {int(spans[0][1])} AND {int(spans[0][2])}" if len(spans) == 1
             else f"src IN ({', '.join(str(int(s)) for s, _, _ in spans)})")
    fs = f"(SELECT * FROM facts WHERE {where}) fs"
    try:
        con.execute(f"""
            INSERT INTO m
            SELECT p.*, CASE WHEN p.src IS NOT DISTINCT FROM fs.src AND p.line IS NOT DISTINCT FROM fs.line THEN fs.pos
                             ELSE error('mcpsniff: exchange rows and facts out of step') END AS pos,
                   fs.* EXCLUDE (src, line, pos)
            FROM ({sql}) p POSITIONAL JOIN {fs}""")
        return True
    except duckdb.InvalidInputException:  # the statement is undone as a whole
        return False
