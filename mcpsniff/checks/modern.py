"""Checks of 2026-07-28 (stateless) requests: metadata headers mirror the body, required _meta keys."""

from __future__ import annotations

import base64
import binascii

import pandas as pd

from ..mcp import NAMED_METHODS
from ..model import Model
from .engine import Selection, check


def decode_mcp_name(value: object) -> object:
    """``=?base64?...?=`` encoded Mcp-Name values are compared decoded (2026-07-28)."""
    if isinstance(value, str) and value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return value
    return value


def _requests(m: Model) -> pd.Series:
    """Whole (untruncated, unbatched) JSON-RPC requests."""
    df = m.df
    return df["has_id"] & df["rpc_method"].notna() & ~df["batch"] & ~df["req_trunc"]


def _mismatch(m: Model) -> dict[str, pd.Series]:
    """Per header, POST requests whose MCP-Protocol-Version / Mcp-Method / Mcp-Name disagree with the body."""
    df = m.df
    obj = lambda c: df[c].astype("object")  # noqa: E731
    pv_bad = obj("pv_hdr") != obj("meta_pv").where(df["meta_pv"].notna(), obj("pv_hdr"))
    pv_bad |= df["pv_hdr"].isna()
    method_bad = obj("mcp_method_hdr") != obj("rpc_method")
    name_bad = pd.Series(False, index=df.index)
    base = (df["http_method"] == "POST") & _requests(m) & (df["era"] == "modern")
    rows = base & df["rpc_method"].isin(list(NAMED_METHODS)) & df["name_param"].notna()
    if rows.any():
        sub = df.loc[rows]
        name_bad.loc[rows] = sub["mcp_name_hdr"].map(decode_mcp_name) != sub["name_param"]
    return {
        "any": base & (pv_bad | method_bad | name_bad),
        "MCP-Protocol-Version": pv_bad,
        "Mcp-Method": method_bad,
        "Mcp-Name": name_bad,
    }


def mismatch(m: Model) -> dict[str, pd.Series]:
    return m.memo("modern-mismatch", lambda: _mismatch(m))


@check("modern-header-mismatch")
def modern_header_mismatch(m: Model) -> Selection:
    mm = mismatch(m)

    def values(rows):
        counts = {label: int(mm[label].iloc[rows].sum()) for label in ("MCP-Protocol-Version", "Mcp-Method", "Mcp-Name")}
        return {"headers": {k: v for k, v in counts.items() if v}}

    return Selection(mm["any"], values)


@check("modern-header-mismatch-accepted")
def modern_header_mismatch_accepted(m: Model) -> Selection:
    return Selection(mismatch(m)["any"] & m.ok)


@check("modern-meta-missing")
def modern_meta_missing(m: Model) -> Selection:
    df = m.df
    return Selection(_requests(m) & (df["meta_pv"].isna() | ~df["meta_caps"]))


@check("modern-clientinfo-missing")
def modern_clientinfo_missing(m: Model) -> Selection:
    return Selection(_requests(m) & ~m.df["meta_client"])
