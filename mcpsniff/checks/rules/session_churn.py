"""Client opens many short sessions and never closes them."""

from __future__ import annotations

from ...model import Model
from ...model.facts import SESSION_USE, table
from ..rule import HS, NOTHING, Rule, SM, Selection, T, hdr, per_version

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 60

RULE = Rule(
    id="session-churn",
    severity="warning",
    title="Client opens many short sessions and never closes them",
    explanation=(
        "The same client (plane) initialized many sessions with one server, used each for "
        "only a few requests and never terminated any of them with DELETE. Every orphaned "
        "session holds server state until it expires, and state learned at initialize is "
        "lost on every new session (ChatGPT's connector did this for every batch of tool "
        "calls). Reuse a session while it is valid, and send DELETE with its id when it is "
        "no longer needed. A few well-used sessions, or sessions closed with DELETE, are "
        "not churn."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=per_version(
        HS, T, SM, "session-management",
        {v: "Clients that no longer need a particular session (e.g., because the user is "
            "leaving the client application) SHOULD send an HTTP DELETE to the MCP endpoint "
            f"with the {hdr(v)} header, to explicitly terminate the session." for v in HS},
    ),
    party="client",
    detail="{count} sessions used for at most 3 requests each (median {median}) and never closed with DELETE, of {issued} issued",
)


CHURN_MIN = 5  # short, never-closed sessions on one server before a plane is said to churn
SHORT_SESSION = 3  # follow-up requests a session may have and still count as short

def check(m: Model) -> Selection:
    use = table(m, SESSION_USE)
    if use is None:
        return NOTHING
    orphan = f"(uses <= {SHORT_SESSION} AND NOT closed)"
    churned = f"""SELECT pos FROM {use} WHERE {orphan} AND (plane, endpoint) IN (
            SELECT (plane, endpoint) FROM {use} GROUP BY plane, endpoint
            HAVING count(*) FILTER ({orphan}) >= {CHURN_MIN} AND count(*) FILTER ({orphan}) * 2 >= count(*))"""
    if not m.value(f"SELECT count(*) FROM ({churned})"):
        return NOTHING
    return Selection(f"pos IN ({churned})", {
        "issued": f"(SELECT count(*) FROM {use} u WHERE u.plane = s.plane)",
        "median": f"median((SELECT uses FROM {use} u WHERE u.pos = s.pos))::DOUBLE",
    })
