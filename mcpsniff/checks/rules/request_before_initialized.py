"""Client sent requests before its initialized notification."""

from __future__ import annotations

from ...model import Model, facts
from ..rule import HS, Rule, Selection, cite
from ..shared import flagged

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 450

RULE = Rule(
    id="request-before-initialized",
    severity="warning",
    title="Client sent requests before its initialized notification",
    explanation=(
        "After initialize, the client sent requests other than ping before it sent "
        "notifications/initialized, or never sent it in that session. A server may refuse or "
        "delay work until the client said it is ready. Send notifications/initialized right "
        "after the initialize result."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(
        cite("2025-06-18", "basic/lifecycle", "Lifecycle / Initialization", "initialization",
             "After successful initialization, the client MUST send an initialized notification to "
             "indicate it is ready to begin normal operations: … The server SHOULD NOT send requests "
             "other than pings and logging before receiving the initialized notification."),
    ),
    party="client",
    detail="before notifications/initialized: {what}",
)


def check(m: Model) -> Selection:
    return flagged(m, facts.BEFORE_INITIALIZED)
