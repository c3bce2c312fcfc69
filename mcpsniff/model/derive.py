"""Derive: planes, endpoints, eras, issued sessions and echo classes -- vectorised, once per capture.

Vocabulary
----------
plane     the exact User-Agent string of a request ("(no User-Agent)" when absent)
scope     (plane, endpoint): sessions are issued by one server endpoint to one plane
era       per exchange: "legacy" (2024-11-05 HTTP+SSE), "handshake" (2025-03-26 ..
          2025-11-25 Streamable HTTP), "modern" (2026-07-28, stateless), "probe"
          (a dual-era client's failed POST initialize before falling back to
          legacy SSE) or "other" (not MCP)
session   an id issued in the ``Mcp-Session-Id`` header of a successful
          ``initialize`` response; a header on any other response issues nothing
follow-up a handshake request that must repeat the session's headers: any but initialize
          and CORS preflights
echo      for each follow-up: "echoed" (an id issued to
          this plane), "dropped" (no header although this scope was issued one),
          "foreign" (an id issued to another plane), "unknown" (an id never seen
          issued: capture started mid-session) or "none" (nothing to echo)
"""

from __future__ import annotations

from urllib.parse import urljoin

import numpy as np
import pandas as pd

from ..mcp import EVENT_STREAM, EXCHANGE_ERAS, MODERN_VERSION, NO_USER_AGENT, endpoint_key, is_2xx, netloc

DERIVED = ("plane", "endpoint", "era", "echo", "sid_issued_to", "neg_version", "scope_sid", "follow_up")
SESSION_COLUMNS = ["sid", "plane", "endpoint", "t", "version", "row"]


def derive(df: pd.DataFrame) -> pd.DataFrame:
    """Add plane, endpoint, era, negotiated version and echo class columns to ``df``; return the issued sessions."""
    if df.empty:
        for c in DERIVED:
            df[c] = pd.Series(dtype="object")
        return pd.DataFrame(columns=SESSION_COLUMNS)
    ua = df["ua"]
    df["plane"] = ua.cat.add_categories([NO_USER_AGENT]).fillna(NO_USER_AGENT) if NO_USER_AGENT not in ua.cat.categories else ua.fillna(NO_USER_AGENT)
    # URLs repeat a lot: compute per unique value
    codes, uniq = pd.factorize(df["url"])
    ep_codes, ep_uniq = pd.factorize(np.array([endpoint_key(u) for u in uniq], dtype=object))
    df["endpoint"] = pd.Categorical.from_codes(ep_codes[codes], categories=pd.Index(ep_uniq, dtype=object))
    _follow_redirects(df)
    _derive_era(df)
    return _derive_sessions(df)


def _follow_redirects(df: pd.DataFrame) -> None:
    """An endpoint that redirected (3xx with Location) is the same server endpoint as its target:
    ``POST /mcp`` answered 307 to ``/mcp/`` must not split the session issued at ``/mcp/`` from
    the requests sent to ``/mcp``.  Rewrites ``endpoint`` to the end of each redirect chain."""
    redirect = df["status"].between(300, 399) & df["location"].notna()
    if not redirect.any():
        return
    alias: dict[str, str] = {}
    pairs = df.loc[redirect, ["endpoint", "url", "location"]].astype(object).drop_duplicates()
    for ep, url, loc in pairs.itertuples(index=False):
        try:
            target = endpoint_key(urljoin(url, loc.strip()))
        except ValueError:
            continue
        if target != ep:
            alias.setdefault(ep, target)

    def final(ep: str) -> str:
        seen = {ep}
        while ep in alias and alias[ep] not in seen:
            ep = alias[ep]
            seen.add(ep)
        return ep

    cats = [final(c) for c in df["endpoint"].cat.categories]
    codes, uniq = pd.factorize(np.array(cats, dtype=object))
    df["endpoint"] = pd.Categorical.from_codes(codes[df["endpoint"].cat.codes.to_numpy()], categories=pd.Index(uniq, dtype=object))


def _derive_era(df: pd.DataFrame) -> None:
    is_rpc = df["n_msgs"] > 0
    mcp_hdr = df["req_sid"].notna() | df["pv_hdr"].notna() | df["mcp_method_hdr"].notna()
    sse = df["ctype"] == EVENT_STREAM

    # legacy: a GET stream announcing an endpoint, and POSTs to an announced endpoint
    legacy_get = (df["first_event"] == "endpoint").to_numpy()
    announced: set[str] = set()
    for url, data in df.loc[legacy_get, ["url", "first_event_data"]].itertuples(index=False):
        if isinstance(data, str) and data.strip():
            try:
                announced.add(urljoin(url, data.strip()))
            except ValueError:  # an announced URL that does not parse announces nothing
                continue
    legacy = pd.Series(legacy_get, index=df.index)
    if announced:
        legacy |= df["url"].isin(announced)

    modern = (
        df["meta_pv"].notna()
        | df["mcp_method_hdr"].notna()
        | df["pv_hdr"].isin([c for c in df["pv_hdr"].cat.categories if str(c) >= MODERN_VERSION])
        | (df["rpc_method"] == "server/discover")
    ) & ~legacy

    era = np.where(legacy, "legacy", np.where(modern, "modern", np.where(is_rpc | mcp_hdr | sse, "handshake", "other")))
    era = pd.Series(era, index=df.index)
    _support_requests(df, era)

    # a dual-era client's probe: POST initialize refused (400/404/405), then the same
    # plane opens a legacy GET stream on the same server
    if legacy_get.any():
        probe_cand = (df["rpc_method"] == "initialize") & df["status"].between(400, 499) & (era == "handshake")
        if probe_cand.any():
            lg = df.loc[legacy_get, ["plane", "url", "t_req"]]
            lg_keys = {(p, netloc(u)) for p, u in lg[["plane", "url"]].itertuples(index=False)}
            cand = df.loc[probe_cand, ["plane", "url"]]
            is_probe = [(p, netloc(u)) in lg_keys for p, u in cand.itertuples(index=False)]
            era.loc[cand.index[np.asarray(is_probe, dtype=bool)]] = "probe"
    df["era"] = pd.Categorical(era, categories=list(EXCHANGE_ERAS))


