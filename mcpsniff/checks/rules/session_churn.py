"""Client opens many short sessions and never closes them."""

from __future__ import annotations

from ...model import Model
from ..rule import HS, NOTHING, Rule, SM, Selection, T, hdr, per_version

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 60

RULE = Rule(
    id="session-churn",
    severity="warning",
    title="Client opens many short sessions and never closes them",
    explanation=(
        "The same client (plane) initialized many sessions with one server, used each for at "
        "most one unit of work (one call, read or prompt: initialized, the GET stream, lists "
        "and pings are bookkeeping) and never terminated any of them with DELETE. Every orphaned "
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
    detail="{count} sessions used for at most one unit of work each ({median} requests in the median one) and never closed with DELETE, of {issued} issued",
)


CHURN_MIN = 5  # sessions used for one unit of work and never closed, on one server, before a plane churns


def check(m: Model) -> Selection:
    # a session abandoned after at most one unit of work (a call, a read, a prompt: not the
    # bookkeeping of initialized, GET streams, lists and pings), never closed with DELETE and never
    # ended by the server; a plane churns when most of its sessions with one server are such
    orphan = "(work <= 1 AND NOT closed AND ended_by IS NULL)"
    churned = f"""SELECT pos FROM sessions WHERE {orphan} AND (plane, endpoint) IN (
            SELECT (plane, endpoint) FROM sessions GROUP BY plane, endpoint
            HAVING count(*) FILTER ({orphan}) >= {CHURN_MIN} AND count(*) FILTER ({orphan}) * 2 >= count(*))"""
    if not m.value(f"SELECT count(*) FROM ({churned})"):
        return NOTHING
    return Selection(f"pos IN ({churned})", {
        "issued": "(SELECT count(*) FROM sessions u WHERE u.plane = s.plane)",
        "median": "median((SELECT uses FROM sessions u WHERE u.pos = s.pos))::DOUBLE",
    })
