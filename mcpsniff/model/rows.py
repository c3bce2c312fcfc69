"""Rows: schema records -> the columns the model needs (the careful reader).

``row_of`` pulls ~50 fields out of a record into one tuple; it is the reference for what
each column means (the fast SQL reader, :mod:`mcpsniff.model.fast`, computes the same).  The tuple is positional for speed, but its
elements are locals named exactly as the columns in :data:`COLUMNS`, and
``tests/model/test_rows.py`` checks the two line up by name.  A record it cannot
read is explained by ``schema.check_record`` (see ``load``), so every record is
either used or reported, never silently dropped.
"""

from __future__ import annotations

import gc
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..schema import SchemaError, bad_size, bad_status, bad_time
from ..mcp import (
    H_ACCEPT, H_LAST_EVENT_ID, H_METHOD, H_NAME, H_PROTOCOL_VERSION, H_SESSION, H_USER_AGENT,
    META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, media_type,
)

# request headers pulled into columns (first value of each)
_HDR_SLOT = {
    H_USER_AGENT: 0,
    H_SESSION: 1,
    H_PROTOCOL_VERSION: 2,
    H_ACCEPT: 3,
    H_METHOD: 4,
    H_NAME: 5,
    H_LAST_EVENT_ID: 6,
    "origin": 7,
    "access-control-request-headers": 8,
    "traceparent": 9,
}
_N_SLOTS = len(_HDR_SLOT)
# response headers pulled into columns (several values of a name joined with ", ")
_RESP_SLOT = {
    "access-control-allow-headers": 0,
    "access-control-expose-headers": 1,
    "access-control-allow-origin": 2,
    "location": 3,
}
MSG_CHARS = 200  # a refusal's message is kept to this many characters
CORR_KEYS = 8  # _meta correlation keys kept per request
CORR_SEP, CORR_KV = "\x1e", "\x1f"

# (column, kind): "cat" -> pandas Categorical; "str" -> object strings in the model but
# shipped between processes as a Categorical (they repeat: session ids, URLs, names);
# "obj" -> object strings throughout; else a numpy dtype
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("ua", "cat"), ("req_sid", "str"), ("pv_hdr", "cat"), ("accept", "cat"),
    ("mcp_method_hdr", "cat"), ("mcp_name_hdr", "str"), ("last_event_id", "str"),
    ("hnames", "cat"), ("src", np.int32), ("line", np.int64), ("exid", "obj"),
    ("t_req", np.float64), ("t_resp", np.float64), ("t_end", np.float64),
    ("http_method", "cat"), ("url", "str"),
    ("batch", bool), ("req_trunc", bool), ("n_msgs", np.int32), ("rpc_method", "cat"), ("has_id", bool),
    ("notif_only", bool), ("meta_pv", "cat"), ("meta_caps", bool), ("meta_client", bool), ("name_param", "str"),
    ("client_info", "cat"), ("init_pv_req", "cat"),
    ("status", np.int16), ("resp_sid", "str"), ("ctype", "cat"), ("resp_size", np.int64), ("resp_trunc", bool),
    ("n_events", np.int32), ("first_event", "cat"), ("first_event_data", "str"), ("neg_pv", "cat"),
    ("get_responses", np.int32), ("error", "cat"),
    ("origin", "cat"), ("acrh", "cat"), ("traceparent", "str"), ("conn", "cat"), ("corr", "cat"),
    ("resp_sid_n", np.int8), ("acah", "cat"), ("aceh", "cat"), ("acao", "cat"), ("location", "str"),
    ("rpc_err", np.float64), ("resp_msg", "cat"),
    ("t_event", np.float64),
)


def _client_info(info: Any) -> str | None:
    if isinstance(info, dict):
        name = info.get("name")
        if name is not None:
            ver = info.get("version")
            return f"{name}/{ver}" if ver is not None else str(name)
    return None


def _str_or_none(x: Any) -> str | None:
    return x if isinstance(x, str) else None


