"""Request metadata headers missing or not matching the body."""

from __future__ import annotations

from ...model import Model
from ..rule import Rule, SH, Selection, cite
from ..shared import METHOD_BAD, PV_BAD, modern_mismatch, name_bad

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 220

RULE = Rule(
    id="modern-header-mismatch",
    severity="error",
    title="Request metadata headers missing or not matching the body",
    explanation=(
        "A 2026-07-28 request lacks MCP-Protocol-Version, Mcp-Method or (for tools/call, "
        "prompts/get, resources/read) Mcp-Name, or a header differs from the body value it "
        "mirrors: _meta io.modelcontextprotocol/protocolVersion, method, params.name or "
        "params.uri (Mcp-Name may be base64-encoded as =?base64?...?=). Intermediaries "
        "route on these headers, so the server must reject such a request with "
        "400 Bad Request and JSON-RPC error -32020 (HeaderMismatch). Fix the client to "
        "mirror the body exactly."
    ),
    eras=("modern",),
    versions=("2026-07-28",),
    citations=(
        cite("2026-07-28", SH, "Sending Messages; Request Metadata / Server Validation",
             "request-metadata",
             "The client MUST include the request metadata headers on each POST request. … "
             "Validation failure conditions include: A required standard header "
             "(MCP-Protocol-Version, Mcp-Method, Mcp-Name) is missing. A header value does "
             "not match the corresponding request body value."),
    ),
    party="client",
    detail="headers absent or not equal to the body: {headers}",
)


def check(m: Model) -> Selection:
    counts = {"MCP-Protocol-Version": PV_BAD, "Mcp-Method": METHOD_BAD, "Mcp-Name": name_bad(m)}
    names = list(counts)
    return Selection(modern_mismatch(m), {n: f"count(*) FILTER ({counts[n]})" for n in names},
                     post=lambda v: {"headers": {n: int(v[n]) for n in names if v.get(n)}})
