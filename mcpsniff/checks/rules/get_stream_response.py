"""Server sent a JSON-RPC response on a GET SSE stream."""

from __future__ import annotations

from ...model import Model
from ..rule import HS, LISTEN, Rule, Selection, T, per_version

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 180

RULE = Rule(
    id="get-stream-response",
    severity="error",
    title="Server sent a JSON-RPC response on a GET SSE stream",
    explanation=(
        "On the SSE stream the client opened with GET (not a resumption: no Last-Event-ID), "
        "the server sent a JSON-RPC response. Responses belong on the stream or body of "
        "the POST that carried the request; a client that does not expect them on the GET "
        "stream may drop them and hang waiting for the reply."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=per_version(
        HS, T, LISTEN, "listening-for-messages-from-the-server",
        {v: "The server MUST NOT send a JSON-RPC response on the stream unless resuming a "
            "stream associated with a previous client request." for v in HS},
    ),
    party="server",
    detail="{responses} JSON-RPC responses on GET streams",
)


def check(m: Model) -> Selection:
    return Selection("http_method = 'GET' AND last_event_id IS NULL AND get_responses > 0",
                     {"responses": "sum(get_responses)::BIGINT"})
