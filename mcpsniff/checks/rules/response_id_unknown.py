"""Server sent a response whose id matches no request of the session."""

from __future__ import annotations

from ...model import Model, facts
from ..rule import HS, Rule, Selection, cite
from ..shared import flagged

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 460

RULE = Rule(
    id="response-id-unknown",
    severity="error",
    title="Server sent a response whose id matches no request of the session",
    explanation=(
        "A JSON-RPC response (in a POST's body or stream, or on the GET stream) carries an id that "
        "no request of its session carried. Ids compare as JSON values: the string \"1\" is not "
        "the number 1. A null id is for errors that could not read the request's id (parse error, "
        "invalid request) only. The client cannot match the response and its request waits "
        "forever. Echo the request's id exactly."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(
        cite("2025-06-18", "basic/index", "Messages / Responses", "responses",
             "Responses MUST include the same ID as the request they correspond to."),
    ),
    party="server",
    detail="{what}",
)


def check(m: Model) -> Selection:
    return flagged(m, facts.RESPONSE_ID_UNKNOWN)
