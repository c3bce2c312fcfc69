"""Server sent an Mcp-Session-Id outside a successful initialize response."""

from __future__ import annotations

from ...model import Model
from ...model.sql import OK, SID
from ..rule import HS, Rule, SM, Selection, T, hdr, per_version
from ..shared import listed

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 70

RULE = Rule(
    id="session-id-outside-initialize",
    severity="info",
    title="Server sent an Mcp-Session-Id outside a successful initialize response",
    explanation=(
        "A response that is not the successful InitializeResult carries an Mcp-Session-Id "
        "other than the one the request already used: a fresh id minted on every response, "
        "or an id attached to an error (a 400 to a request without a session header). The "
        "spec assigns session ids only at initialization, so such an id belongs to no "
        "session; a client that adopts it sends a session id the server never issued and "
        "is refused. mcpsniff never counts these ids as issued sessions. Send "
        "Mcp-Session-Id only on the initialize response (repeating the request's own id is "
        "harmless)."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=per_version(
        HS, T, SM, "session-management",
        {v: "A server using the Streamable HTTP transport MAY assign a session ID at "
            f"initialization time, by including it in an {hdr(v)} header on the HTTP "
            "response containing the InitializeResult." for v in HS},
    ),
    party="server",
    detail="{count} responses carried {ids} session ids no initialize issued (statuses {statuses})",
)


def check(m: Model) -> Selection:
    return Selection(
        # a response repeating its own session's id (the one the request carried, or its scope's
        # session when the request lacked it) issues nothing new
        f"resp_sid IS NOT NULL AND NOT coalesce(rpc_method = 'initialize' AND {OK}, false) AND resp_sid IS DISTINCT FROM req_sid "
        f"AND resp_sid IS DISTINCT FROM {SID}",
        {"ids": "count(DISTINCT resp_sid)", "statuses": listed("status::VARCHAR")})
