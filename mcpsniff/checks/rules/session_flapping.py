"""Server refused a session as ended or unknown and later served it again."""

from __future__ import annotations

from ...model import Model
from ...model.sql import OK
from ..rule import ENDED_SESSION_404, HS, Rule, Selection

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 100

RULE = Rule(
    id="session-flapping",
    severity="error",
    title="Server refused a session as ended or unknown and later served it again",
    explanation=(
        "The server answered a request carrying this session id with 404 Not Found (or with "
        "a 4xx whose message says the session is unknown, e.g. 'initialize first'), which "
        "says the session is terminated, and later answered a request with the same id "
        "with success. A terminated session must stay terminated. This is the signature "
        "of sessions held in one server instance's memory behind a load balancer without "
        "session affinity: requests that land on another instance get 404. Share session "
        "state between instances or route by Mcp-Session-Id."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=ENDED_SESSION_404,
    party="server",
    detail="{count} requests served with 2xx after their session ({ids} ids) was refused as ended or unknown",
)


def check(m: Model) -> Selection:
    return Selection(f"ended = 'refused' AND {OK} AND NOT gone AND rpc_method IS DISTINCT FROM 'initialize'",
                     {"ids": "count(DISTINCT req_sid)"})
