"""Exchange never received a response."""

from __future__ import annotations

from ...mcp import ERAS, VERSION_ERAS
from ...model import Model
from ...model.sql import MCP, NO_RESPONSE
from ..rule import M_SEND, Rule, SEND, SH, Selection, T, cite
from ..shared import top_answers

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 280

RULE = Rule(
    id="no-response",
    severity="info",
    title="Exchange never received a response",
    explanation=(
        "The HTTP exchange ended before any response came from the server, or its SSE stream "
        "ended without the JSON-RPC response and without an event id the client could resume "
        "from. An exchange the client abandoned (it disconnected before the answer) or that "
        "was in flight when the capture stopped is not counted: that is not the server's "
        "missing response. Disconnections may happen at any time, so this is not a violation "
        "by itself; rules that need the response are not applied to this exchange."
    ),
    eras=ERAS,
    versions=tuple(VERSION_ERAS),
    citations=(
        cite("2026-07-28", SH, M_SEND, "sending-messages",
             "If the body is a JSON-RPC request, the server MUST return either Content-Type: "
             "application/json (a single JSON object) or Content-Type: text/event-stream "
             "(an SSE response stream)."),
        cite("2025-11-25", T, SEND, "sending-messages-to-the-server",
             "The SSE stream SHOULD eventually include a JSON-RPC response for the JSON-RPC "
             "request sent in the POST body."),
        cite("2025-06-18", T, SEND, "sending-messages-to-the-server",
             "The SSE stream SHOULD eventually include JSON-RPC response for the JSON-RPC "
             "request sent in the POST body."),
        cite("2025-03-26", T, SEND, "sending-messages-to-the-server",
             "The SSE stream SHOULD eventually include one JSON-RPC response per each "
             "JSON-RPC request sent in the POST body."),
        cite("2024-11-05", T, "HTTP with SSE", "http-with-sse",
             "Server messages are sent as SSE message events, with the message content "
             "encoded as JSON in the event data."),
    ),
    party="server",
    detail="{errors:semicolons}",
)


def check(m: Model) -> Selection:
    return Selection(NO_RESPONSE, {
        "errors": "(SELECT list({'l': error, 'n': n, 'f': f}) FROM (SELECT error, count(*) AS n, min(pos) AS f FROM m m2 "
                  f"WHERE m2.plane = s.plane AND {NO_RESPONSE} AND {MCP} GROUP BY error))"},
        post=lambda v: {"errors": top_answers(v["errors"])})
