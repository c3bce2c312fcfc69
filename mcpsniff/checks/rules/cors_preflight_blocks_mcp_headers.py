"""CORS preflight does not allow the MCP request headers."""

from __future__ import annotations

from ...mcp import H_LAST_EVENT_ID, H_METHOD, H_NAME, H_PROTOCOL_VERSION, H_SESSION
from ...model import Model
from ...model.sql import tuples_in
from ..rule import HS, PV, PVH, Rule, Selection, T, fetch, per_version
from ..shared import header_names

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 210

RULE = Rule(
    id="cors-preflight-blocks-mcp-headers",
    severity="error",
    title="CORS preflight does not allow the MCP request headers",
    explanation=(
        "A browser asked in a CORS preflight (OPTIONS with Access-Control-Request-Headers) "
        "to send MCP headers such as mcp-session-id or mcp-protocol-version, and the "
        "server's answer did not allow them (Access-Control-Allow-Headers lacks them, or "
        "the preflight was not answered with an ok status). The browser then never sends "
        "the request at all ('Failed to fetch'), typically right after initialize, leaving "
        "the session half-open. Allow mcp-session-id, mcp-protocol-version and "
        "last-event-id (and mcp-method, mcp-name for 2026-07-28) in "
        "Access-Control-Allow-Headers."
    ),
    eras=("handshake", "modern"),
    versions=HS[::-1] + ("2026-07-28",),
    citations=(
        fetch(
            "CORS-preflight fetch", "cors-preflight-fetch",
            "For each unsafeName of the CORS-unsafe request-header names with request's "
            "header list, if unsafeName is not a byte-case-insensitive match for an item in "
            "headerNames and request's credentials mode is \"include\" or headerNames does "
            "not contain `*`, return a network error.".replace("`", ""),
        ),
    ) + per_version(
        PV, T, PVH, "protocol-version-header",
        {v: "If using HTTP, the client MUST include the MCP-Protocol-Version: "
            "<protocol-version> HTTP header on all subsequent requests to the MCP server, "
            "allowing the MCP server to respond based on the MCP protocol version."
         for v in PV},
    ),
    party="server",
    detail="{count} preflights did not allow {headers} (statuses {statuses})",
)


#: request headers an MCP client may need a preflight to allow
MCP_CORS_HEADERS = (H_SESSION, H_PROTOCOL_VERSION, H_LAST_EVENT_ID, H_METHOD, H_NAME)


def _blocked(acrh: object, acah: object) -> list[str]:
    wanted = [h for h in MCP_CORS_HEADERS if h in header_names(acrh)]
    allowed = header_names(acah)
    return [h for h in wanted if h not in allowed and "*" not in allowed]


def _missing(acrh: object, acah: object, status: int) -> list[str]:
    if 200 <= status < 300:
        return _blocked(acrh, acah)
    return [h for h in MCP_CORS_HEADERS if h in header_names(acrh)]


def check(m: Model) -> Selection:
    triples = m.rows("SELECT DISTINCT acrh, acah, status FROM m WHERE http_method = 'OPTIONS' AND acrh IS NOT NULL")
    asks = [t for t in triples if set(MCP_CORS_HEADERS) & header_names(t[0])]
    bad = [t for t in asks if not (200 <= t[2] < 300) or _blocked(t[0], t[1])]
    missing = {t: _missing(*t) for t in bad}

    def post(values: dict) -> dict:
        found = sorted({h for t in values.pop("triples") or [] for h in missing.get(tuple(t.values()), [])})
        return {"headers": found, "statuses": values["statuses"]}

    return Selection(f"http_method = 'OPTIONS' AND {tuples_in(bad, ['acrh', 'acah', 'status'])}", {
        "triples": "list(DISTINCT {'a': acrh, 'b': acah, 'c': status})",
        "statuses": "list(DISTINCT status::VARCHAR ORDER BY status::VARCHAR)"}, post=post)
