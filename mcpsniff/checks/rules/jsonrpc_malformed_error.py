"""Server sent a malformed JSON-RPC response."""

from __future__ import annotations

from ...model import Model
from ..rule import HS, Rule, Selection, cite

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 500

RULE = Rule(
    id="jsonrpc-malformed-error",
    severity="error",
    title="Server sent a malformed JSON-RPC response",
    explanation=(
        "A JSON-RPC response has an error that is not an object with an integer code and a string "
        "message (an error sent as a plain string, a code as text), or has both result and error, "
        "or neither. Clients' JSON-RPC layers reject such a message, and the request it answers "
        "fails with a parse error instead of the server's error. Send "
        "{\"code\": <integer>, \"message\": <string>} in error, and exactly one of result and error."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(
        cite("2025-06-18", "basic/index", "Messages / Responses", "responses",
             "Either a result or an error MUST be set. A response MUST NOT set both. Results MAY "
             "follow any JSON object structure, while errors MUST include an error code and message "
             "at minimum. Error codes MUST be integers."),
    ),
    party="server",
    detail="{what:semicolons}",
)


def check(m: Model) -> Selection:
    return Selection("rpc_malformed IS NOT NULL",
                     {"what": "list_slice(list(DISTINCT rpc_malformed ORDER BY rpc_malformed), 1, 3)"})
