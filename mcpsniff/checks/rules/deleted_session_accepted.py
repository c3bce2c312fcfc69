"""Server still served a session after accepting its DELETE."""

from __future__ import annotations

from ...model import Model
from ...model.sql import OK
from ..rule import ENDED_SESSION_404, HS, Rule, Selection

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 40

RULE = Rule(
    id="deleted-session-accepted",
    severity="error",
    title="Server still served a session after accepting its DELETE",
    explanation=(
        "The client terminated the session with an HTTP DELETE that the server accepted "
        "(2xx), yet the server later answered a request carrying the same session id with "
        "a success status instead of 404 Not Found. Once a session is terminated the "
        "server must answer 404 for it; a server that cannot honour DELETE should answer "
        "the DELETE with 405 instead."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=ENDED_SESSION_404,
    party="server",
    detail="{count} requests answered 2xx after their session was deleted",
)


def check(m: Model) -> Selection:
    # a new initialize still carrying the dead id opens a new session: the old one is not served
    # again; a 2xx whose JSON-RPC error refuses the id is no acceptance
    return Selection(f"ended = 'deleted' AND {OK} AND NOT gone AND rpc_method IS DISTINCT FROM 'initialize'")
