"""Client's Accept header lacks a required media type."""

from __future__ import annotations

from ...mcp import EVENT_STREAM
from ...model import Model
from ..rule import HS, LISTEN, M_SEND, Rule, SEND, SH, Selection, T, cite, per_version
from ..shared import matching

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 150

RULE = Rule(
    id="accept-header-incomplete",
    severity="error",
    title="Client's Accept header lacks a required media type",
    explanation=(
        "A POST to the MCP endpoint did not list both application/json and "
        "text/event-stream in its Accept header, or a GET did not list text/event-stream. "
        "The server chooses per request between a JSON body and an SSE stream, so a client "
        "that does not accept both may be refused (often 406) or fail to read the reply. "
        "Send 'Accept: application/json, text/event-stream' on every POST."
    ),
    eras=("handshake", "modern"),
    versions=HS[::-1] + ("2026-07-28",),
    citations=(
        cite("2026-07-28", SH, M_SEND, "sending-messages",
             "The client MUST include an Accept header listing both application/json and "
             "text/event-stream as supported content types."),
    ) + per_version(
        HS, T, SEND + " (POST); " + LISTEN + " (GET)",
        "sending-messages-to-the-server",
        {v: "The client MUST include an Accept header, listing both application/json and "
            "text/event-stream as supported content types. … The client MUST include an "
            "Accept header, listing text/event-stream as a supported content type."
         for v in HS},
    ),
    party="client",
    detail="Accept seen: {accepts:semicolons}",
)


def lists(media: str):
    """A test of an Accept value: does it list ``media``?"""
    return lambda accept: media in [p.split(";", 1)[0].strip().lower() for p in str(accept).split(",")]


def check(m: Model) -> Selection:
    has_json = matching(m, "accept", lists("application/json"))
    has_sse = matching(m, "accept", lists(EVENT_STREAM))
    post_bad = f"http_method = 'POST' AND NOT (coalesce({has_json}, false) AND coalesce({has_sse}, false))"
    get_bad = f"era = 'handshake' AND http_method = 'GET' AND NOT coalesce({has_sse}, false)"
    return Selection(f"({post_bad}) OR ({get_bad})", {
        "accepts": "list_slice(list(DISTINCT coalesce(accept, '(none)') ORDER BY coalesce(accept, '(none)')), 1, 3)"})
