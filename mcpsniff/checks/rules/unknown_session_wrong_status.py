"""Server answered a request with an ended or unknown session id with something other than 404."""

from __future__ import annotations

from ...model import Model
from ..rule import ENDED_SESSION_404, HS, Rule, Selection
from ..shared import listed

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 90

RULE = Rule(
    id="unknown-session-wrong-status",
    severity="error",
    title="Server answered a request with an ended or unknown session id with something other than 404",
    explanation=(
        "A request carried a session id the server no longer honours (the client had "
        "terminated it with an accepted DELETE, or the server's own answer says the session "
        "is unknown, invalid or expired, e.g. after a restart), and the server answered "
        "with a status other than 404 Not Found, such as 400 'No valid session ID "
        "provided'. Only 404 tells the client to start a new session; other answers leave "
        "it retrying a dead id. Answer 404 for every session id you do not (or no longer) "
        "know."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=ENDED_SESSION_404,
    party="server",
    detail="{count} requests with an ended or unknown session id answered {answers:semicolons}",
)


def check(m: Model) -> Selection:
    answer = "(status::VARCHAR || coalesce(' ' || resp_msg, ''))"
    return Selection(
        # the id refused as unknown with another status than 404 (a 2xx carrying the JSON-RPC error
        # included), or a request with a deleted id refused with another status than 404
        "req_sid IS NOT NULL AND status >= 200 AND status <> 404 AND (gone OR (ended = 'deleted' AND status >= 300))",
        {"answers": f"list_slice({listed(answer)}, 1, 3)"})
