"""Client dropped the Mcp-Session-Id header."""

from __future__ import annotations

from ...model import Model
from ..rule import HS, Rule, SM, Selection, T, hdr, per_version
from . import session_id_not_exposed

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 10

RULE = Rule(
    id="session-id-dropped",
    severity="error",
    title="Client dropped the Mcp-Session-Id header",
    explanation=(
        "The server issued an Mcp-Session-Id in its response to initialize, but a later "
        "request from the same client carries no Mcp-Session-Id header. The spec requires "
        "the id on every subsequent HTTP request (POST, GET, DELETE, including "
        "notifications/initialized), so the server can no longer tie the request to the "
        "session and either rejects it or serves it statelessly. Fix the client so every "
        "request after initialize repeats the issued id."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=per_version(
        HS, T, SM, "session-management",
        {v: f"If an {hdr(v)} is returned by the server during initialization, clients "
            f"using the Streamable HTTP transport MUST include it in the {hdr(v)} header "
            f"on all of their subsequent HTTP requests." for v in HS},
    ),
    party="client",
    detail="{count} of {total} requests after a session was issued lacked Mcp-Session-Id",
    likely_causes=(session_id_not_exposed.RULE.id,),
)


def check(m: Model) -> Selection:
    return Selection("echo = 'dropped'", {
        "total": "(SELECT count(*) FROM m m2 WHERE m2.plane = s.plane AND m2.echo IN ('echoed', 'dropped'))"})
