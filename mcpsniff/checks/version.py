"""Checks of the MCP-Protocol-Version header (2025-06-18 on, and 2026-07-28)."""

from __future__ import annotations

from ..mcp import VERSION_ERAS
from ..model import Model
from .engine import Selection, check, in_list

#: handshake follow-ups (all but initialize and CORS preflights): the ones that must carry the header
FOLLOW_UPS = "follow_up"


@check("protocol-version-header-missing")
def protocol_version_header_missing(m: Model) -> Selection:
    return Selection(f"{FOLLOW_UPS} AND pv_hdr IS NULL")


@check("protocol-version-header-mismatch")
def protocol_version_header_mismatch(m: Model) -> Selection:
    return Selection(
        f"{FOLLOW_UPS} AND pv_hdr IS NOT NULL AND neg_version IS NOT NULL AND pv_hdr <> neg_version",
        {"sent": "list(DISTINCT pv_hdr ORDER BY pv_hdr)", "negotiated": "list(DISTINCT neg_version ORDER BY neg_version)"})


@check("protocol-version-invalid-accepted")
def protocol_version_invalid_accepted(m: Model) -> Selection:
    return Selection(f"pv_hdr IS NOT NULL AND pv_hdr NOT IN {in_list(list(VERSION_ERAS))} AND {Model.OK}",
                     {"values": "list(DISTINCT pv_hdr ORDER BY pv_hdr)"})
