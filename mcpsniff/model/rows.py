"""Rows: schema records -> the columns the model needs, fast.

``row_of`` is the only per-exchange Python in the analyzer: it pulls ~40 fields
out of a record into one tuple.  The tuple is positional for speed, but its
elements are locals named exactly as the columns in :data:`COLUMNS`, and
``tests/model/test_rows.py`` checks the two line up by name.  A record it cannot
read is explained by ``schema.check_record`` (see ``load``), so every record is
either used or reported, never silently dropped.

Big JSONL inputs are split into byte ranges read by worker processes (one per
core); each returns a compact DataFrame chunk (categoricals) that the parent
concatenates.
"""

from __future__ import annotations

import gc
import os
from concurrent.futures import ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any, Callable

import numpy as np
import orjson
import pandas as pd
from pandas.api.types import union_categoricals

from .. import load
from ..load import InputInfo, Problem, Reading
from ..mcp import (
    H_ACCEPT, H_LAST_EVENT_ID, H_METHOD, H_NAME, H_PROTOCOL_VERSION, H_SESSION, H_USER_AGENT,
    META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, media_type,
)

PARALLEL_MIN_BYTES = 64 * 1024 * 1024

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
                return (float(code) if type(code) is int else np.nan), (msg[:MSG_CHARS] if isinstance(msg, str) else None)
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


def row_of(r: dict[str, Any], src: int, line: int) -> tuple:
    """One exchange record -> one tuple in COLUMNS order (raises on a malformed record).

    Every element of the returned tuple is a local named as its column.
    """
    req = r["req"]
    hv: list[str | None] = [None] * _N_SLOTS
    names = []
    for n, v in req["headers"]:
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
    body = req.get("body") or {}
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
    batch = bool(body.get("batch"))
    req_trunc = bool(body.get("truncated"))
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
    if resp:
        status = resp["status"]
        resp_sid = None
        resp_sid_n = 0
        rv: list[str | None] = [None] * 4
        for n, v in resp.get("headers") or ():
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
        rpc_err, resp_msg = _rpc_error(resp) if status >= 300 or resp.get("sse") else (np.nan, None)
        if resp_msg is None and status >= 400:
            resp_msg = _text_message(resp)
        ctype = media_type(resp.get("content_type"))
        rb = resp.get("body") or {}
        sse = resp.get("sse") or ()
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
        resp_size, resp_trunc, n_events = rb.get("size", -1), bool(rb.get("truncated")), len(sse)
    else:
        status, resp_sid, ctype, resp_size, resp_trunc, n_events = -1, None, None, -1, False, 0
        first_event = first_event_data = t_event = None
        get_responses = 0
        resp_sid_n, acah, aceh, acao, location, rpc_err, resp_msg = 0, None, None, None, None, np.nan, None
    err = r.get("error")
    error = err if isinstance(err, str) else None
    t_resp, t_end = t.get("resp"), t.get("end")
    t_req = t["req"]
    t_resp = np.nan if t_resp is None else t_resp
    t_end = np.nan if t_end is None else t_end
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


