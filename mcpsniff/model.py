"""Model: exchanges -> one pandas row each, with planes, eras and sessions derived.

Building is one pass of Python over the records (pulling out the few fields the
checks need); everything after that is vectorised pandas work, so a capture of
a million exchanges fits in seconds and in well under the machine's memory.

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
echo      for each non-initialize handshake request: "echoed" (an id issued to
          this plane), "dropped" (no header although this scope was issued one),
          "foreign" (an id issued to another plane), "unknown" (an id never seen
          issued: capture started mid-session) or "none" (nothing to echo)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import urljoin, urlsplit

import numpy as np
import orjson
import pandas as pd

from .load import Problem, Source, iter_source

NO_UA = "(no User-Agent)"
MODERN_VERSION = "2026-07-28"
META_PV = "io.modelcontextprotocol/protocolVersion"
META_CAPS = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT = "io.modelcontextprotocol/clientInfo"

# request header (lower-case) -> column
_REQ_HEADERS = {
    "user-agent": "ua",
    "mcp-session-id": "req_sid",
    "mcp-protocol-version": "pv_hdr",
    "accept": "accept",
    "mcp-method": "mcp_method_hdr",
    "mcp-name": "mcp_name_hdr",
    "last-event-id": "last_event_id",
}
_STR_COLS = (
    "exid", "ua", "req_sid", "pv_hdr", "accept", "mcp_method_hdr", "mcp_name_hdr", "last_event_id",
    "http_method", "url", "rpc_method", "rpc_id", "name_param", "meta_pv", "client_info",
    "init_pv_req", "resp_sid", "ctype", "neg_pv", "first_event", "first_event_data", "error", "hnames",
)
_CATEGORICAL = (
    "ua", "pv_hdr", "accept", "mcp_method_hdr", "http_method", "rpc_method", "meta_pv", "client_info",
    "init_pv_req", "ctype", "neg_pv", "first_event", "hnames", "error",
)


def _new_columns() -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {c: [] for c in _STR_COLS}
    for c in ("src", "line", "t_req", "t_resp", "t_end", "status", "n_msgs", "resp_size", "n_events", "get_responses"):
        cols[c] = []
    for c in ("batch", "notif_only", "meta_caps", "meta_client", "req_trunc", "resp_trunc"):
        cols[c] = []
    return cols


def _client_info(info: Any) -> str | None:
    if isinstance(info, dict):
        name = info.get("name")
        if name is not None:
            ver = info.get("version")
            return f"{name}/{ver}" if ver is not None else str(name)
    return None


def _find_init_result(resp: dict[str, Any]) -> dict[str, Any] | None:
    """The InitializeResult in a JSON or SSE response body, if any."""
    msgs = (resp.get("body") or {}).get("rpc") or []
    for m in msgs:
        if isinstance(m, dict) and isinstance(m.get("result"), dict):
            return m["result"]
    for ev in resp.get("sse") or ():
        data = ev.get("data") or ""
        if '"result"' not in data:
            continue
        try:
            m = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if isinstance(m, dict) and isinstance(m.get("result"), dict):
            return m["result"]
    return None


def _count_stream_responses(events: list[dict[str, Any]]) -> int:
    """JSON-RPC responses (result/error with an id, no method) among SSE events."""
    n = 0
    for ev in events:
        data = ev.get("data") or ""
        if '"id"' not in data:
            continue
        try:
            m = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        for x in m if isinstance(m, list) else (m,):
            if isinstance(x, dict) and "method" not in x and ("result" in x or "error" in x) and "id" in x:
                n += 1
    return n


def _extract(cols: dict[str, list[Any]], src: int, line: int, r: dict[str, Any]) -> None:
    """Append one exchange's fields to the column lists (the only per-row Python)."""
    req = r["req"]
    hv: dict[str, str] = {}
    names = []
    for n, v in req.get("headers") or ():
        ln = n.lower()
        names.append(ln)
        col = _REQ_HEADERS.get(ln)
        if col is not None and col not in hv:
            hv[col] = v
    for col in ("ua", "req_sid", "pv_hdr", "accept", "mcp_method_hdr", "mcp_name_hdr", "last_event_id"):
        cols[col].append(hv.get(col))
    cols["hnames"].append(",".join(sorted(set(names))))
    t = r["t"]
    cols["src"].append(src)
    cols["line"].append(line)
    cols["exid"].append(r.get("id"))
    cols["t_req"].append(t["req"])
    cols["t_resp"].append(t.get("resp"))
    cols["t_end"].append(t.get("end"))
    method = req["method"]
    cols["http_method"].append(method)
    cols["url"].append(req["url"])

    body = req.get("body") or {}
    rpc = body.get("rpc") or ()
    cols["batch"].append(bool(body.get("batch")))
    cols["req_trunc"].append(bool(body.get("truncated")))
    cols["n_msgs"].append(len(rpc))
    first = rpc[0] if rpc and isinstance(rpc[0], dict) else None
    rpc_method = first.get("method") if first else None
    cols["rpc_method"].append(rpc_method if isinstance(rpc_method, str) else None)
    rid = first.get("id") if first else None
    cols["rpc_id"].append(None if rid is None else str(rid))
    # a POST holding only notifications and/or responses (no request)
    cols["notif_only"].append(bool(rpc) and all(isinstance(m, dict) and not ("method" in m and "id" in m) for m in rpc))
    params = first.get("params") if first else None
    if not isinstance(params, dict):
        params = {}
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        meta = {}
    mpv = meta.get(META_PV)
    cols["meta_pv"].append(mpv if isinstance(mpv, str) else None)
    cols["meta_caps"].append(META_CAPS in meta)
    cols["meta_client"].append(META_CLIENT in meta)
    name = params.get("name")
    if name is None:
        name = params.get("uri")
    cols["name_param"].append(None if name is None else str(name))
    if rpc_method == "initialize":
        cols["client_info"].append(_client_info(params.get("clientInfo")))
        ipv = params.get("protocolVersion")
        cols["init_pv_req"].append(ipv if isinstance(ipv, str) else None)
    else:
        cols["client_info"].append(_client_info(meta.get(META_CLIENT)))
        cols["init_pv_req"].append(None)

    resp = r.get("resp")
    neg = None
    if resp:
        cols["status"].append(resp["status"])
        cols["resp_sid"].append(_resp_header(resp, "mcp-session-id"))
        ct = resp.get("content_type")
        cols["ctype"].append(ct.split(";", 1)[0].strip().lower() if ct else None)
        rb = resp.get("body") or {}
        cols["resp_size"].append(rb.get("size", -1))
        cols["resp_trunc"].append(bool(rb.get("truncated")))
        sse = resp.get("sse") or ()
        cols["n_events"].append(len(sse))
        if sse:
            cols["first_event"].append(sse[0].get("event"))
            cols["first_event_data"].append(sse[0].get("data") if sse[0].get("event") == "endpoint" else None)
        else:
            cols["first_event"].append(None)
            cols["first_event_data"].append(None)
        if rpc_method == "initialize":
            res = _find_init_result(resp)
            if res is not None:
                pv = res.get("protocolVersion")
                neg = pv if isinstance(pv, str) else None
        cols["get_responses"].append(_count_stream_responses(sse) if method == "GET" and sse else 0)
    else:
        cols["status"].append(-1)
        cols["resp_sid"].append(None)
        cols["ctype"].append(None)
        cols["resp_size"].append(-1)
        cols["resp_trunc"].append(False)
        cols["n_events"].append(0)
        cols["first_event"].append(None)
        cols["first_event_data"].append(None)
        cols["get_responses"].append(0)
    cols["neg_pv"].append(neg)
    err = r.get("error")
    cols["error"].append(err if isinstance(err, str) else None)


