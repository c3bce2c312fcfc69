"""Server sent requests for client capabilities the client did not declare."""

from __future__ import annotations

from ...model import Model, facts
from ..rule import HS, NEGOTIATED_CAPABILITIES, Rule, Selection
from ..shared import flagged

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 430

RULE = Rule(
    id="capability-not-declared-server",
    severity="error",
    title="Server sent requests for client capabilities the client did not declare",
    explanation=(
        "On a stream of the session (a POST's or the GET stream) the server sent "
        "sampling/createMessage, elicitation/create or roots/list to a client whose initialize "
        "request did not declare sampling, elicitation or roots. The client cannot serve the "
        "request and answers with an error, or never answers. Check the client's capabilities "
        "before asking."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(NEGOTIATED_CAPABILITIES,),
    party="server",
    detail="undeclared: {what}",
)


def check(m: Model) -> Selection:
    return flagged(m, facts.SERVER_UNDECLARED)