def frame(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate chunks (categoricals unioned) and order by time; file order breaks ties."""
    if not chunks:
        chunks = [chunk_frame([])]
    data = {}
    for name, kind in COLUMNS:
        parts = [c[name] for c in chunks]
        if kind in ("cat", "str"):
            col = parts[0].array if len(parts) == 1 else union_categoricals([pd.Categorical(p) for p in parts])
            data[name] = pd.Series(_to_str_array(col), dtype=object, copy=False) if kind == "str" else col
        elif kind == "obj":  # explicit: pandas 3 would infer its own string dtype
            data[name] = pd.Series(np.concatenate([p.to_numpy(dtype=object) for p in parts]), dtype=object, copy=False)
        else:
            data[name] = parts[0].to_numpy() if len(parts) == 1 else np.concatenate([p.to_numpy() for p in parts])
    df = pd.DataFrame(data)
    return df.sort_values(["t_req", "src", "line"], kind="stable").reset_index(drop=True)


def _categorical(arr: np.ndarray) -> pd.Categorical:
    """Factorize without sorting categories (several times faster than Categorical(arr))."""
    codes, uniques = pd.factorize(arr)
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))


def _to_str_array(cat: pd.Categorical) -> np.ndarray:
    """Categorical -> object array of str, None where missing."""
    cats = np.empty(len(cat.categories) + 1, dtype=object)
    cats[:-1] = cat.categories.to_numpy(dtype=object)
    cats[-1] = None
    return cats[cat.codes]  # code -1 (missing) picks the trailing None


_BYTES: Any = None  # bytes read per range of a parallel read (shared memory, made before the workers fork)


def _read_range(name: str, si: int, start: int, end: int, slot: int = -1,
                tick: Callable[[], None] | None = None) -> tuple[pd.DataFrame, list[tuple[int, str]], int, list, int]:
    """Worker: rows of the lines starting in [start, end) of a JSONL file; bytes read go to
    ``_BYTES[slot]`` (then ``tick()``) when progress is wanted."""
    problems: list[tuple[int, str]] = []
    r = Reading(name, lambda p: problems.append((p.line or 0, p.reason)))
    on_bytes = None
    if slot >= 0 and _BYTES is not None:
        def on_bytes(n: int) -> None:
            _BYTES[slot] = n
            if tick is not None:
                tick()
    with no_gc():
        rows = [row for _, row in load.read(r, convert=lambda rec, ln: row_of(rec, si, ln), byte_range=(start, end),
                                            on_bytes=on_bytes)]
        return chunk_frame(rows), problems, r.exchanges, r.meta, r.lines


def read_rows(
    names: list[str],
    report: Callable[[Problem], None],
    *,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[list[pd.DataFrame], list[InputInfo]]:
    """Read every input into DataFrame chunks (in input order), and what each input held.

    ``progress`` is told how many exchanges were read so far, ``on_bytes`` how many bytes
    of all inputs together (both now and then, while reading)."""
    global _BYTES
    workers = workers or os.cpu_count() or 1
    chunks: list[pd.DataFrame] = []
    infos: list[InputInfo] = []
    n_total = 0
    bytes_before = 0  # bytes of the inputs already read
    for si, name in enumerate(names):
        ranges = None
        if workers > 1 and not strict and name != "-" and load.file_size(name) >= PARALLEL_MIN_BYTES:
            ranges = load.jsonl_ranges(name, workers)
        if ranges:
            # workers take all ranges but the last, which this process reads meanwhile
            _BYTES = get_context("fork").Array("q", len(ranges), lock=False) if on_bytes else None
            tick = (lambda base=bytes_before: on_bytes(base + sum(_BYTES))) if on_bytes else None  # noqa: E731
            with ProcessPoolExecutor(max_workers=len(ranges) - 1, mp_context=get_context("fork")) as pool:
                futures = [pool.submit(_read_range, name, si, a, b, i) for i, (a, b) in enumerate(ranges[:-1])]
                own = _read_range(name, si, *ranges[-1], len(ranges) - 1, tick)
                while tick and wait(futures, timeout=0.25).not_done:
                    tick()  # this process is done with its range: keep showing the workers' progress
                if tick:
                    tick()  # the workers' last bytes
                _BYTES = None
                line_base = exchanges = 0
                meta: list[dict[str, Any]] = []
                for result in [f.result() for f in futures] + [own]:
                    df, problems, n, part_meta, lines = result
                    if line_base:
                        df["line"] += line_base
                    for ln, reason in problems:
                        report(Problem(name, ln + line_base, reason))
                    exchanges += n
                    meta += part_meta
                    line_base += lines
                    chunks.append(df)
                    n_total += n
                    if progress:
                        progress(n_total)
            infos.append(InputInfo(name, "jsonl", exchanges, tuple(meta)))
            bytes_before += load.file_size(name)
            continue
        rows = []
        r = Reading(name, report, strict)
        count = (lambda n, base=bytes_before: on_bytes(base + n)) if on_bytes else None  # noqa: E731
        with no_gc():
            for _, row in load.read(r, convert=lambda rec, ln, si=si: row_of(rec, si, ln), on_bytes=count):
                rows.append(row)
                if progress is not None and not len(rows) & 0x3FFF:
                    progress(n_total + len(rows))
            n_total += len(rows)
            chunks.append(chunk_frame(rows))
        infos.append(r.info())
        bytes_before += load.file_size(name)
    return chunks, infos


__all__ = ["COLUMNS", "row_of", "chunk_frame", "frame", "read_rows"]
