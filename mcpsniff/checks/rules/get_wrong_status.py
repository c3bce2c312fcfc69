"""Server answered a GET on the MCP endpoint with neither an event stream nor 405."""

from __future__ import annotations

from ...mcp import EVENT_STREAM
from ...model import Model
from ...model.sql import OK
from ..rule import HS, LISTEN, Rule, Selection, T, per_version

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 190

RULE = Rule(
    id="get-wrong-status",
    severity="error",
    title="Server answered a GET on the MCP endpoint with neither an event stream nor 405",
    explanation=(
        "The client opened the optional GET stream and the server answered with something "
        "other than text/event-stream or 405 Method Not Allowed, and no session rule "
        "explains it (a 400 to a GET lacking the issued session id, or a 404 to a GET "
        "with a dead one, are correct and not counted). Clients treat any other answer as "
        "a broken transport and reconnect in a loop (Cursor against a stateless server "
        "answering 400). A server without a GET stream must answer 405."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=per_version(
        HS, T, LISTEN, "listening-for-messages-from-the-server",
        {v: "The server MUST either return Content-Type: text/event-stream in response to "
            "this HTTP GET, or else return HTTP 405 Method Not Allowed, indicating that the "
            "server does not offer an SSE stream at this endpoint." for v in HS},
    ),
    party="server",
    detail="{count} GETs answered {answers:semicolons}",
)


# 4xx/5xx answers to a GET whose reason lies elsewhere: authentication, the Accept header (the
# client's finding), rate limits, and the gateway / availability errors a plane whose traffic
# mostly failed is reported for
GET_EXPLAINED = (401, 403, 406, 407, 408, 429, 502, 503, 504)


def check(m: Model) -> Selection:
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
