"""The Model: the exchange table (DuckDB table ``m``) and the facts later stages ask for, each
computed in one place.

Checks read the table through SQL (the predicates below: :attr:`Model.OK`, :attr:`Model.LABEL`,
:meth:`Model.in_eras` ...); documents ask the methods below and never query the table themselves.
Everything returned is plain data (numbers, strings, lists, dicts) with times as epoch floats.
Exchanges are named by their position ``pos`` in time order (0..n-1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..load import InputInfo, Problem
from ..mcp import ERA_FAMILY, EXCHANGE_ERAS
from . import sql
from .sql import quote

if TYPE_CHECKING:  # the Model is handed its connection; importing it (the rule catalogue does) needs no DuckDB
    import duckdb

ECHO_CLASSES = ("echoed", "dropped", "foreign", "unknown", "none")
LATENCY_PERCENTILES = (50, 95, 99)


def _status_key(status: int) -> str:
    return "none" if status < 0 else str(status)


@dataclass
class Model:
    con: duckdb.DuckDBPyConnection  # holds tables m (exchanges) and sessions
    inputs: list[InputInfo]
    problems: list[Problem] = field(default_factory=list)
    n: int = 0  # exchanges
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _owner: Any = field(default=None, repr=False)  # the Store (keeps its temporary directory alive)

    # SQL building blocks for the checks (columns of m), spelled once in model/sql.py
    OK = sql.OK
    LABEL = sql.LABEL
    MCP = sql.MCP
    NO_RESPONSE = sql.NO_RESPONSE
    FAILED = sql.FAILED
    STATE = sql.STATE
    SPEC_VERSION = sql.SPEC_VERSION

    @property
    def empty(self) -> bool:
        return self.n == 0

    def close(self) -> None:
        if self._owner is not None:
            self._owner.close()

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value worked out once per model, under a key of its own (a declared fact of
        :mod:`.facts`, a rule's selection)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.con.execute(sql, list(params)).fetchall()[0][0]

    def count(self, where: str) -> int:
        """Exchanges for which the SQL predicate holds."""
        return self.value(f"SELECT count(*) FROM m WHERE {where}") if not self.empty else 0

    # -- scope predicates (for the check engine) -------------------------------------------------
    def in_eras(self, eras: tuple[str, ...]) -> str:
        """Exchanges of these eras, a probe counting as the legacy transport it leads to."""
        cats = [e for e in EXCHANGE_ERAS if ERA_FAMILY.get(e, e) in eras]
        return f"(era IN ({', '.join(quote(c) for c in cats)}))" if cats else "FALSE"

    def version_at_least(self, version: str) -> str:
        """Exchanges whose spec version is known and >= ``version`` (dates compare as strings)."""
        return f"({self.SPEC_VERSION} >= {quote(version)})"

    # -- capture-wide -----------------------------------------------------------------------------
    def planes(self) -> list[str]:
        return [p for (p,) in self.rows("SELECT DISTINCT plane FROM m ORDER BY plane")]

    def capture_facts(self) -> dict[str, Any]:
        if self.empty:
            return {"exchanges": 0, "mcp_exchanges": 0, "start": None, "end": None, "eras": {}}
        n, mcp, start, end = self.rows(f"SELECT count(*), count(*) FILTER ({self.MCP}), min(t_req), "
                                       "greatest(max(t_req), max(t_end)) FROM m")[0]
        eras = self.rows("SELECT era, count(*) FROM m GROUP BY era ORDER BY min(pos)")
        return {"exchanges": n, "mcp_exchanges": mcp, "start": start, "end": end, "eras": {e: c for e, c in eras}}

    #: an exchange showing any sign of MCP: an MCP era, a JSON-RPC body, an MCP session or version
    #: header, or a CORS preflight asking to send MCP headers
    MCP_SIGNS = ("(era <> 'other' OR n_msgs > 0 OR req_sid IS NOT NULL OR pv_hdr IS NOT NULL OR resp_sid IS NOT NULL "
                 "OR lower(coalesce(acrh, '')) LIKE '%mcp-%')")

    def mcp_like(self) -> int:
        """How many exchanges show a sign of MCP (:data:`MCP_SIGNS`); 0 for a capture of other traffic."""
        return 0 if self.empty else int(self.value(f"SELECT count(*) FROM m WHERE {self.MCP_SIGNS}"))

    def hosts(self) -> list[str]:
        """The hosts (``host[:port]``) the exchanges went to, in order of first appearance."""
        from urllib.parse import urlsplit

        out: dict[str, None] = {}
        for (endpoint,) in self.rows("SELECT endpoint FROM m GROUP BY endpoint ORDER BY min(pos)") if not self.empty else []:
            out.setdefault(urlsplit(endpoint).netloc if endpoint else "(no host)", None)
        return list(out)

    def endpoint_count(self) -> int:
        return self.value("SELECT count(DISTINCT endpoint) FROM m") if not self.empty else 0

    def session_id_order(self) -> list[str]:
        """Every session id seen, in order of first appearance (a request's id before its response's)."""
        return [s for (s,) in self.rows("""
            SELECT sid FROM (SELECT req_sid AS sid, pos * 2 AS k FROM m WHERE req_sid IS NOT NULL
                             UNION ALL SELECT resp_sid, pos * 2 + 1 FROM m WHERE resp_sid IS NOT NULL)
            GROUP BY sid ORDER BY min(k)""")]

    def sessions(self) -> list[dict[str, Any]]:
        cols = ("sid", "plane", "endpoint", "t", "version", "pos")
        return [dict(zip(cols, r)) for r in self.rows(f"SELECT {', '.join(cols)} FROM sessions ORDER BY pos")]

    def failures(self) -> dict[str, Any]:
        """MCP exchanges that failed (4xx/5xx or no response) out of all MCP exchanges."""
        if self.empty:
            return {"failed": 0, "exchanges": 0}
        failed, total = self.rows(f"SELECT count(*) FILTER ({sql.FAILED}), count(*) FROM m WHERE {self.MCP}")[0]
        return {"failed": failed, "exchanges": total}

    # -- per plane ----------------------------------------------------------------------------------
    def plane_facts(self) -> list[dict[str, Any]]:
        """Per plane with MCP traffic (sorted by User-Agent): eras, versions, session-header
        classes, per-method counts and statuses, first/last request time."""
        if self.empty:
            return []
        echo_cols = ", ".join(f"count(*) FILTER (echo = {quote(e)})" for e in ECHO_CLASSES)
        planes = self.rows(f"""
            SELECT plane, count(*), min(t_req), max(t_req), list(DISTINCT client_info ORDER BY client_info)
                   FILTER (client_info IS NOT NULL), {echo_cols}
            FROM m WHERE {self.MCP} GROUP BY plane ORDER BY plane""")
        eras = self.rows(f"SELECT plane, era, count(*) FROM m WHERE {self.MCP} GROUP BY plane, era ORDER BY plane, min(pos)")
        versions = self.rows(f"""
            SELECT plane, v FROM (SELECT plane, neg_version AS v FROM m WHERE {self.MCP} AND neg_version IS NOT NULL
                                  UNION SELECT plane, meta_pv FROM m WHERE {self.MCP} AND meta_pv IS NOT NULL)
            ORDER BY plane, v""")
        methods = self.rows(f"""
            SELECT plane, {self.LABEL} AS label, count(*), {echo_cols} FROM m WHERE {self.MCP}
            GROUP BY plane, label ORDER BY plane, label""")
        statuses = self.rows(f"""
            SELECT plane, {self.LABEL} AS label, status, count(*) FROM m WHERE {self.MCP}
            GROUP BY plane, label, status ORDER BY plane, label, status""")
        issued = dict(self.rows("SELECT plane, count(*) FROM sessions GROUP BY plane"))
        by: dict[str, dict[str, Any]] = {}
        for plane, n, first, last, infos, *echo in planes:
            by[plane] = {
                "user_agent": plane, "client_info": list(infos or []), "eras": {}, "versions": [], "requests": n,
                "sessions_issued": int(issued.get(plane, 0)), "session_header": dict(zip(ECHO_CLASSES, echo)),
                "methods": [], "first_seen": first, "last_seen": last,
            }
        for plane, era, n in eras:
            by[plane]["eras"][era] = n
        for plane, v in versions:
            by[plane]["versions"].append(v)
        st: dict[tuple[str, str], dict[str, int]] = {}
        for plane, label, status, n in statuses:
            st.setdefault((plane, label), {})[_status_key(status)] = n
        for plane, label, n, *echo in methods:
            by[plane]["methods"].append({"method": label, "requests": n, **dict(zip(ECHO_CLASSES, echo)),
                                         "statuses": st[(plane, label)]})
        return list(by.values())

    def latency(self) -> dict[str, list[dict[str, Any]]]:
        """Per plane with MCP traffic, per method: how long its exchanges took, in milliseconds.

        ``response_end_ms``: request start -> response complete, over the exchanges that got a
        response; ``first_event_ms``: request start -> first SSE event, over those answered with
        an event stream.  Each is ``{"count", "p50", "p95", "p99"}`` (linear interpolation
        between the closest ranks), or None when no exchange of the method had one.
        """
        if self.empty:
            return {}
        qs = ", ".join(str(p / 100) for p in LATENCY_PERCENTILES)
        rows = self.rows(f"""
            SELECT plane, label, count(*), count(e), quantile_cont(e, [{qs}]), count(f), quantile_cont(f, [{qs}])
            FROM (SELECT plane, {self.LABEL} AS label,
                         CASE WHEN status >= 0 AND t_end IS NOT NULL THEN (t_end - t_req) * 1000.0 END AS e,
                         (t_event - t_req) * 1000.0 AS f
                  FROM m WHERE {self.MCP})
            GROUP BY plane, label ORDER BY plane, label""")

        def summary(n: int, q: list[float] | None) -> dict[str, Any] | None:
            if not n or q is None:
                return None
            return {"count": n, **{f"p{p}": round(float(v), 3) for p, v in zip(LATENCY_PERCENTILES, q)}}

        out: dict[str, list[dict[str, Any]]] = {}
        for plane, label, requests, ne, qe, nf, qf in rows:
            out.setdefault(plane, []).append({"method": label, "requests": requests,
                                              "response_end_ms": summary(ne, qe), "first_event_ms": summary(nf, qf)})
        return out

    #: what an authorization exchange was, from its URL (``role = 'auth'``), and the endpoint's own
    #: refusals of a credential: 401 (authenticate) and 403 (e.g. insufficient_scope: step-up)
    AUTH_KIND = """(CASE
        WHEN role = 'auth' AND contains(url, '/.well-known/') THEN 'discovery'
        WHEN role = 'auth' AND regexp_matches(url, '/token/?([?#]|$)') THEN 'token'
        WHEN role = 'auth' AND regexp_matches(url, '/regist(er|ration)/?([?#]|$)') THEN 'registration'
        WHEN role = 'auth' AND regexp_matches(url, '/authori[sz](e|ation)/?([?#]|$)') THEN 'authorize'
        WHEN role = 'auth' THEN 'metadata'
        WHEN era <> 'other' AND status = 401 THEN 'unauthorized'
        WHEN era <> 'other' AND status = 403 THEN 'forbidden' END)"""

    def authorization(self) -> list[dict[str, Any]]:
        """Per plane with authorization traffic or credential refusals: how many exchanges of each
        kind (discovery, metadata, registration, authorize, token; the endpoint's 401 and 403),
        with their statuses, and whether the plane's endpoint traffic succeeded after its last 401."""
        if self.empty:
            return []
        rows = self.rows(f"""
            SELECT plane, kind, count(*), histogram(status), max(t_req)
            FROM (SELECT plane, status, t_req, {self.AUTH_KIND} AS kind FROM m WHERE role = 'auth' OR status IN (401, 403))
            WHERE kind IS NOT NULL GROUP BY plane, kind ORDER BY plane, min(t_req)""")
        out: dict[str, dict[str, Any]] = {}
        for plane, kind, n, hist, last in rows:
            e = out.setdefault(plane, {"user_agent": plane, "kinds": {}, "retried_ok": None})
            e["kinds"][kind] = {"count": n, "statuses": {_status_key(k): v for k, v in sorted(dict(hist).items())}}
            if kind == "unauthorized":
                e["retried_ok"] = bool(self.value(
                    f"SELECT count(*) FROM m WHERE plane = ? AND era <> 'other' AND {self.OK} AND t_req > ?", [plane, last]))
        return list(out.values())

    def planes_where(self, predicates: list[str]) -> list[set[str]]:
        """For each SQL predicate, the planes with at least one exchange it holds for (one scan)."""
        if self.empty or not predicates:
            return [set() for _ in predicates]
        cols = ", ".join(f"bool_or(coalesce({p}, false))" for p in predicates)
        out: list[set[str]] = [set() for _ in predicates]
        for plane, *flags in self.rows(f"SELECT plane, {cols} FROM m GROUP BY plane"):
            for i, f in enumerate(flags):
                if f:
                    out[i].add(plane)
        return out

    def plane_profile(self, plane: str) -> dict[str, Any]:
        """All exchanges of one plane (MCP or not): requests, clientInfo, versions, statuses."""
        n = self.value("SELECT count(*) FROM m WHERE plane = ?", [plane])

        def distinct(col: str) -> list[str]:
            return [v for (v,) in self.rows(f"SELECT DISTINCT {col} FROM m WHERE plane = ? AND {col} IS NOT NULL ORDER BY 1", [plane])]

        return {
            "requests": n,
            "client_info": distinct("client_info"),
            "negotiated_versions": distinct("neg_version"),
            "protocol_version_headers": distinct("pv_hdr"),
            "statuses": {_status_key(s): c for s, c in self.rows(
                "SELECT status, count(*) FROM m WHERE plane = ? GROUP BY status ORDER BY status", [plane])},
        }

    def header_counts(self, plane: str) -> dict[str, dict[str, Any]]:
        """Per method of a plane: requests, and for every request header name how many carried it."""
        has_mcp = self.value(f"SELECT count(*) FROM m WHERE plane = ? AND {self.MCP}", [plane])
        where = f"plane = ? AND {self.MCP}" if has_mcp else "plane = ?"
        out: dict[str, dict[str, Any]] = {}
        for label, names, n in self.rows(f"""
                SELECT {self.LABEL} AS label, coalesce(hnames, '') AS h, count(*) FROM m WHERE {where}
                GROUP BY label, h ORDER BY count(*) DESC, label, h""", [plane]):
            e = out.setdefault(str(label), {"requests": 0, "headers": {}})
            e["requests"] += n
            for name in dict.fromkeys(x for x in str(names).split(",") if x):
                e["headers"][name] = e["headers"].get(name, 0) + n
        return out

    def correlation(self, plane: str) -> list[dict[str, Any]]:
        """What else ties a plane's MCP requests together when the session header does not:
        ``_meta`` values such as ``openai/session``, W3C trace ids, client connections.
        Per key: how many distinct values, on how many requests (most requests first)."""
        from .columns import CORR_KV, CORR_SEP

        per_key: dict[str, dict[str, int]] = {}
        for encoded, n in self.rows(f"SELECT corr, count(*) FROM m WHERE plane = ? AND {self.MCP} AND corr IS NOT NULL "
                                    "GROUP BY corr", [plane]):
            for pair in str(encoded).split(CORR_SEP):
                k, _, v = pair.partition(CORR_KV)
                per_key.setdefault(k, {})
                per_key[k][v] = per_key[k].get(v, 0) + n
        out = [{"key": k, "distinct": len(vals), "requests": sum(vals.values())} for k, vals in per_key.items()]
        conns, rows = self.rows(f"SELECT count(DISTINCT conn), count(conn) FROM m WHERE plane = ? AND {self.MCP}", [plane])[0]
        if rows:
            out.append({"key": "client connection", "distinct": conns, "requests": rows})
        out.sort(key=lambda e: (-e["requests"], e["distinct"], e["key"]))
        return out

    # -- rows ------------------------------------------------------------------------------------
    def evidence(self, where: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The exchanges matching a predicate, as plain dicts (time order, at most ``limit``)."""
        lim = f" LIMIT {int(limit)}" if limit else ""
        out = []
        for (exid, src, line, t, plane, http_method, method, status, sid, resp_sid, pv, hnames, error, role, state,
             why) in self.rows(
                f"SELECT exid, src, line, t_req, plane, http_method, rpc_method, status, req_sid, resp_sid, pv_hdr, hnames, "
                f"error, role, {self.STATE}, why FROM m WHERE {where} ORDER BY pos{lim}"):
            out.append({
                "id": exid, "source": f"{self.inputs[src].name}:{line}", "t": t, "plane": plane,
                "http_method": http_method, "method": method, "status": status if status >= 0 else None,
                "session_id": sid, "response_session_id": resp_sid, "protocol_version": pv,
                "headers": [h for h in hnames.split(",") if h] if isinstance(hnames, str) else [], "error": error,
                "role": role, "session_state": state, "explanation": why,
            })
        return out

    def timeline(self, where: str, marks: dict[str, str], limit: int | None = None) -> list[dict[str, Any]]:
        """The exchanges matching ``where`` as an explained timeline (time order), grouped per plane
        and session: role, session state, explanation, and the names of ``marks`` (name -> SQL
        predicate, e.g. a finding's exchanges) that hold for each. ``limit``: exchanges per group."""
        if self.empty:
            return []
        names = list(marks)
        fed = ("list_filter([" + ", ".join(f"CASE WHEN coalesce({marks[n]}, false) THEN {quote(n)} END" for n in names)
               + "], lambda x: x IS NOT NULL)") if names else "[]::VARCHAR[]"
        lim = f"WHERE k <= {int(limit)}" if limit else ""
        cols = ("pos", "t", "plane", "sid", "http_method", "method", "status", "req_sid", "resp_sid", "role", "era",
                "state", "why", "echo", "error", "rules", "n_group")
        rows = self.rows(f"""
            SELECT * EXCLUDE (k, first) FROM (
              SELECT pos, t_req, plane, {sql.SID} AS sid, http_method, rpc_method, status, req_sid, resp_sid, role, era, {self.STATE},
                     why, echo, error, {fed}, count(*) OVER g, row_number() OVER (g ORDER BY pos) AS k, min(pos) OVER g AS first
              FROM m WHERE {where} WINDOW g AS (PARTITION BY plane, {sql.SID})) {lim}
            ORDER BY plane, first, pos""")
        return [dict(zip(cols, r)) for r in rows]

    def runs(self, planes: list[str], marked: str | None, keep: int) -> list[dict[str, Any]]:
        """Runs of consecutive identical MCP requests of each plane in ``planes``, at most about
        ``keep`` per plane (always its first ``error`` run), the runs left out summed up as gaps.

        Identical = same HTTP method, JSON-RPC method, session id, session-header state
        (``sent`` / ``missing`` = dropped / ``""``), mark (``error`` where the predicate ``marked``
        holds, else ``ok``) and issued session id. A plane with more than ``keep`` runs keeps its
        first ``keep`` -- or, when its first error run comes later, its first ``keep - 1`` and that
        one. Per plane in order, each entry is a run (kind "run": plane, t, http_method, method,
        session, header, mark, issued, count, statuses) or a gap (kind "gap": plane, t of its first
        run, steps = runs left out, requests, errors = requests in error runs). Counted in SQL:
        a capture of a million runs hands over a few dozen rows."""
        if not planes:
            return []
        plist = ", ".join(quote(p) for p in planes)
        mark = f"CASE WHEN {marked} THEN 'error' ELSE 'ok' END" if marked else "'ok'"
        keep, prefix = int(keep), max(int(keep) - 1, 1)
        header = "CASE WHEN req_sid IS NOT NULL THEN 'sent' WHEN echo = 'dropped' THEN 'missing' ELSE '' END"
        issued = f"CASE WHEN rpc_method = 'initialize' AND {self.OK} AND resp_sid IS NOT NULL THEN resp_sid END"
        # the runs are found on narrow rows (position, plane, key): one window over them marks where
        # a run starts and numbers the rows; the runs are counted from their starts. What a run shows
        # is read afterwards from its first exchange, for the few runs kept, and its statuses counted
        # for those only, from the positions it spans: a capture can hold nearly as many runs as
        # exchanges, so nothing is computed per run that the few kept do not need
        rows = self.rows(f"""
            WITH r AS (
              SELECT pos, plane, {mark} AS mark,
                     coalesce(http_method, '') || chr(31) || coalesce(rpc_method, '') || chr(31) || coalesce(req_sid, '') || chr(31)
                     || {header} || chr(31) || {mark} || chr(31) || coalesce({issued}, '') AS key
              FROM m WHERE {self.MCP} AND plane IN ({plist})),
            s AS (
              SELECT pos, plane, mark, key IS DISTINCT FROM lag(key) OVER w AS new, row_number() OVER w AS k,
                     count(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS total
              FROM r WINDOW w AS (PARTITION BY plane ORDER BY pos)),
            runs AS (
              SELECT plane, first, mark, row_number() OVER v - 1 AS i, coalesce(lead(k) OVER v, total + 1) - k AS n,
                     lead(first) OVER v AS next
              FROM (SELECT plane, pos AS first, mark, k, total FROM s WHERE new) WINDOW v AS (PARTITION BY plane ORDER BY first)),
            p AS (SELECT plane, count(*) AS n_runs, min(i) FILTER (mark = 'error') AS fe FROM runs GROUP BY plane),
            c AS (
              SELECT runs.*, p.fe, CASE WHEN p.n_runs <= {keep} THEN true
                                        WHEN p.fe >= {keep} THEN i < {prefix} OR i = p.fe
                                        ELSE i < {keep} END AS kept
              FROM runs JOIN p USING (plane))
            SELECT 'run' AS kind, plane, i, first, n, (SELECT histogram(status) FROM m WHERE {self.MCP} AND m.plane = c.plane
                                                       AND m.pos >= c.first AND (c.next IS NULL OR m.pos < c.next)),
                   NULL AS steps, NULL AS errors
            FROM c WHERE kept
            UNION ALL
            SELECT 'gap', plane, min(i), min(first), sum(n), NULL, count(*), coalesce(sum(n) FILTER (mark = 'error'), 0)
            FROM c WHERE NOT kept GROUP BY plane, CASE WHEN fe >= {keep} AND i < fe THEN 1 ELSE 2 END
            ORDER BY plane, i""")
        if not rows:
            return []
        firsts = ", ".join(str(int(r[3])) for r in rows)
        shown = {pos: rest for pos, *rest in self.rows(
            f"SELECT pos, t_req, http_method, rpc_method, req_sid, {header}, {mark}, {issued} FROM m WHERE pos IN ({firsts})")}
        out = []
        for kind, plane, _, first, n, statuses, steps, errors in rows:
            t, http_method, method, session, header_, mark_, issued_ = shown[first]
            if kind == "gap":
                out.append({"kind": "gap", "plane": plane, "t": t, "steps": int(steps), "requests": int(n), "errors": int(errors)})
                continue
            counts = dict(statuses)
            out.append({"kind": "run", "plane": plane, "t": t, "http_method": http_method, "method": method, "session": session,
                        "header": header_, "mark": mark_, "issued": issued_, "count": n,
                        "statuses": {_status_key(st): counts[st] for st in sorted(counts)}})
        return out
