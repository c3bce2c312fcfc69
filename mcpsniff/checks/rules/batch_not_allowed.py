"""Client sent a JSON-RPC batch the negotiated version does not allow."""

from __future__ import annotations

from ...model import Model
from ..rule import M_SEND, PV, Rule, SEND, SH, Selection, T, cite, per_version

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 170

RULE = Rule(
    id="batch-not-allowed",
    severity="error",
    title="Client sent a JSON-RPC batch the negotiated version does not allow",
    explanation=(
        "The POST body is a JSON array (a JSON-RPC batch), but batching exists only in "
        "protocol version 2025-03-26; from 2025-06-18 on the body must be a single "
        "JSON-RPC message. A server of the negotiated version may reject or misread the "
        "array. Send each message as its own POST."
    ),
    eras=("handshake", "modern"),
    versions=("2025-06-18", "2025-11-25", "2026-07-28"),
    citations=(
        cite("2026-07-28", SH, M_SEND, "sending-messages",
             "The body of the HTTP POST MUST be a single JSON-RPC request or notification."),
    ) + per_version(
        PV, T, SEND, "sending-messages-to-the-server",
        {v: "The body of the POST request MUST be a single JSON-RPC request, notification, "
            "or response." for v in PV},
    ),
    party="client",
    detail="{count} JSON array (batch) bodies",
    since="2025-06-18",
)


def check(m: Model) -> Selection:
    return Selection("batch")