def _resp_header(resp: dict[str, Any], lname: str) -> str | None:
    for n, v in resp.get("headers") or ():
        if n.lower() == lname:
            return v
    return None


@dataclass
class Capture:
    """The analysed capture: the exchange table plus derived tables."""

    df: pd.DataFrame
    sources: list[Source]
    problems: list[Problem] = field(default_factory=list)
    sessions: pd.DataFrame | None = None  # one row per issued session

    @property
    def empty(self) -> bool:
        return self.df.empty


def build(
    names: Iterable[str],
    *,
    strict: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Capture:
    """Load inputs (merged into one capture, ordered by time) and derive everything."""
    problems: list[Problem] = []

    def report(p: Problem) -> None:
        problems.append(p)
        if on_problem:
            on_problem(p)

    cols = _new_columns()
    sources = [Source(n) for n in names]
    n = 0
    for si, src in enumerate(sources):
        for line, rec in iter_source(src, report, strict=strict):
            _extract(cols, si, line, rec)
            n += 1
            if progress is not None and not n & 0x3FFF:
                progress(n)
    df = _frame(cols)
    cap = Capture(df=df, sources=sources, problems=problems)
    derive(cap)
    return cap


def _frame(cols: dict[str, list[Any]]) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            **{c: pd.array(cols[c], dtype="object") for c in _STR_COLS if c not in _CATEGORICAL},
            **{c: pd.Categorical(cols[c]) for c in _CATEGORICAL},
            "src": np.asarray(cols["src"], dtype=np.int32),
            "line": np.asarray(cols["line"], dtype=np.int64),
            "t_req": np.asarray(cols["t_req"], dtype=np.float64),
            "t_resp": np.asarray([np.nan if x is None else x for x in cols["t_resp"]], dtype=np.float64),
            "t_end": np.asarray([np.nan if x is None else x for x in cols["t_end"]], dtype=np.float64),
            "status": np.asarray(cols["status"], dtype=np.int16),
            "n_msgs": np.asarray(cols["n_msgs"], dtype=np.int32),
            "resp_size": np.asarray(cols["resp_size"], dtype=np.int64),
            "n_events": np.asarray(cols["n_events"], dtype=np.int32),
            "get_responses": np.asarray(cols["get_responses"], dtype=np.int32),
            **{c: np.asarray(cols[c], dtype=bool) for c in ("batch", "notif_only", "meta_caps", "meta_client", "req_trunc", "resp_trunc")},
        }
    )
    # several files are one capture, merged by time (stable: file order breaks ties)
    df = df.sort_values(["t_req", "src", "line"], kind="stable").reset_index(drop=True)
    return df


