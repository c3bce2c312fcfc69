"""Client carried on with a protocol version newer than it asked for."""

from __future__ import annotations

from ...model import Model, facts
from ..rule import HS, Rule, Selection, cite
from ..shared import flagged

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 490

RULE = Rule(
    id="version-not-offered",
    severity="warning",
    title="Client carried on with a protocol version newer than it asked for",
    explanation=(
        "The initialize result named a protocolVersion newer than the one the client asked for "
        "(a client asks for the latest it supports), and the client went on using the session "
        "instead of disconnecting. Both sides then speak different versions of the protocol. "
        "Disconnect when the server answers with a version the client does not support."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(
        cite("2025-06-18", "basic/lifecycle", "Lifecycle / Version Negotiation", "version-negotiation",
             "In the initialize request, the client MUST send a protocol version it supports. This "
             "SHOULD be the latest version supported by the client. … If the client does not support "
             "the version in the server's response, it SHOULD disconnect."),
    ),
    party="client",
    detail="{what}",
)


def check(m: Model) -> Selection:
    return flagged(m, facts.VERSION_NOT_OFFERED)
