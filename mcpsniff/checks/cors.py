"""Checks of what browsers need (the Fetch standard's CORS protocol) to speak MCP at all."""

from __future__ import annotations

from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from ..mcp import H_LAST_EVENT_ID, H_METHOD, H_NAME, H_PROTOCOL_VERSION, H_SESSION
from ..model import Model
from .engine import Selection, check, column

#: request headers an MCP client may need a preflight to allow
MCP_CORS_HEADERS = (H_SESSION, H_PROTOCOL_VERSION, H_LAST_EVENT_ID, H_METHOD, H_NAME)


def header_names(value: object) -> set[str]:
    """``"A, b ,C"`` -> ``{"a", "b", "c"}`` (a header-name list, compared case-insensitively)."""
    return {p.strip().lower() for p in str(value).split(",") if p.strip()} if isinstance(value, str) else set()


def _origin_of(url: str) -> str:
    u = urlsplit(url)
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return f"{u.scheme}://{(u.hostname or '').lower()}:{port}"


def cross_origin(origin: object, url: str) -> bool:
    """A request the browser sent from another origin than the URL's (``null`` included)."""
    if not isinstance(origin, str) or not origin.strip():
        return False
    try:
        return _origin_of(origin.strip()) != _origin_of(url)
    except ValueError:
        return True


def _per_category(series: pd.Series, test) -> pd.Series:
    """``test`` applied once per distinct value of a categorical column."""
    cats = series.cat.categories
    good = [c for c in cats if test(c)]
    return series.isin(good)


@check("session-id-not-exposed")
def session_id_not_exposed(m: Model) -> Selection:
    df = m.df
    issued = (df["rpc_method"] == "initialize") & m.ok & df["resp_sid"].notna() & df["origin"].notna()
    exposed = _per_category(df["aceh"], lambda v: bool({H_SESSION, "*"} & header_names(v)))
    mask = issued & ~exposed
    if mask.any():
        rows = np.flatnonzero(mask.to_numpy())
        sub = df.iloc[rows]
        cross = np.array([cross_origin(o, u) for o, u in zip(sub["origin"].astype(object), sub["url"])], dtype=bool)
        mask = np.zeros(len(df), dtype=bool)
        mask[rows[cross]] = True

    def values(rows):
        return {"origins": sorted(set(column(m, "origin", rows).astype(str)))[:3],
                "exposed": sorted(set(column(m, "aceh", rows).astype(object).fillna("(none)").astype(str)))[:3]}

    return Selection(mask, values)


def _blocked(acrh: object, acah: object) -> list[str]:
    wanted = [h for h in MCP_CORS_HEADERS if h in header_names(acrh)]
    allowed = header_names(acah)
    return [h for h in wanted if h not in allowed and "*" not in allowed]


@check("cors-preflight-blocks-mcp-headers")
def cors_preflight_blocks_mcp_headers(m: Model) -> Selection:
    df = m.df
    asks = (df["http_method"] == "OPTIONS") & _per_category(df["acrh"], lambda v: bool(set(MCP_CORS_HEADERS) & header_names(v)))
    mask = np.zeros(len(df), dtype=bool)
    rows = np.flatnonzero(asks.to_numpy())
    if len(rows):
        sub = df.iloc[rows]
        st = sub["status"].to_numpy()
        bad = [(s < 200 or s >= 300) or bool(_blocked(r, a))
               for s, r, a in zip(st, sub["acrh"].astype(object), sub["acah"].astype(object))]
        mask[rows[np.asarray(bad, dtype=bool)]] = True

    def values(rows):
        sub = m.df.iloc[rows]
        missing = sorted({h for r, a, s in zip(sub["acrh"].astype(object), sub["acah"].astype(object), sub["status"])
                          for h in (_blocked(r, a) if 200 <= s < 300 else [h for h in MCP_CORS_HEADERS if h in header_names(r)])})
        return {"headers": missing, "statuses": sorted(map(str, sub["status"].unique()))}

    return Selection(mask, values)
