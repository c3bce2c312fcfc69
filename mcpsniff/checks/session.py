"""Checks of the handshake era's session rules (Mcp-Session-Id)."""

from __future__ import annotations

from ..model import Model
from .engine import NOTHING, Selection, check, distinct, in_list

OK = Model.OK
# what servers say when they do not (or no longer) know a session id: "No valid session ID provided"
# (Python SDK before 1.24), "Session not found", "Invalid or expired session ID", "initialize first,
# then send mcp-session-id" (a load-balanced server whose instance never saw the session)
UNKNOWN_SESSION_WORDS = (
    r"(?i)session.{0,40}(unknown|invalid|expired|not found|no valid|terminated|does not exist|not exist|closed)"
    r"|(unknown|invalid|expired|no valid|no such|terminated) session|initiali[sz]e first"
)
SAYS_UNKNOWN = f"coalesce(regexp_matches(resp_msg, '{UNKNOWN_SESSION_WORDS}'), false)"
#: requests carrying a session id the server refused as ended or unknown: 404, or a 4xx saying so
SESSION_REFUSED = f"(req_sid IS NOT NULL AND (status = 404 OR (status BETWEEN 400 AND 499 AND {SAYS_UNKNOWN})))"
CHURN_MIN = 5  # short, never-closed sessions on one server before a plane is said to churn
SHORT_SESSION = 3  # follow-up requests a session may have and still count as short
# 4xx statuses with a reason of their own (authentication, method, media type, size, rate)
EXPLAINED_4XX = (401, 403, 405, 406, 407, 408, 413, 415, 429)
VISIBLE_ASCII = "^[!-~]+$"
#: requests that ended their session: a DELETE the server accepted
DELETED = f"http_method = 'DELETE' AND {OK}"


def _later_than(m: Model, key: str, where: str) -> str:
    """Requests carrying a session id after the first response to a request with that id matching
    ``where`` (those times kept in the temporary table ``key``). FALSE when no request matches: a rule
    whose condition is FALSE costs no scan of the exchanges (at 1M exchanges ~0.2 s each; much
    traffic has no 404s or refusals, and clients that never close their sessions send no DELETE)."""
    def make() -> str:
        m.con.execute(f"""CREATE OR REPLACE TEMP TABLE {key} AS
            SELECT req_sid AS sid, min(coalesce(t_resp, t_end)) AS t FROM m WHERE {where} AND req_sid IS NOT NULL GROUP BY req_sid""")
        if not m.value(f"SELECT count(*) FROM {key}"):
            return "FALSE"
        return f"(req_sid IS NOT NULL AND EXISTS (SELECT 1 FROM {key} d WHERE d.sid = m.req_sid AND m.t_req > d.t))"
    return m.memo(key, make)


def _list(col: str) -> str:
    return f"list(DISTINCT {col} ORDER BY {col})"


@check("session-id-dropped")
def session_id_dropped(m: Model) -> Selection:
    return Selection("echo = 'dropped'", {
        "total": "(SELECT count(*) FROM m m2 WHERE m2.plane = s.plane AND m2.echo IN ('echoed', 'dropped'))"})


@check("missing-session-accepted")
def missing_session_accepted(m: Model) -> Selection:
    return Selection(f"echo = 'dropped' AND {OK}", {"statuses": _list("status::VARCHAR")})


@check("no-reinit-after-404")
def no_reinit_after_404(m: Model) -> Selection:
    return Selection(_later_than(m, "dead404", "status = 404"))


@check("deleted-session-accepted")
def deleted_session_accepted(m: Model) -> Selection:
    return Selection(f"{_later_than(m, 'deleted_ok', DELETED)} AND {OK}")


@check("session-id-invalid-chars")
def session_id_invalid_chars(m: Model) -> Selection:
    bad = f"SELECT pos FROM sessions WHERE NOT regexp_matches(sid, '{VISIBLE_ASCII}')"
    return Selection(f"pos IN ({bad})" if m.value(f"SELECT count(*) FROM ({bad})") else "FALSE")


@check("session-id-unknown")
def session_id_unknown(m: Model) -> Selection:
    return Selection("echo = 'unknown'", {"ids": "count(DISTINCT req_sid)"})


@check("session-id-foreign")
def session_id_foreign(m: Model) -> Selection:
    return Selection("echo = 'foreign'", {"planes": _list("sid_issued_to")})


# ---------------------------------------------------------------- what servers do with session ids


@check("session-churn")
def session_churn(m: Model) -> Selection:
    if not m.value("SELECT count(*) FROM sessions"):
        return NOTHING
    m.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE session_use AS
        WITH used AS (
          SELECT req_sid AS sid, count(*) FILTER (http_method <> 'DELETE') AS uses,
                 count(*) FILTER (http_method = 'DELETE') > 0 AS closed
          FROM m WHERE req_sid IN (SELECT sid FROM sessions) GROUP BY req_sid)
        SELECT s.sid, s.plane, s.endpoint, s.pos, coalesce(u.uses, 0) AS uses, coalesce(u.closed, false) AS closed,
               coalesce(u.uses, 0) <= {SHORT_SESSION} AND NOT coalesce(u.closed, false) AS orphan
        FROM sessions s LEFT JOIN used u USING (sid)""")
    churned = f"""SELECT pos FROM session_use WHERE orphan AND (plane, endpoint) IN (
            SELECT (plane, endpoint) FROM session_use GROUP BY plane, endpoint
            HAVING count(*) FILTER (orphan) >= {CHURN_MIN} AND count(*) FILTER (orphan) * 2 >= count(*))"""
    if not m.value(f"SELECT count(*) FROM ({churned})"):
        return NOTHING
    return Selection(f"pos IN ({churned})", {
        "issued": "(SELECT count(*) FROM session_use u WHERE u.plane = s.plane)",
        "median": "median((SELECT uses FROM session_use u WHERE u.pos = s.pos))::DOUBLE",
    })


@check("session-id-outside-initialize")
def session_id_outside_initialize(m: Model) -> Selection:
    return Selection(
        f"resp_sid IS NOT NULL AND NOT coalesce(rpc_method = 'initialize' AND {OK}, false) AND resp_sid IS DISTINCT FROM req_sid",
        {"ids": "count(DISTINCT resp_sid)", "statuses": _list("status::VARCHAR")})


@check("missing-session-wrong-status")
def missing_session_wrong_status(m: Model) -> Selection:
    explained = ", ".join(map(str, EXPLAINED_4XX))
    return Selection(
        f"follow_up AND req_sid IS NULL AND endpoint IN {in_list(distinct(m, 'endpoint', table='sessions'))} "
        "AND status BETWEEN 400 AND 499 "
        f"AND status <> 400 AND status NOT IN ({explained})",
        {"statuses": _list("status::VARCHAR")})


@check("unknown-session-wrong-status")
def unknown_session_wrong_status(m: Model) -> Selection:
    answer = "(status::VARCHAR || coalesce(' ' || resp_msg, ''))"
    return Selection(
        f"req_sid IS NOT NULL AND status >= 300 AND status <> 404 AND ({SAYS_UNKNOWN} OR {_later_than(m, 'deleted_ok', DELETED)})",
        {"answers": f"list_slice({_list(answer)}, 1, 3)"})


@check("session-flapping")
def session_flapping(m: Model) -> Selection:
    return Selection(f"{_later_than(m, 'refused_sid', SESSION_REFUSED)} AND {OK}", {"ids": "count(DISTINCT req_sid)"})


@check("session-header-duplicated")
def session_header_duplicated(m: Model) -> Selection:
    return Selection("resp_sid_n > 1", {"copies": "max(resp_sid_n)"})
