"""Client called a tool no tools/list result offered."""

from __future__ import annotations

from ...model import Model, facts
from ..rule import HS, Rule, Selection, cite
from ..shared import flagged

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 410

RULE = Rule(
    id="unknown-tool-called",
    severity="info",
    title="Client called a tool no tools/list result offered",
    explanation=(
        "A tools/call names a tool that no earlier tools/list result of that server offered, on "
        "any plane or session (a tool plane may rely on a list another plane fetched). The server "
        "answers such calls with an error. It is an observation, not a violation: the "
        "specification has clients discover tools with tools/list but does not forbid calling a "
        "name learnt elsewhere. Silent where no tools/list answer was captured or one was not read whole."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(
        cite("2025-06-18", "server/tools", "Tools / Listing Tools", "listing-tools",
             "To discover available tools, clients send a tools/list request."),
    ),
    party="client",
    detail="tools never listed: {what}",
)


def check(m: Model) -> Selection:
    return flagged(m, facts.UNKNOWN_TOOL)
