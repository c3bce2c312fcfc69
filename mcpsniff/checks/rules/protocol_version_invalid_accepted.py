"""Server accepted a request with an invalid MCP-Protocol-Version."""

from __future__ import annotations

from ...mcp import VERSION_ERAS
from ...model import Model
from ...model.sql import OK, in_list
from ..rule import M_PVH, PV, PVH, Rule, SH, Selection, T, cite, per_version

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 140

RULE = Rule(
    id="protocol-version-invalid-accepted",
    severity="error",
    title="Server accepted a request with an invalid MCP-Protocol-Version",
    explanation=(
        "A request carried an MCP-Protocol-Version header whose value is not any published "
        "protocol version, and the server answered it with a success status. The spec "
        "requires 400 Bad Request for an invalid or unsupported version (2026-07-28: with "
        "an UnsupportedProtocolVersionError listing the supported versions). Validate the "
        "header and reject unknown values."
    ),
    eras=("handshake", "modern"),
    versions=("2025-06-18", "2025-11-25", "2026-07-28"),
    citations=(
        cite("2026-07-28", SH, M_PVH, "protocol-version-header",
             "If the server does not implement the requested protocol version (whether the "
             "version is unknown to the server, or is a known version the server has chosen "
             "not to support), it MUST respond with 400 Bad Request and an "
             "UnsupportedProtocolVersionError listing its supported versions."),
    ) + per_version(
        PV, T, PVH, "protocol-version-header",
        {v: "If the server receives a request with an invalid or unsupported "
            "MCP-Protocol-Version, it MUST respond with 400 Bad Request." for v in PV},
    ),
    party="server",
    detail="accepted MCP-Protocol-Version {values}",
)


def check(m: Model) -> Selection:
    return Selection(f"pv_hdr IS NOT NULL AND pv_hdr NOT IN {in_list(list(VERSION_ERAS))} AND {OK}",
                     {"values": "list(DISTINCT pv_hdr ORDER BY pv_hdr)"})
