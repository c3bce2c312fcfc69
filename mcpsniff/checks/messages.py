"""Checks of Streamable HTTP message framing: Accept, 202 for notifications, batches, GET streams."""

from __future__ import annotations

from ..mcp import EVENT_STREAM
from ..model import Model
from .engine import Selection, check, matching

OK = Model.OK


def _lists(media: str):
    return lambda accept: media in [p.split(";", 1)[0].strip().lower() for p in str(accept).split(",")]


@check("accept-header-incomplete")
def accept_header_incomplete(m: Model) -> Selection:
    has_json = matching(m, "accept", _lists("application/json"))
    has_sse = matching(m, "accept", _lists(EVENT_STREAM))
    post_bad = f"http_method = 'POST' AND NOT (coalesce({has_json}, false) AND coalesce({has_sse}, false))"
    get_bad = f"era = 'handshake' AND http_method = 'GET' AND NOT coalesce({has_sse}, false)"
    return Selection(f"({post_bad}) OR ({get_bad})", {
        "accepts": "list_slice(list(DISTINCT coalesce(accept, '(none)') ORDER BY coalesce(accept, '(none)')), 1, 3)"})


@check("notification-not-202")
def notification_not_202(m: Model) -> Selection:
    answer = "(status::VARCHAR || CASE WHEN resp_size > 0 THEN ' with a body' ELSE '' END)"
    return Selection(
        f"http_method = 'POST' AND notif_only AND NOT req_trunc AND {OK} AND (status <> 202 OR resp_size > 0)",
        {"answers": f"list(DISTINCT {answer} ORDER BY {answer})"})


@check("batch-not-allowed")
def batch_not_allowed(m: Model) -> Selection:
    return Selection("batch")


@check("get-stream-response")
def get_stream_response(m: Model) -> Selection:
    return Selection("http_method = 'GET' AND last_event_id IS NULL AND get_responses > 0",
                     {"responses": "sum(get_responses)::BIGINT"})


# 4xx/5xx answers to a GET whose reason lies elsewhere: authentication, the Accept header (the
# client's finding), rate limits, and the gateway / availability errors of requests-refused
GET_EXPLAINED = (401, 403, 406, 407, 408, 429, 502, 503, 504)


@check("get-wrong-status")
def get_wrong_status(m: Model) -> Selection:
    explained = ", ".join(map(str, GET_EXPLAINED))
    # the session rules explain a 400 to a GET without a session id where the server issued
    # sessions, and the refusal of a dead or unknown id
    session_explains = "(why IN ('missing-session', 'session-refused', 'after-end') OR (status = 404 AND req_sid IS NOT NULL))"
    stream = f"(ctype IS NOT DISTINCT FROM '{EVENT_STREAM}' AND {OK})"
    answer = "(status::VARCHAR || coalesce(' ' || ctype, ''))"
    return Selection(
        f"http_method = 'GET' AND era = 'handshake' AND status >= 200 AND NOT status BETWEEN 300 AND 399 AND NOT {stream} "
        f"AND status <> 405 AND status NOT IN ({explained}) AND NOT {session_explains}",
        {"answers": f"list_slice(list(DISTINCT {answer} ORDER BY {answer}), 1, 3)"})
