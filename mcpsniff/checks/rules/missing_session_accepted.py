"""Server answered a request without Mcp-Session-Id with 2xx instead of 400."""

from __future__ import annotations

from ...model import Model
from ...model.sql import OK
from ..rule import HS, REQUIRE_SESSION_400, Rule, Selection
from ..shared import listed

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 20

RULE = Rule(
    id="missing-session-accepted",
    severity="warning",
    title="Server answered a request without Mcp-Session-Id with 2xx instead of 400",
    explanation=(
        "This server issues session ids at initialize, yet it answered a non-initialize "
        "request that carried no Mcp-Session-Id with a success status instead of "
        "400 Bad Request. The spec's SHOULD applies to servers that require a session id; "
        "serving the request anyway hides client bugs such as a dropped session header "
        "and usually means a second, stateless code path. Reject session-less requests "
        "with 400, or stop issuing session ids."
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=REQUIRE_SESSION_400,
    party="server",
    detail="{count} header-less requests answered {statuses} instead of 400",
)


def check(m: Model) -> Selection:
    return Selection(f"echo = 'dropped' AND {OK}", {"statuses": listed("status::VARCHAR")})
