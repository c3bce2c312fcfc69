"""Server answered one request twice."""

from __future__ import annotations

from ...model import Model, facts
from ..rule import HS, Rule, Selection, cite
from ..shared import flagged

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 470

RULE = Rule(
    id="request-answered-twice",
    severity="error",
    title="Server answered one request twice",
    explanation=(
        "Two JSON-RPC responses carry the id of one request of the session: in one response, or "
        "in two exchanges (a POST's stream and the GET stream). A replay on a resumed stream "
        "(Last-Event-ID) is not counted. A client that matched the first answer may take the "
        "second for another request or fail. Send one response per request."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=(
        cite("2025-06-18", "basic/index", "Messages / Responses", "responses",
             "Responses MUST include the same ID as the request they correspond to. Responses are "
             "further sub-categorized as either successful results or errors."),
    ),
    party="server",
    detail="answered again: {what}",
)


def check(m: Model) -> Selection:
    sel = flagged(m, facts.ANSWERED_TWICE)
    within = "rids_twice AND last_event_id IS NULL AND status BETWEEN 200 AND 299"
    if sel.where == "FALSE":
        return Selection(within, {"what": "list_slice(list(DISTINCT 'id ' || coalesce(rpc_id, '?')), 1, 3)"})
    return Selection(f"({within}) OR ({sel.where})", sel.values, sel.post)