def _endpoint_of(url: str) -> str:
    s = urlsplit(url)
    return f"{s.scheme}://{s.netloc}{s.path}"


def derive(cap: Capture) -> None:
    """Add plane, endpoint, era, negotiated version and echo class columns."""
    df = cap.df
    if df.empty:
        for c in ("plane", "endpoint", "era", "echo", "sid_issued_to", "neg_version", "scope_sid"):
            df[c] = pd.Series(dtype="object")
        cap.sessions = pd.DataFrame(columns=["sid", "plane", "endpoint", "t", "version", "row"])
        return
    df["plane"] = df["ua"].cat.add_categories([NO_UA]).fillna(NO_UA) if NO_UA not in df["ua"].cat.categories else df["ua"].fillna(NO_UA)
    # URLs repeat a lot: compute per unique value
    uniq = pd.unique(df["url"])
    ep_map = {u: _endpoint_of(u) for u in uniq}
    df["endpoint"] = pd.Categorical(df["url"].map(ep_map))
    _derive_era(df)
    cap.sessions = _derive_sessions(df)


def _derive_era(df: pd.DataFrame) -> None:
    is_rpc = df["n_msgs"] > 0
    mcp_hdr = df["req_sid"].notna() | df["pv_hdr"].notna() | df["mcp_method_hdr"].notna()
    sse = df["ctype"] == "text/event-stream"

    # legacy: a GET stream announcing an endpoint, and POSTs to an announced endpoint
    legacy_get = (df["first_event"] == "endpoint").to_numpy()
    announced: set[str] = set()
    for url, data in df.loc[legacy_get, ["url", "first_event_data"]].itertuples(index=False):
        if isinstance(data, str) and data.strip():
            announced.add(urljoin(url, data.strip()))
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

    # a dual-era client's probe: POST initialize refused (400/404/405), then the same
    # plane opens a legacy GET stream on the same server
    if legacy_get.any():
        probe_cand = (df["rpc_method"] == "initialize") & df["status"].isin([400, 404, 405]) & (era == "handshake")
        if probe_cand.any():
            lg = df.loc[legacy_get, ["plane", "url", "t_req"]]
            lg_keys = {(p, urlsplit(u).netloc) for p, u in lg[["plane", "url"]].itertuples(index=False)}
            cand = df.loc[probe_cand, ["plane", "url"]]
            is_probe = [(p, urlsplit(u).netloc) in lg_keys for p, u in cand.itertuples(index=False)]
            era.loc[cand.index[np.asarray(is_probe, dtype=bool)]] = "probe"
    df["era"] = pd.Categorical(era, categories=["handshake", "legacy", "modern", "probe", "other"])


