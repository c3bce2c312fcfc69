"""Client reused a request id within a session."""

from __future__ import annotations

from ...model import Model, facts
from ..rule import HS, Rule, Selection, cite
from ..shared import flagged

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 480

RULE = Rule(
    id="duplicate-request-id",
    severity="error",
    title="Client reused a request id within a session",
    explanation=(
        "A request carries an id the client had already used in the same session for a request "
        "the server answered. The server, and anything correlating requests and responses, may "
        "take the answer for the older request. A resend of a request that got no answer is a "
        "retry and is not counted; sessions whose start was not captured are not judged. Use a "
        "fresh id for every request of a session."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(
        cite("2025-06-18", "basic/index", "Messages / Requests", "requests",
             "Requests MUST include a string or integer ID. Unlike base JSON-RPC, the ID MUST NOT be "
             "null. The request ID MUST NOT have been previously used by the requestor within the "
             "same session."),
    ),
    party="client",
    detail="reused: {what}",
)


def check(m: Model) -> Selection:
    return flagged(m, facts.DUPLICATE_REQUEST_ID)
