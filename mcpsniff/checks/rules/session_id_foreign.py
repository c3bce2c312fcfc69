"""A client uses a session id issued to another client."""

from __future__ import annotations

from ...model import Model
from ..rule import HS, Rule, Selection, SESSION_DEFINED
from ..shared import listed

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 270

RULE = Rule(
    id="session-id-foreign",
    severity="info",
    title="A client uses a session id issued to another client",
    explanation=(
        "Requests from one plane (User-Agent) carry a session id that the server issued in "
        "answer to another plane's initialize. A session is between one client and the "
        "server, so this points to shared state between two client components, or to a "
        "proxy rewriting traffic; it is worth a look but is not by itself a violation."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=SESSION_DEFINED,
    party="client",
    detail="ids issued to: {planes}",
)


def check(m: Model) -> Selection:
    return Selection("echo = 'foreign'", {"planes": listed("sid_issued_to")})
