"""Server sent list_changed notifications it did not declare."""

from __future__ import annotations

from ...model import Model, facts
from ..rule import HS, NEGOTIATED_CAPABILITIES, Rule, Selection
from ..shared import flagged

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 420

RULE = Rule(
    id="list-changed-not-declared",
    severity="error",
    title="Server sent list_changed notifications it did not declare",
    explanation=(
        "The server sent notifications/tools/list_changed (or the prompts or resources one) in a "
        "session whose initialize result did not declare listChanged: true for that list. A client "
        "that did not negotiate the notification may ignore it or treat it as an error. Declare "
        "listChanged in the capability, or do not send the notification."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(NEGOTIATED_CAPABILITIES,),
    party="server",
    detail="undeclared: {what}",
)


def check(m: Model) -> Selection:
    return flagged(m, facts.LIST_CHANGED_UNDECLARED)
