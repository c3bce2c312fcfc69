"""Client sent requests for server features the server did not declare."""

from __future__ import annotations

from ...model import Model, facts
from ..rule import HS, NEGOTIATED_CAPABILITIES, Rule, Selection
from ..shared import flagged

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 440

RULE = Rule(
    id="capability-not-declared-client",
    severity="error",
    title="Client sent requests for server features the server did not declare",
    explanation=(
        "The client sent tools/*, prompts/*, resources/*, logging/setLevel or completion/complete "
        "in a session whose initialize result did not declare tools, prompts, resources, logging or "
        "completions, and the server did not serve it (an error, often -32601, method not found, or "
        "no answer). A request the server answered with a result is not counted: the server offers "
        "the feature and should declare it. Check the server's capabilities before calling."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(NEGOTIATED_CAPABILITIES,),
    party="client",
    detail="undeclared: {what}",
)


def check(m: Model) -> Selection:
    return flagged(m, facts.CLIENT_UNDECLARED)
