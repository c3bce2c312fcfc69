"""Checks of the handshake era's session rules (Mcp-Session-Id)."""

from __future__ import annotations

from ..model import Model
from .engine import NOTHING, Selection, check, distinct, in_list

OK = Model.OK
CHURN_MIN = 5  # sessions used for one unit of work and never closed, on one server, before a plane churns
# 4xx statuses with a reason of their own (authentication, method, media type, size, rate)
EXPLAINED_4XX = (401, 403, 405, 406, 407, 408, 413, 415, 429)
VISIBLE_ASCII = "^[!-~]+$"


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
    # a request carrying an id the server had refused as unknown: a new initialize too, which MUST
    # be sent without a session id
    return Selection("ended = 'refused'")


@check("deleted-session-accepted")
def deleted_session_accepted(m: Model) -> Selection:
    # a new initialize still carrying the dead id opens a new session: the old one is not served again
    return Selection(f"ended = 'deleted' AND {OK} AND NOT gone AND rpc_method IS DISTINCT FROM 'initialize'")


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
    # a session abandoned after at most one unit of work (a call, a read, a prompt: not the
    # bookkeeping of initialized, GET streams, lists and pings), never closed with DELETE and never
    # ended by the server; a plane churns when most of its sessions with one server are such
    orphan = "(work <= 1 AND NOT closed AND ended_by IS NULL)"
    churned = f"""SELECT pos FROM sessions WHERE {orphan} AND (plane, endpoint) IN (
            SELECT (plane, endpoint) FROM sessions GROUP BY plane, endpoint
            HAVING count(*) FILTER ({orphan}) >= {CHURN_MIN} AND count(*) FILTER ({orphan}) * 2 >= count(*))"""
    if not m.value(f"SELECT count(*) FROM ({churned})"):
        return NOTHING
    return Selection(f"pos IN ({churned})", {
        "issued": "(SELECT count(*) FROM sessions u WHERE u.plane = s.plane)",
        "median": "median((SELECT uses FROM sessions u WHERE u.pos = s.pos))::DOUBLE",
    })


@check("session-id-outside-initialize")
def session_id_outside_initialize(m: Model) -> Selection:
    return Selection(
        # a response repeating its own session's id (the one the request carried, or its scope's
        # session when the request lacked it) issues nothing new
        f"resp_sid IS NOT NULL AND NOT coalesce(rpc_method = 'initialize' AND {OK}, false) AND resp_sid IS DISTINCT FROM req_sid "
        "AND resp_sid IS DISTINCT FROM sid",
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
        # the id refused as unknown with another status than 404 (a 2xx carrying the JSON-RPC error
        # included), or a request with a deleted id refused with another status than 404
        "req_sid IS NOT NULL AND status >= 200 AND status <> 404 AND (gone OR (ended = 'deleted' AND status >= 300))",
        {"answers": f"list_slice({_list(answer)}, 1, 3)"})


@check("session-flapping")
def session_flapping(m: Model) -> Selection:
    return Selection(f"ended = 'refused' AND {OK} AND NOT gone AND rpc_method IS DISTINCT FROM 'initialize'",
                     {"ids": "count(DISTINCT req_sid)"})


@check("session-header-duplicated")
def session_header_duplicated(m: Model) -> Selection:
    return Selection("resp_sid_n > 1", {"copies": "max(resp_sid_n)"})
