"""Requests carry a session id whose issue was not captured."""

from __future__ import annotations

from ...model import Model
from ..rule import HS, Rule, Selection, SESSION_DEFINED
from . import session_header_duplicated, session_id_outside_initialize

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 260

RULE = Rule(
    id="session-id-unknown",
    severity="info",
    title="Requests carry a session id whose issue was not captured",
    explanation=(
        "Requests carry an Mcp-Session-Id that no captured initialize response issued. "
        "This usually means the capture started mid-session (or the initialize went "
        "through another path), so session rules for this id are judged only from what "
        "was seen. It is not a violation by itself."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=SESSION_DEFINED,
    party="client",
    detail="{ids} session ids never seen issued",
    likely_causes=(session_id_outside_initialize.RULE.id, session_header_duplicated.RULE.id),
)


def check(m: Model) -> Selection:
    return Selection("echo = 'unknown'", {"ids": "count(DISTINCT req_sid)"})