SUPPORT_METHODS = ("GET", "DELETE", "OPTIONS")


def _support_requests(df: pd.DataFrame, era: pd.Series) -> None:
    """GET, DELETE and OPTIONS (CORS preflight) requests without MCP markers, sent to an endpoint
    that carries Streamable HTTP traffic, belong to that endpoint's era: a GET stream opened
    without the session header is still an MCP request (and still lacks the header)."""
    other = (era == "other") & df["http_method"].isin(SUPPORT_METHODS)
    if not other.any():
        return
    streamable = era.isin(["handshake", "modern"])
    if not streamable.any():
        return
    counts = pd.crosstab(df.loc[streamable, "endpoint"].astype(object), era[streamable])
    endpoint_era = counts.idxmax(axis=1)  # the endpoint's main era
    era.loc[other] = df.loc[other, "endpoint"].astype(object).map(endpoint_era).fillna("other").to_numpy()


def _derive_sessions(df: pd.DataFrame) -> pd.DataFrame:
    """Issued sessions, negotiated versions and the echo class of each request."""
    ok = is_2xx(df["status"])
    hs = df["era"] == "handshake"
    init = hs & (df["rpc_method"] == "initialize") & ok
    t_issue = df["t_resp"].fillna(df["t_end"]).fillna(df["t_req"])

    inits = pd.DataFrame(
        {
            "plane": df.loc[init, "plane"].astype("object"),
            "endpoint": df.loc[init, "endpoint"].astype("object"),
            "t": t_issue[init],
            "sid": df.loc[init, "resp_sid"],
            "version": df.loc[init, "neg_pv"].astype("object"),
            "row": df.index[init],
        }
    )
    sessions = inits[inits["sid"].notna()].drop_duplicates("sid", keep="first").reset_index(drop=True)

    # negotiated version + last issued id for each request: the scope's latest
    # successful initialize that finished before the request started (scope =
    # plane x endpoint, as one integer key: merge_asof is much faster on ints)
    scope = df["plane"].cat.codes.astype(np.int64) * (len(df["endpoint"].cat.categories) + 1) + df["endpoint"].cat.codes
    # requests that must repeat an issued id: all but initialize and CORS preflights (which a
    # browser sends without custom headers)
    req_rows = hs & ~(df["rpc_method"] == "initialize") & (df["http_method"] != "OPTIONS")
    df["follow_up"] = req_rows.to_numpy()
    q = pd.DataFrame({"scope": scope[req_rows], "t": df.loc[req_rows, "t_req"], "row": df.index[req_rows]}).sort_values("t", kind="stable")
    scope_sid = np.full(len(df), None, dtype=object)
    neg = np.full(len(df), None, dtype=object)
    if not q.empty and not inits.empty:
        right = pd.DataFrame({"scope": scope[init].to_numpy(), "t": inits["t"].to_numpy(),
                              "sid": inits["sid"].to_numpy(), "version": inits["version"].to_numpy()}).sort_values("t", kind="stable")
        m = pd.merge_asof(q, right, on="t", by="scope", direction="backward", allow_exact_matches=True)
        rows = m["row"].to_numpy()
        scope_sid[rows] = m["sid"].to_numpy(dtype=object)
        neg[rows] = m["version"].to_numpy(dtype=object)

    # a request that carries a known id belongs to that session's version; work on
    # the distinct ids (sessions are far fewer than requests), then spread by code
    codes, uniq = pd.factorize(df["req_sid"])
    u = pd.Series(uniq, dtype=object)
    u_version = np.append(u.map(dict(zip(sessions["sid"], sessions["version"]))).to_numpy(dtype=object), None)
    u_plane = np.append(u.map(dict(zip(sessions["sid"], sessions["plane"]))).to_numpy(dtype=object), None)
    u_known = np.append(u.isin(set(sessions["sid"])).to_numpy(), False)
    u_plane_code = np.append(pd.Index(df["plane"].cat.categories).get_indexer(u_plane[:-1]), -2)
    has_sid = codes >= 0
    known = u_known[codes]
    neg[known] = u_version[codes][known]
    issued_to = u_plane[codes]
    same_plane = u_plane_code[codes] == df["plane"].cat.codes.to_numpy()
    # initialize responses carry their own negotiated version
    neg[init.to_numpy()] = df.loc[init, "neg_pv"].to_numpy(dtype=object)

    # echo class as category codes: 0 echoed, 1 dropped, 2 foreign, 3 unknown, 4 none
    echo = np.full(len(df), -1, dtype=np.int8)
    rr = req_rows.to_numpy()
    has_scope_sid = pd.notna(scope_sid)
    echo[rr & known & same_plane] = 0
    echo[rr & known & ~same_plane] = 2
    echo[rr & has_sid & ~known] = 3
    echo[rr & ~has_sid & has_scope_sid] = 1
    echo[rr & ~has_sid & ~has_scope_sid] = 4
    df["echo"] = pd.Categorical.from_codes(echo, categories=["echoed", "dropped", "foreign", "unknown", "none"])
    df["scope_sid"] = pd.Series(scope_sid, index=df.index, dtype=object)
    df["sid_issued_to"] = pd.Series(issued_to, index=df.index, dtype=object)
    df["neg_version"] = pd.Categorical(neg)
    return sessions[SESSION_COLUMNS]
