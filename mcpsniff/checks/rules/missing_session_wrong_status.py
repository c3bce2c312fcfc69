"""Server answered a request without Mcp-Session-Id with a 4xx other than 400."""

from __future__ import annotations

from ...model import Model
from ...model.sql import in_list
from ..rule import HS, REQUIRE_SESSION_400, Rule, Selection
from ..shared import distinct, listed

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 80

RULE = Rule(
    id="missing-session-wrong-status",
    severity="warning",
    title="Server answered a request without Mcp-Session-Id with a 4xx other than 400",
    explanation=(
        "This server issues session ids, and it answered a non-initialize request that "
        "carried no Mcp-Session-Id with a client error other than 400 Bad Request (for "
        "example 421 Misdirected Request or 404). Clients read 404 as 'session expired, "
        "start again' and other codes as transport failures, so the missing header is "
        "never reported as such. Answer 400. (401, 403, 405, 406, 413, 415 and 429 have "
        "reasons of their own and are not counted.)"
    ),
    eras=("handshake",),
    versions=HS[::-1],
    citations=REQUIRE_SESSION_400,
    party="server",
    detail="{count} header-less requests answered {statuses} instead of 400",
)


# 4xx statuses with a reason of their own (authentication, method, media type, size, rate)
EXPLAINED_4XX = (401, 403, 405, 406, 407, 408, 413, 415, 429)


def check(m: Model) -> Selection:
    explained = ", ".join(map(str, EXPLAINED_4XX))
    return Selection(
        f"follow_up AND req_sid IS NULL AND endpoint IN {in_list(distinct(m, 'endpoint', table='sessions'))} "
        "AND status BETWEEN 400 AND 499 "
        f"AND status <> 400 AND status NOT IN ({explained})",
        {"statuses": listed("status::VARCHAR")})
