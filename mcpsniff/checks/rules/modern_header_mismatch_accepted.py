"""Server accepted a request whose metadata headers do not match the body."""

from __future__ import annotations

from ...model import Model
from ...model.sql import OK
from ..rule import M_VAL, Rule, SH, Selection, cite
from ..shared import modern_mismatch

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 230

RULE = Rule(
    id="modern-header-mismatch-accepted",
    severity="error",
    title="Server accepted a request whose metadata headers do not match the body",
    explanation=(
        "A 2026-07-28 request had a missing or mismatching MCP-Protocol-Version, Mcp-Method "
        "or Mcp-Name header, and the server answered it with a success status. Servers "
        "that process the body must reject it with 400 Bad Request and JSON-RPC error "
        "-32020 (HeaderMismatch), because components that route on the header and the "
        "server that executes the body would otherwise disagree."
    ),
    eras=("modern",),
    versions=("2026-07-28",),
    citations=(
        cite("2026-07-28", SH, M_VAL, "server-validation",
             "Servers that process the request body MUST reject requests where the values "
             "specified in the headers do not match the corresponding values in the "
             "request body."),
    ),
    party="server",
    detail="{count} mismatched requests answered 2xx instead of 400",
)


def check(m: Model) -> Selection:
    return Selection(f"{modern_mismatch(m)} AND {OK}")