def _derive_sessions(df: pd.DataFrame) -> pd.DataFrame:
    """Issued sessions, negotiated versions and the echo class of each request."""
    ok = (df["status"] >= 200) & (df["status"] < 300)
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
    # successful initialize that finished before the request started
    req_rows = hs & ~(df["rpc_method"] == "initialize")
    q = pd.DataFrame(
        {
            "plane": df.loc[req_rows, "plane"].astype("object"),
            "endpoint": df.loc[req_rows, "endpoint"].astype("object"),
            "t": df.loc[req_rows, "t_req"],
            "row": df.index[req_rows],
        }
    ).sort_values("t", kind="stable")
    scope_sid = pd.Series(None, index=df.index, dtype="object")
    neg = pd.Series(None, index=df.index, dtype="object")
    if not q.empty and not inits.empty:
        m = pd.merge_asof(
            q,
            inits.sort_values("t", kind="stable")[["plane", "endpoint", "t", "sid", "version"]],
            on="t",
            by=["plane", "endpoint"],
            direction="backward",
            allow_exact_matches=True,
        )
        scope_sid.loc[m["row"].to_numpy()] = m["sid"].to_numpy()
        neg.loc[m["row"].to_numpy()] = m["version"].to_numpy()

    # a request that carries a known id belongs to that session's version
    sid_version = dict(zip(sessions["sid"], sessions["version"]))
    sid_plane = dict(zip(sessions["sid"], sessions["plane"]))
    carried = df["req_sid"]
    has_sid = carried.notna()
    known = has_sid & carried.isin(sid_version.keys())
    neg.loc[known] = carried[known].map(sid_version)
    issued_to = carried.map(sid_plane)
    # initialize responses carry their own negotiated version
    neg.loc[init] = df.loc[init, "neg_pv"].astype("object")

    echo = np.full(len(df), None, dtype=object)
    plane_obj = df["plane"].astype("object")
    rr = req_rows.to_numpy()
    echo[rr & has_sid.to_numpy() & (issued_to == plane_obj).to_numpy()] = "echoed"
    echo[rr & known.to_numpy() & (issued_to != plane_obj).to_numpy()] = "foreign"
    echo[rr & has_sid.to_numpy() & ~known.to_numpy()] = "unknown"
    no_sid = rr & ~has_sid.to_numpy()
    echo[no_sid & scope_sid.notna().to_numpy()] = "dropped"
    echo[no_sid & scope_sid.isna().to_numpy()] = "none"
    df["echo"] = pd.Categorical(echo, categories=["echoed", "dropped", "foreign", "unknown", "none"])
    df["scope_sid"] = scope_sid
    df["sid_issued_to"] = issued_to
    df["neg_version"] = pd.Categorical(neg)
    return sessions[["sid", "plane", "endpoint", "t", "version", "row"]]
