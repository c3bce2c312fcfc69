"""Client kept using a session id after the server answered 404."""

from __future__ import annotations

from ...model import Model
from ..rule import HS, Rule, SM, Selection, T, hdr, per_version
from . import session_flapping, session_header_duplicated

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 30

RULE = Rule(
    id="no-reinit-after-404",
    severity="error",
    title="Client kept using a session id after the server answered 404",
    explanation=(
        "The server answered 404 Not Found to a request carrying this session id (or said in "
        "a JSON-RPC error, whatever the status, that the session is unknown or expired), "
        "which means the session has ended, but the client sent further requests with the "
        "same id. The client must instead start a new session: a fresh initialize request "
        "without any session header (an initialize still carrying the dead id is counted "
        "too). Requests already in flight when the refusal arrived are not counted."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=per_version(
        HS, T, SM, "session-management",
        {v: f"When a client receives HTTP 404 in response to a request containing an "
            f"{hdr(v)}, it MUST start a new session by sending a new InitializeRequest "
            f"without a session ID attached." for v in HS},
    ),
    party="client",
    detail="{count} requests reused a session id after it was answered 404",
    likely_causes=(session_flapping.RULE.id, session_header_duplicated.RULE.id),
)


def check(m: Model) -> Selection:
    # a request carrying an id the server had refused as unknown (derive's lifecycle: ``ended``)
    return Selection("ended = 'refused'")
