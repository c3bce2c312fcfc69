"""Checks of the MCP-Protocol-Version header (2025-06-18 on, and 2026-07-28)."""

from __future__ import annotations

from ..mcp import VERSION_ERAS
from ..model import Model
from .engine import Selection, check, column


def _requests_after_initialize(m: Model):
    """Handshake follow-ups (all but initialize and CORS preflights): the ones that must carry the header."""
    return m.df["follow_up"]


@check("protocol-version-header-missing")
def protocol_version_header_missing(m: Model) -> Selection:
    return Selection(_requests_after_initialize(m) & m.df["pv_hdr"].isna())


@check("protocol-version-header-mismatch")
def protocol_version_header_mismatch(m: Model) -> Selection:
    df = m.df
    known = df["pv_hdr"].notna() & df["neg_version"].notna()
    differs = known & (df["pv_hdr"].astype("object") != df["neg_version"].astype("object"))

    def values(rows):
        return {
            "sent": sorted(set(column(m, "pv_hdr", rows).astype(str))),
            "negotiated": sorted(set(column(m, "neg_version", rows).astype(str))),
        }

    return Selection(_requests_after_initialize(m) & differs, values)


@check("protocol-version-invalid-accepted")
def protocol_version_invalid_accepted(m: Model) -> Selection:
    df = m.df
    invalid = [c for c in df["pv_hdr"].cat.categories if c not in VERSION_ERAS]
    return Selection(
        df["pv_hdr"].isin(invalid) & m.ok,
        lambda rows: {"values": sorted(set(column(m, "pv_hdr", rows).astype(str)))},
    )
