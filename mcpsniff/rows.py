"""Rows: schema records -> the columns the model needs, fast.

``row_of`` is the only per-exchange Python in the analyzer: it pulls ~40 fields
out of a record into one tuple.  A record it cannot read is explained by
``schema.check_record`` (see ``load``), so every record is either used or
reported, never silently dropped.

Big JSONL inputs are split into byte ranges read by worker processes (one per
core); each returns a compact DataFrame chunk (categoricals) that the parent
concatenates.
"""

from __future__ import annotations

import gc
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Callable

import numpy as np
import orjson
import pandas as pd
from pandas.api.types import union_categoricals

from .load import Problem, Source, iter_source, jsonl_ranges

META_PV = "io.modelcontextprotocol/protocolVersion"
META_CAPS = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT = "io.modelcontextprotocol/clientInfo"
PARALLEL_MIN_BYTES = 64 * 1024 * 1024

_HDR_SLOT = {
    "user-agent": 0,
    "mcp-session-id": 1,
    "mcp-protocol-version": 2,
    "accept": 3,
    "mcp-method": 4,
    "mcp-name": 5,
    "last-event-id": 6,
}

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
    """One exchange record -> one tuple in COLUMNS order (raises on a malformed record)."""
    req = r["req"]
    hv: list[str | None] = [None] * 7
    names = []
    for n, v in req["headers"]:
        ln = n.lower()
        names.append(ln)
        slot = _HDR_SLOT.get(ln)
        if slot is not None and hv[slot] is None:
            hv[slot] = _str_or_none(v)
    t = r["t"]
    method = req["method"]
    url = req["url"]
    if type(method) is not str or type(url) is not str:
        raise TypeError("method/url")
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
    notif_only = bool(rpc) and all(type(m) is dict and not ("method" in m and "id" in m) for m in rpc)
    name = params.get("name")
    if name is None:
        name = params.get("uri")
    if rpc_method == "initialize":
        client_info = _client_info(params.get("clientInfo"))
        init_pv = _str_or_none(params.get("protocolVersion"))
    else:
        client_info = _client_info(meta.get(META_CLIENT))
        init_pv = None

    resp = r.get("resp")
    neg = None
    if resp:
        status = resp["status"]
        resp_sid = None
        for n, v in resp.get("headers") or ():
            if n.lower() == "mcp-session-id":
                resp_sid = _str_or_none(v)
                break
        ct = resp.get("content_type")
        ctype = ct.split(";", 1)[0].strip().lower() if type(ct) is str else None
        rb = resp.get("body") or {}
        sse = resp.get("sse") or ()
        if sse:
            ev0 = sse[0]
            first_event = _str_or_none(ev0.get("event"))
            first_data = ev0.get("data") if first_event == "endpoint" else None
        else:
            first_event = first_data = None
        if rpc_method == "initialize":
            res = _find_init_result(resp)
            if res is not None:
                neg = _str_or_none(res.get("protocolVersion"))
        get_responses = _count_stream_responses(sse) if method == "GET" and sse else 0
        resp_size, resp_trunc, n_events = rb.get("size", -1), bool(rb.get("truncated")), len(sse)
    else:
        status, resp_sid, ctype, resp_size, resp_trunc, n_events = -1, None, None, -1, False, 0
        first_event = first_data = None
        get_responses = 0
    err = r.get("error")
    mpv = meta.get(META_PV)
    t_resp, t_end = t.get("resp"), t.get("end")
    return (
        *hv, ",".join(names), src, line, r.get("id"),
        t["req"], np.nan if t_resp is None else t_resp, np.nan if t_end is None else t_end,
        method, url,
        bool(body.get("batch")), bool(body.get("truncated")), len(rpc), rpc_method, rid is not None,
        notif_only, _str_or_none(mpv), META_CAPS in meta, META_CLIENT in meta, None if name is None else str(name),
        client_info, init_pv,
        status, resp_sid, ctype, resp_size, resp_trunc,
        n_events, first_event, first_data, neg,
        get_responses, err if isinstance(err, str) else None,
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


def _read_range(name: str, si: int, start: int, end: int) -> tuple[pd.DataFrame, list[tuple[int, str]], int, list, int]:
    """Worker: rows of the lines starting in [start, end) of a JSONL file."""
    problems: list[tuple[int, str]] = []
    src = Source(name)
    with no_gc():
        rows = [r for _, r in iter_source(src, lambda p: problems.append((p.line or 0, p.reason)),
                                           convert=lambda rec, ln: row_of(rec, si, ln), byte_range=(start, end))]
        return chunk_frame(rows), problems, src.exchanges, src.meta or [], src.lines


def read_rows(
    sources: list[Source],
    report: Callable[[Problem], None],
    *,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> list[pd.DataFrame]:
    """Read every source into DataFrame chunks (in source order)."""
    workers = workers or os.cpu_count() or 1
    chunks: list[pd.DataFrame] = []
    n_total = 0
    for si, src in enumerate(sources):
        ranges = None
        if workers > 1 and not strict and src.name != "-":
            try:
                size = os.path.getsize(src.name)
            except OSError:
                size = 0
            if size >= PARALLEL_MIN_BYTES:
                ranges = jsonl_ranges(src, workers)
        if ranges:
            # workers take all ranges but the last, which this process reads meanwhile
            with ProcessPoolExecutor(max_workers=len(ranges) - 1, mp_context=get_context("fork")) as pool:
                futures = [pool.submit(_read_range, src.name, si, a, b) for a, b in ranges[:-1]]
                own = _read_range(src.name, si, *ranges[-1])
                line_base = 0
                for result in [f.result() for f in futures] + [own]:
                    df, problems, n, meta, lines = result
                    if line_base:
                        df["line"] += line_base
                    for ln, reason in problems:
                        report(Problem(src.name, ln + line_base, reason))
                    src.exchanges += n
                    if meta:
                        src.meta = (src.meta or []) + meta
                    line_base += lines
                    chunks.append(df)
                    n_total += n
                    if progress:
                        progress(n_total)
            continue
        rows = []
        with no_gc():
            for _, row in iter_source(src, report, strict=strict, convert=lambda rec, ln, si=si: row_of(rec, si, ln)):
                rows.append(row)
                if progress is not None and not len(rows) & 0x3FFF:
                    progress(n_total + len(rows))
            n_total += len(rows)
            chunks.append(chunk_frame(rows))
    return chunks


__all__ = ["COLUMNS", "row_of", "chunk_frame", "frame", "read_rows"]