def _sse_json(events: Any, needle: str):
    """Decoded JSON of the SSE events whose data contains ``needle`` (a cheap pre-filter)."""
    for ev in events:
        data = ev.get("data") or ""
        if needle in data:
            try:
                yield orjson.loads(data)
            except orjson.JSONDecodeError:
                continue


def _rpc_error(resp: dict[str, Any]) -> tuple[float, str | None]:
    """(code, message) of the first JSON-RPC error in a JSON or SSE response body; (nan, None) if none."""
    for m in [*((resp.get("body") or {}).get("rpc") or ()), *_sse_json(resp.get("sse") or (), '"error"')]:
        for x in m if isinstance(m, list) else (m,):
            err = x.get("error") if isinstance(x, dict) else None
            if isinstance(err, dict):
                code = err.get("code")
                msg = err.get("message")
                code = float(code) if type(code) is int and abs(code) < 1 << 53 else np.nan
                return code, (msg[:MSG_CHARS] if isinstance(msg, str) else None)
    return np.nan, None


def _text_message(resp: dict[str, Any]) -> str | None:
    """The first line of a non-JSON-RPC error body (a proxy's or a framework's words)."""
    text = (resp.get("body") or {}).get("text")
    if isinstance(text, str):
        for line in text.splitlines():
            line = line.strip()
            if line:
                return line[:MSG_CHARS]
    return None


def _correlation(meta: dict[str, Any], traceparent: str | None) -> str | None:
    """What ties requests together besides the session header: scalar ``_meta`` values outside
    io.modelcontextprotocol/ (e.g. ``openai/session``) and the W3C trace id, as ``k<US>v<RS>...``."""
    pairs = []
    for k, v in meta.items():
        if type(k) is str and not k.startswith("io.modelcontextprotocol/") and type(v) in (str, int):
            pairs.append((k[:100], str(v)[:MSG_CHARS]))
    if traceparent:
        parts = traceparent.split("-")
        if len(parts) >= 3 and len(parts[1]) == 32:
            pairs.append(("traceparent trace-id", parts[1]))
    if not pairs:
        return None
    pairs.sort()
    return CORR_SEP.join(f"{k}{CORR_KV}{v}" for k, v in pairs[:CORR_KEYS])


def _find_init_result(resp: dict[str, Any]) -> dict[str, Any] | None:
    """The InitializeResult in a JSON or SSE response body, if any."""
    for m in [*((resp.get("body") or {}).get("rpc") or ()), *_sse_json(resp.get("sse") or (), '"result"')]:
        if isinstance(m, dict) and isinstance(m.get("result"), dict):
            return m["result"]
    return None


def _count_stream_responses(events: list[dict[str, Any]]) -> int:
    """JSON-RPC responses (result/error with an id, no method) among SSE events."""
    return sum(
        1
        for m in _sse_json(events, '"id"')
        for x in (m if isinstance(m, list) else (m,))
        if isinstance(x, dict) and "method" not in x and ("result" in x or "error" in x) and "id" in x
    )


class _Invalid(ValueError):
    """row_of saw a structural violation; the loader asks schema.check_record for the words."""


def _check_body(b: Any) -> dict[str, Any]:
    """The body dict ({} for none); _Invalid for anything check_record would reject."""
    if b is None:
        return {}
    if type(b) is not dict:
        raise _Invalid
    size, text, rpc, cut, batch = b.get("size"), b.get("text"), b.get("rpc"), b.get("truncated"), b.get("batch")
    if (size is not None and bad_size(size)) or (text is not None and type(text) is not str) or (
            rpc is not None and type(rpc) is not list) or (cut is not None and type(cut) is not bool) or (
            batch is not None and type(batch) is not bool):
        raise _Invalid
    return b


def _headers(h: Any) -> Any:
    """Header pairs ([name, value] lists of strings); _Invalid otherwise."""
    if h is None:
        return ()
    if type(h) is not list:
        raise _Invalid
    for pair in h:
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str or type(pair[1]) is not str:
            raise _Invalid
    return h


