"""The mcpsniff JSONL record schema, version 1 -- defined here once.

Every writer (the mitmproxy addon, the HAR / flow converters, the sample
generators) builds its lines with the ``make_*`` functions below and every
reader checks them with :func:`check_record`.  The format is documented for
users in ``docs/schema.md``; keep the two in step.

One line is one JSON object.  Two kinds exist:

``{"v": 1, "kind": "meta", ...}``
    capture metadata (tool versions, proxy mode, redaction settings).  Optional,
    may appear more than once (e.g. when several captures are concatenated).

``{"v": 1, "kind": "exchange", ...}``
    one HTTP exchange (request and, if any, its response).  Fields::

        id          str    unique within the capture (mitmproxy flow id)
        t           {"req": float, "resp": float|null, "end": float|null}
                    request start, response headers received, exchange end
                    (epoch seconds)
        client      {"addr": "host:port"|null, "conn": str|null}
        server      {"addr": "host:port"|null} (optional)
        req         {"method": str, "url": str, "http_version": str,
                     "headers": [[name, value], ...], "body": Body}
        resp        null | {"status": int, "reason": str, "http_version": str,
                     "headers": [[name, value], ...], "content_type": str|null,
                     "body": Body, "sse": [Event, ...] | null}
        error       null | str   why the exchange never completed normally
                    (no response, client disconnect, capture stopped ...)

    Body::

        {"size": int,          bytes on the wire after content decoding
                               (-1 when unknown)
         "truncated": bool,    the stored content is incomplete
         "encoding": str|null, the Content-Encoding the body travelled with
         "rpc": [msg, ...] | null,   decoded JSON-RPC message(s); a batch
                               (JSON array) keeps all its members
         "batch": bool,        the body was a JSON array
         "text": str|null,     the body as text when it is not JSON-RPC
                               (cut at the recorder's size limit; bytes that are
                               not UTF-8 escaped as \\xNN)
         "reason": str}        optional: why a body that looked like JSON (or
                               could not be decoded) is kept as text

    Event (one per SSE event, in arrival order)::

        {"t": float, "id": str|null, "event": str|null, "data": str,
         "retry": int|null, "truncated": bool}

Headers are ordered ``[name, value]`` pairs exactly as on the wire (case and
duplicates kept).  Redacted values are replaced by ``<redacted:XXXXXXXX>``
where ``XXXXXXXX`` is a keyed hash that is stable within one capture.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

SCHEMA_VERSION = 1
KIND_EXCHANGE = "exchange"
KIND_META = "meta"
REDACTED_PREFIX = "<redacted:"


class SchemaError(ValueError):
    """A decoded line is not a valid mcpsniff record (message = the reason)."""


# -- value rules: one definition for check_record and the model's fast row extraction ----------
#: timestamps are epoch seconds between 1970 and 2100
MAX_TIME = 4_102_444_800.0
#: sizes are byte counts (-1: unknown) below 2**53 (exact as a float, far beyond any body)
MAX_SIZE = 1 << 53


def rotated_path(path: str, part: int) -> str:
    """The name of a capture file's rotated part (the writer's and the readers' one rule):
    ``cap.jsonl`` -> ``cap.1.jsonl``; ``cap`` (no .jsonl) -> ``cap.1.jsonl``; part 0 is ``path``."""
    if part == 0:
        return path
    stem = path[: -len(".jsonl")] if path.endswith(".jsonl") else path
    return f"{stem}.{part}.jsonl"


def bad_status(x: Any) -> str | None:
    """Why ``x`` is not an HTTP status (None if it is one). Booleans are not integers here."""
    if type(x) is not int:
        return f"is {_type_name(x)}, not an integer"
    return None if 100 <= x <= 599 else f"{x} is not an HTTP status (100-599)"


def bad_time(x: Any) -> str | None:
    """Why ``x`` is not a timestamp (epoch seconds, finite, 1970..2100)."""
    if type(x) not in (int, float):
        return f"is {_type_name(x)}, not a number of seconds"
    if not math.isfinite(x) or not 0 <= x < MAX_TIME:
        return f"{x!r} is not a time between 1970 and 2100 (epoch seconds)"
    return None


def bad_size(x: Any) -> str | None:
    """Why ``x`` is not a body size (an integer byte count, -1 for unknown)."""
    if type(x) is not int:
        return f"is {_type_name(x)}, not an integer"
    return None if -1 <= x < MAX_SIZE else f"{x} is not a byte count"


def _need(problem: str | None, where: str) -> None:
    if problem is not None:
        raise SchemaError(f"'{where}' {problem}")


def make_body(
    size: int = 0,
    *,
    truncated: bool = False,
    encoding: str | None = None,
    rpc: list[Any] | None = None,
    batch: bool = False,
    text: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    body = {
        "size": size,
        "truncated": truncated,
        "encoding": encoding,
        "rpc": rpc,
        "batch": batch,
        "text": text,
    }
    if reason is not None:  # only when a body that looked like JSON is kept as text
        body["reason"] = reason
    return body


def make_event(
    t: float,
    data: str,
    *,
    id: str | None = None,
    event: str | None = None,
    retry: int | None = None,
    truncated: bool = False,
) -> dict[str, Any]:
    return {"t": t, "id": id, "event": event, "data": data, "retry": retry, "truncated": truncated}


def make_response(
    status: int,
    headers: Iterable[tuple[str, str]] | Iterable[list[str]],
    body: dict[str, Any] | None = None,
    *,
    reason: str = "",
    http_version: str = "HTTP/1.1",
    content_type: str | None = None,
    sse: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    hdrs = [[str(n), str(v)] for n, v in headers]
    if content_type is None:
        content_type = header_value(hdrs, "content-type")
    return {
        "status": int(status),
        "reason": reason,
        "http_version": http_version,
        "headers": hdrs,
        "content_type": content_type,
        "body": body if body is not None else make_body(),
        "sse": sse,
    }


def make_exchange(
    id: str,
    *,
    t_req: float,
    method: str,
    url: str,
    req_headers: Iterable[tuple[str, str]] | Iterable[list[str]],
    req_body: dict[str, Any] | None = None,
    http_version: str = "HTTP/1.1",
    t_resp: float | None = None,
    t_end: float | None = None,
    client_addr: str | None = None,
    client_conn: str | None = None,
    server_addr: str | None = None,
    resp: dict[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "v": SCHEMA_VERSION,
        "kind": KIND_EXCHANGE,
        "id": id,
        "t": {"req": t_req, "resp": t_resp, "end": t_end},
        "client": {"addr": client_addr, "conn": client_conn},
        "server": {"addr": server_addr},
        "req": {
            "method": method,
            "url": url,
            "http_version": http_version,
            "headers": [[str(n), str(v)] for n, v in req_headers],
            "body": req_body if req_body is not None else make_body(),
        },
        "resp": resp,
        "error": error,
    }


def make_meta(**fields: Any) -> dict[str, Any]:
    """A capture-metadata line; free-form fields beside ``v`` and ``kind``."""
    return {"v": SCHEMA_VERSION, "kind": KIND_META, **fields}


def header_value(headers: list[list[str]] | None, name: str) -> str | None:
    """First value of header ``name`` (case-insensitive) in ordered pairs."""
    if not headers:
        return None
    lname = name.lower()
    for pair in headers:
        if pair[0].lower() == lname:
            return pair[1]
    return None


def _type_name(x: Any) -> str:
    return type(x).__name__


def check_record(obj: Any) -> str:
    """Validate one decoded line; return its kind or raise :class:`SchemaError`.

    Checks the structure readers rely on, not every optional detail, so that
    a validated record never makes a reader crash.
    """
    if not isinstance(obj, dict):
        raise SchemaError(f"expected a JSON object, got {_type_name(obj)}")
    v = obj.get("v")
    if v is None:
        raise SchemaError("not an mcpsniff record (no schema version 'v')")
    if v != SCHEMA_VERSION:
        raise SchemaError(f"unsupported schema version {v!r} (this mcpsniff reads version {SCHEMA_VERSION})")
    kind = obj.get("kind")
    if kind == KIND_META:
        return kind
    if kind != KIND_EXCHANGE:
        raise SchemaError(f"unknown record kind {kind!r}")
    t = obj.get("t")
    if not isinstance(t, dict) or "req" not in t:
        raise SchemaError("exchange without a request timestamp 't.req'")
    _need(bad_time(t["req"]), "t.req")
    for k in ("resp", "end"):
        if t.get(k) is not None:
            _need(bad_time(t[k]), f"t.{k}")
    req = obj.get("req")
    if not isinstance(req, dict):
        raise SchemaError("exchange without a 'req' object")
    if not isinstance(req.get("method"), str) or not isinstance(req.get("url"), str):
        raise SchemaError("request without 'method' and 'url' strings")
    _check_headers(req.get("headers"), "req.headers")
    _check_body(req.get("body"), "req.body")
    resp = obj.get("resp")
    if resp is not None:
        if not isinstance(resp, dict) or "status" not in resp:
            raise SchemaError("response without an integer 'status'")
        _need(bad_status(resp["status"]), "resp.status")
        _check_headers(resp.get("headers"), "resp.headers")
        _check_body(resp.get("body"), "resp.body")
        if resp.get("content_type") is not None and not isinstance(resp["content_type"], str):
            raise SchemaError("'resp.content_type' is not a string")
        sse = resp.get("sse")
        if sse is not None:
            if not isinstance(sse, list):
                raise SchemaError("'resp.sse' is not a list")
            for ev in sse:
                if not isinstance(ev, dict) or not isinstance(ev.get("data", ""), str):
                    raise SchemaError("an SSE event is not an object with string 'data'")
                if ev.get("t") is not None:
                    _need(bad_time(ev["t"]), "resp.sse[].t")
                for k in ("id", "event"):
                    if ev.get(k) is not None and not isinstance(ev[k], str):
                        raise SchemaError(f"'resp.sse[].{k}' is not a string")
    err = obj.get("error")
    if err is not None and not isinstance(err, str):
        raise SchemaError("'error' is not a string")
    return kind


def _check_headers(h: Any, where: str) -> None:
    if h is None:
        return
    if not isinstance(h, list):
        raise SchemaError(f"'{where}' is not a list of [name, value] pairs")
    for pair in h:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], str)):
            raise SchemaError(f"'{where}' holds an entry that is not a [name, value] pair of strings")


def _check_body(b: Any, where: str) -> None:
    if b is None:
        return
    if not isinstance(b, dict):
        raise SchemaError(f"'{where}' is not an object")
    if b.get("size") is not None:  # null reads as unknown, like -1
        _need(bad_size(b["size"]), f"{where}.size")
    for k in ("truncated", "batch"):
        if b.get(k) is not None and type(b[k]) is not bool:
            raise SchemaError(f"'{where}.{k}' is not true or false")
    rpc = b.get("rpc")
    if rpc is not None and not isinstance(rpc, list):
        raise SchemaError(f"'{where}.rpc' is not a list of messages")
    if b.get("text") is not None and not isinstance(b["text"], str):
        raise SchemaError(f"'{where}.text' is not a string")
