"""Client sent an MCP-Protocol-Version other than the negotiated one."""

from __future__ import annotations

from ...model import Model
from ..rule import PV, PVH, Rule, Selection, T, per_version
from ..shared import FOLLOW_UPS

#: place in the catalogue (reports, JSON, SARIF list rules in this order)
ORDER = 130

RULE = Rule(
    id="protocol-version-header-mismatch",
    severity="warning",
    title="Client sent an MCP-Protocol-Version other than the negotiated one",
    explanation=(
        "The MCP-Protocol-Version header of a later request differs from the protocol "
        "version the server returned in its initialize response (also when the server "
        "negotiated an older version, e.g. 2024-11-05 over Streamable HTTP, and the client "
        "keeps sending its own). The spec says the header "
        "SHOULD carry the negotiated version (a SHOULD, not a MUST), so the server may "
        "apply the rules of a version the two sides never agreed on. Send exactly the "
        "protocolVersion from the InitializeResult."
    ),
    eras=("handshake",),
    versions=PV[::-1],
    citations=per_version(
        PV, T, PVH, "protocol-version-header",
        {v: "The protocol version sent by the client SHOULD be the one negotiated during "
            "initialization." for v in PV},
    ),
    party="client",
    detail="sent {sent} where {negotiated} was negotiated",
)


def check(m: Model) -> Selection:
    return Selection(
        f"{FOLLOW_UPS} AND pv_hdr IS NOT NULL AND neg_version IS NOT NULL AND pv_hdr <> neg_version",
        {"sent": "list(DISTINCT pv_hdr ORDER BY pv_hdr)", "negotiated": "list(DISTINCT neg_version ORDER BY neg_version)"})
