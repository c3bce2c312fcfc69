"""Client probed for the legacy HTTP+SSE transport."""

from __future__ import annotations

from ...mcp import ERAS
from ...model import Model
from ..rule import BC, Rule, SH, Selection, T, cite

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 300

RULE = Rule(
    id="era-probe",
    severity="info",
    title="Client probed for the legacy HTTP+SSE transport",
    explanation=(
        "The client POSTed to the server URL, got 400, 404 or 405, and then opened a GET "
        "expecting an SSE stream with an endpoint event. This is the documented fallback "
        "of a client that supports both the Streamable HTTP and the 2024-11-05 HTTP+SSE "
        "transports, not an error. (2025-03-26 and 2025-06-18 allow the fallback on any "
        "4xx.)"
    ),
    eras=ERAS,
    versions=("2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"),
    citations=(
        cite("2026-07-28", SH, "Backward Compatibility / HTTP+SSE Transport (2024-11-05)",
             "backward-compatibility",
             "If it fails with HTTP status code 400 Bad Request, 404 Not Found, or 405 "
             "Method Not Allowed and the response body is not a recognized modern JSON-RPC "
             "error (a modern server returns one for unsupported version, unknown method, "
             "or header-validation failure): Issue a GET request to the server URL, "
             "expecting that this will open an SSE stream and return an endpoint event as "
             "the first event."),
        cite("2025-11-25", T, BC, "backwards-compatibility",
             'If it fails with the following HTTP status codes "400 Bad Request", "404 Not '
             'Found" or "405 Method Not Allowed": Issue a GET request to the server URL, '
             "expecting that this will open an SSE stream and return an endpoint event as "
             "the first event."),
        cite("2025-06-18", T, BC, "backwards-compatibility",
             "If it fails with an HTTP 4xx status code (e.g., 405 Method Not Allowed or 404 "
             "Not Found): Issue a GET request to the server URL, expecting that this will "
             "open an SSE stream and return an endpoint event as the first event."),
        cite("2025-03-26", T, BC, "backwards-compatibility",
             "If it fails with an HTTP 4xx status code (e.g., 405 Method Not Allowed or 404 "
             "Not Found): Issue a GET request to the server URL, expecting that this will "
             "open an SSE stream and return an endpoint event as the first event."),
    ),
    party="client",
    detail="POST initialize refused, then legacy SSE",
)


def check(m: Model) -> Selection:
    return Selection("era = 'probe'")
