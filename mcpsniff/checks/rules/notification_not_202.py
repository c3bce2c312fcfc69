"""Server accepted a notification/response POST without 202 Accepted."""

from __future__ import annotations

from ...model import Model
from ...model.sql import OK
from ..rule import HS, M_SEND, Rule, SEND, SH, Selection, T, cite

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 160

RULE = Rule(
    id="notification-not-202",
    severity="error",
    title="Server accepted a notification/response POST without 202 Accepted",
    explanation=(
        "The POST body held only JSON-RPC notifications or responses, and the server "
        "accepted it with a 2xx status other than 202, or with 202 and a body. The spec "
        "requires exactly 202 Accepted with no body when such input is accepted (an error "
        "status when it is not). Clients that wait for or parse a body here can hang or "
        "misreport errors."
    ),
    eras=("handshake", "modern"),
    versions=HS[::-1] + ("2026-07-28",),
    citations=(
        cite("2026-07-28", SH, M_SEND, "sending-messages",
             "If the body is a JSON-RPC notification: If the server accepts it, the server "
             "MUST return HTTP status code 202 Accepted with no body."),
        cite("2025-11-25", T, SEND, "sending-messages-to-the-server",
             "If the input is a JSON-RPC response or notification: If the server accepts "
             "the input, the server MUST return HTTP status code 202 Accepted with no body."),
        cite("2025-06-18", T, SEND, "sending-messages-to-the-server",
             "If the input is a JSON-RPC response or notification: If the server accepts "
             "the input, the server MUST return HTTP status code 202 Accepted with no body."),
        cite("2025-03-26", T, SEND, "sending-messages-to-the-server",
             "If the input consists solely of (any number of) JSON-RPC responses or "
             "notifications: If the server accepts the input, the server MUST return HTTP "
             "status code 202 Accepted with no body."),
    ),
    party="server",
    detail="answered {answers}",
)


def check(m: Model) -> Selection:
    answer = "(status::VARCHAR || CASE WHEN resp_size > 0 THEN ' with a body' ELSE '' END)"
    return Selection(
        f"http_method = 'POST' AND notif_only AND NOT req_trunc AND {OK} AND (status <> 202 OR resp_size > 0)",
        {"answers": f"list(DISTINCT {answer} ORDER BY {answer})"})
