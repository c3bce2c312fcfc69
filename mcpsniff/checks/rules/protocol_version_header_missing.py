"""Client omitted the MCP-Protocol-Version header after initialization."""

from __future__ import annotations

from ...model import Model
from ..rule import PV, PVH, Rule, Selection, T, per_version
from ..shared import FOLLOW_UPS

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 120

RULE = Rule(
    id="protocol-version-header-missing",
    severity="error",
    title="Client omitted the MCP-Protocol-Version header after initialization",
    explanation=(
        "The session negotiated protocol version 2025-06-18 or later, but a later request "
        "of that client carries no MCP-Protocol-Version header. Without it a server that "
        "cannot otherwise tell the version should assume 2025-03-26, so the client may be "
        "served under older rules than it negotiated. Send the negotiated version in "
        "MCP-Protocol-Version on every request after initialize."
    ),
    eras=("handshake",),
    versions=PV[::-1],
    citations=per_version(
        PV, T, PVH, "protocol-version-header",
        {v: "If using HTTP, the client MUST include the MCP-Protocol-Version: "
            "<protocol-version> HTTP header on all subsequent requests to the MCP server, "
            "allowing the MCP server to respond based on the MCP protocol version."
         for v in PV},
    ),
    party="client",
    detail="{count} requests after initialize without MCP-Protocol-Version",
    since="2025-06-18",
)


def check(m: Model) -> Selection:
    return Selection(f"{FOLLOW_UPS} AND pv_hdr IS NULL")