def _check_events(events: Any) -> None:
    if type(events) is not list:
        raise _Invalid
    for ev in events:
        if type(ev) is not dict or type(ev.get("data", "")) is not str:
            raise _Invalid
        t, i, e = ev.get("t"), ev.get("id"), ev.get("event")
        if (t is not None and bad_time(t)) or (i is not None and type(i) is not str) or (e is not None and type(e) is not str):
            raise _Invalid


def _unknown_size(size: Any) -> Any:
    """A body size with null (or none) read as unknown: -1."""
    return -1 if size is None else size


def _checked(problem: str | None, where: str) -> None:
    if problem is not None:
        raise SchemaError(f"'{where}' {problem}")


def _flag(x: Any, where: str) -> bool:
    """A JSON boolean field (absent = false); anything else is a bad record, not a truthy value."""
    if x is None or type(x) is bool:
        return bool(x)
    raise SchemaError(f"'{where}' is not true or false")


def row_of(r: dict[str, Any], src: int, line: int) -> tuple:
    """One exchange record -> one tuple in COLUMNS order (raises on a malformed record).

    Every element of the returned tuple is a local named as its column.
    """
    req = r["req"]
    hv: list[str | None] = [None] * _N_SLOTS
    names = []
    for n, v in _headers(req.get("headers")):
        ln = n.lower()
        names.append(ln)
        slot = _HDR_SLOT.get(ln)
        if slot is not None and hv[slot] is None:
            hv[slot] = _str_or_none(v)
    ua, req_sid, pv_hdr, accept, mcp_method_hdr, mcp_name_hdr, last_event_id, origin, acrh, traceparent = hv
    hnames = ",".join(names)
    t = r["t"]
    http_method = req["method"]
    url = req["url"]
    if type(http_method) is not str or type(url) is not str:
        raise TypeError("method/url")
    exid = r.get("id")
    body = _check_body(req.get("body"))
    rpc = body.get("rpc") or ()
    first = rpc[0] if rpc and type(rpc[0]) is dict else None
    if first is not None:
        rpc_method = _str_or_none(first.get("method"))
        rid = first.get("id")
        params = first.get("params")
        if type(params) is not dict:
            params = {}
        meta = params.get("_meta")
        if type(meta) is not dict:
            meta = {}
    else:
        rpc_method = rid = None
        params = meta = {}
    batch = _flag(body.get("batch"), "req.body.batch")
    req_trunc = _flag(body.get("truncated"), "req.body.truncated")
    n_msgs = len(rpc)
    has_id = rid is not None
    notif_only = bool(rpc) and all(type(m) is dict and not ("method" in m and "id" in m) for m in rpc)
    name = params.get("name")
    if name is None:
        name = params.get("uri")
    name_param = None if name is None else str(name)
    if rpc_method == "initialize":
        client_info = _client_info(params.get("clientInfo"))
        init_pv_req = _str_or_none(params.get("protocolVersion"))
    else:
        client_info = _client_info(meta.get(META_CLIENT_INFO))
        init_pv_req = None
    meta_pv = _str_or_none(meta.get(META_PROTOCOL_VERSION))
    meta_caps = META_CLIENT_CAPABILITIES in meta
    meta_client = META_CLIENT_INFO in meta
    corr = _correlation(meta, traceparent) if meta or traceparent else None
    client = r.get("client")
    conn = _str_or_none(client.get("conn")) if type(client) is dict else None

    resp = r.get("resp")
    neg_pv = None
    if resp is not None and type(resp) is not dict:
        raise _Invalid
    if resp is not None:
        status = resp["status"]
        if type(status) is not int or not 100 <= status <= 599:
            _checked(bad_status(status), "resp.status")
        resp_sid = None
        resp_sid_n = 0
        rv: list[str | None] = [None] * 4
        for n, v in _headers(resp.get("headers")):
            ln = n.lower()
            if ln == H_SESSION:
                resp_sid_n += 1
                if resp_sid is None:
                    resp_sid = _str_or_none(v)
            else:
                slot = _RESP_SLOT.get(ln)
                if slot is not None and type(v) is str:
                    rv[slot] = v if rv[slot] is None else f"{rv[slot]}, {v}"
        acah, aceh, acao, location = rv
        ct = resp.get("content_type")
        if ct is not None and type(ct) is not str:
            raise _Invalid
        ctype = media_type(ct)
        rb = _check_body(resp.get("body"))
        sse = resp.get("sse")
        if sse is not None:
            _check_events(sse)
        sse = sse or ()
        rpc_err, resp_msg = _rpc_error(resp) if status >= 300 or sse else (np.nan, None)
        if resp_msg is None and status >= 400:
            resp_msg = _text_message(resp)
        if sse:
            ev0 = sse[0]
            first_event = _str_or_none(ev0.get("event"))
            first_event_data = ev0.get("data") if first_event == "endpoint" else None
            t_event = ev0.get("t")  # arrival of the first SSE event
        else:
            first_event = first_event_data = t_event = None
        if rpc_method == "initialize":
            res = _find_init_result(resp)
            if res is not None:
                neg_pv = _str_or_none(res.get("protocolVersion"))
        get_responses = _count_stream_responses(sse) if http_method == "GET" and sse else 0
        resp_size, resp_trunc, n_events = _unknown_size(rb.get("size")), _flag(rb.get("truncated"), "resp.body.truncated"), len(sse)
        _checked(bad_size(resp_size), "resp.body.size")
        resp_sid_n = min(resp_sid_n, 99)
    else:
        status, resp_sid, ctype, resp_size, resp_trunc, n_events = -1, None, None, -1, False, 0
        first_event = first_event_data = t_event = None
        get_responses = 0
        resp_sid_n, acah, aceh, acao, location, rpc_err, resp_msg = 0, None, None, None, None, np.nan, None
    error = r.get("error")
    if error is not None and type(error) is not str:
        raise _Invalid
    t_resp, t_end = t.get("resp"), t.get("end")
    t_req = t["req"]
    _checked(bad_time(t_req), "t.req")
    if t_resp is None:
        t_resp = np.nan
    else:
        _checked(bad_time(t_resp), "t.resp")
    if t_end is None:
        t_end = np.nan
    else:
        _checked(bad_time(t_end), "t.end")
    t_event = t_event if type(t_event) in (float, int) else np.nan
    return (
        ua, req_sid, pv_hdr, accept, mcp_method_hdr, mcp_name_hdr, last_event_id,
        hnames, src, line, exid,
        t_req, t_resp, t_end,
        http_method, url,
        batch, req_trunc, n_msgs, rpc_method, has_id,
        notif_only, meta_pv, meta_caps, meta_client, name_param,
        client_info, init_pv_req,
        status, resp_sid, ctype, resp_size, resp_trunc,
        n_events, first_event, first_event_data, neg_pv,
        get_responses, error,
        origin, acrh, traceparent, conn, corr,
        resp_sid_n, acah, aceh, acao, location,
        rpc_err, resp_msg,
        t_event,
    )


def chunk_frame(rows: list[tuple]) -> pd.DataFrame:
    cols = list(zip(*rows)) if rows else [() for _ in COLUMNS]
    data: dict[str, Any] = {}
    for (name, kind), values in zip(COLUMNS, cols):
        if kind in ("cat", "str", "obj"):
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            data[name] = pd.Series(arr, dtype=object, copy=False) if kind == "obj" else _categorical(arr)
        else:
            data[name] = np.asarray(values, dtype=kind)
    return pd.DataFrame(data)


class no_gc:
    """Pause the cyclic GC: records are acyclic, and a million of them make every
    generation-2 pass rescan the whole heap (it more than doubles reading time)."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


def _categorical(arr: np.ndarray) -> pd.Categorical:
    """Factorize without sorting categories (several times faster than Categorical(arr))."""
    codes, uniques = pd.factorize(arr)
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))


__all__ = ["COLUMNS", "row_of", "chunk_frame"]
