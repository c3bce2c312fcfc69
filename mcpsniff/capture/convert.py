"""Pure conversion from mitmproxy HTTP flows to mcpsniff records.

Nothing here has side effects on the flow: the record is built from copies
(decoded, parsed, redacted, cut at the body limit) while mitmproxy forwards
the original bytes.

- :func:`exchange_record` -- one ``kind: exchange`` record from a finished flow;
- :class:`SseCollector` -- the per-response state behind the streaming tap
  (incremental Content-Encoding decoding + :class:`~mcpsniff.sse.SseParser`),
  with a memory bound: once the kept event data passes the body limit, later
  JSON-RPC events keep only an envelope and non-JSON data is cut;
- :func:`exchange_from_parts` -- the same record from plain values (method,
  URL, header pairs, raw bodies ...), for recorders without mitmproxy flows
  (the in-process ASGI middleware); :func:`exchange_record` is built on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

import orjson

from .. import schema
from ..mcp import EVENT_STREAM, media_type
from .decode import StreamDecoder, content_encoding, decode_content
from .redact import Redactor
from .sse import SseEvent, SseParser

from ..options import DEFAULT_BODY_LIMIT
#: ``error`` of an exchange still open when the recording stopped (its events so far are kept)
CAPTURE_STOPPED = "capture stopped"
#: ``error`` of an exchange whose client went away before the response was complete (mitmproxy's words)
CLIENT_DISCONNECTED = "Client disconnected."
PARSE_CAP = 64 << 20  # bodies larger than this are not parsed as JSON at all


# -- JSON-RPC ----------------------------------------------------------------------------
def rpc_messages(obj: Any) -> tuple[list[Any] | None, bool]:
    """(messages, batch) when ``obj`` is a JSON-RPC message or a non-empty batch of them."""
    if isinstance(obj, dict) and "jsonrpc" in obj:
        return [obj], False
    if isinstance(obj, list) and obj and all(isinstance(m, dict) and "jsonrpc" in m for m in obj):
        return list(obj), True
    return None, False


def envelope(msg: Any) -> Any:
    """The parts of a JSON-RPC message the analysis needs, without the payload."""
    if not isinstance(msg, dict):
        return msg
    env: dict[str, Any] = {k: msg[k] for k in ("jsonrpc", "id", "method", "error") if k in msg}
    params = msg.get("params")
    if isinstance(params, dict):
        p = {k: params[k] for k in ("_meta", "name", "uri", "protocolVersion", "clientInfo") if k in params}
        if p:
            env["params"] = p
    result = msg.get("result")
    if isinstance(result, dict):
        r = {k: result[k] for k in ("protocolVersion", "serverInfo", "_meta") if k in result}
        env["result"] = r
    return env


def envelope_from_prefix(text: str) -> dict[str, Any] | None:
    """The JSON-RPC envelope a cut JSON object still shows: its top-level ``jsonrpc``, ``id`` and
    ``method`` values and whether ``result`` / ``error`` began (their contents are not kept)."""
    if not text.startswith("{"):
        return None
    out: dict[str, Any] = {}
    depth, i, n = 0, 0, len(text)
    key: str | None = None
    expect_key = True
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                break
            s = _loads(text[i : j + 1])
            if depth == 1 and expect_key:
                key = s if isinstance(s, str) else None
            elif depth == 1 and key in ("jsonrpc", "id", "method") and isinstance(s, str):
                out[key] = s
            i = j + 1
            continue
        if c in "{[":
            depth += 1
            if depth == 2 and key in ("result", "error", "params"):
                out[key] = {}
        elif c in "}]":
            depth -= 1
        elif c == ":" and depth == 1:
            expect_key = False
        elif c == "," and depth == 1:
            expect_key, key = True, None
        elif depth == 1 and not expect_key and key == "id" and (c.isdigit() or c == "-"):
            j = i
            while j < n and (text[j].isdigit() or text[j] in "-+.eE"):
                j += 1
            num = _loads(text[i:j])
            if isinstance(num, (int, float)):
                out["id"] = num
            i = j
            continue
        i += 1
    return out if "jsonrpc" in out else None


def _loads(data: bytes | str) -> Any:
    """Strict JSON (no NaN, no lone surrogates, valid UTF-8), or _NOT_JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _NOT_JSON


_NOT_JSON = object()


def loads_or_none(data: bytes | str) -> Any:
    """Decoded JSON, or None when it is not JSON (a JSON ``null`` is None too)."""
    obj = _loads(data)
    return None if obj is _NOT_JSON else obj


def _why_not_json(data: bytes) -> str:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as e:
        return f"not valid JSON ({str(e).split(':', 1)[0][:80]})"
    return "not valid JSON"


def keeps_as_json(obj: Any, text_len: int | None = None) -> bool:
    """Whether a value can be written as one JSON line (orjson: nesting up to 254 levels).

    ``text_len``: the length of the JSON text ``obj`` was parsed from (redaction only replaces
    values with strings): a text of up to :data:`SHALLOW` characters cannot nest that deep
    (every level takes two), so there is nothing to try."""
    if text_len is not None and text_len <= SHALLOW:
        return True
    try:
        orjson.dumps(obj)
    except TypeError:
        return False
    return True


#: a JSON text this short nests at most SHALLOW / 2 levels: kept as JSON as it is (see :func:`keeps_as_json`)
SHALLOW = 256


def as_text(data: bytes) -> str:
    """Bytes as text for the record: UTF-8, invalid bytes escaped as \\xNN (never a lone surrogate)."""
    return data.decode("utf-8", "backslashreplace")


def _looks_json(data: bytes) -> bool:
    s = data.lstrip()[:1]
    return s in (b"{", b"[")


def body_record(
    raw: bytes | None,
    headers: Iterable[tuple[str, str]],
    *,
    limit: int = DEFAULT_BODY_LIMIT,
    redactor: Redactor | None = None,
) -> dict[str, Any]:
    """A schema Body from the raw (still content-encoded) bytes of a message."""
    headers = list(headers)
    red = redactor or Redactor(enabled=False)
    enc = content_encoding(headers)
    if raw is None:  # streamed without our tap, or not available
        return schema.make_body(-1, truncated=True, encoding=enc)
    if not raw:
        return schema.make_body(0, encoding=enc)
    try:
        data = decode_content(raw, enc) if enc else raw
    except ValueError as e:  # kept as it travelled, escaped, so nothing forwarded goes unrecorded
        return _text_body(red.text(as_text(raw[: limit + 4096])), len(raw), enc, limit, reason=str(e)[:200])
    size = len(data)
    ctype = (schema.header_value(headers, "content-type") or "").lower()  # type: ignore[arg-type]
    reason = None
    if size <= PARSE_CAP and (_looks_json(data) or "json" in ctype):
        obj = _loads(data)
        if obj is _NOT_JSON:
            reason = _why_not_json(data) if _looks_json(data) else None
        else:
            msgs, batch = rpc_messages(obj)
            if msgs is not None:
                msgs = red.json(msgs)
                if size > limit:
                    env = [envelope(m) for m in msgs]
                    if keeps_as_json(env):
                        return schema.make_body(size, truncated=True, encoding=enc, rpc=env, batch=batch)
                elif keeps_as_json(msgs, size + 2):  # in a list: one level more
                    return schema.make_body(size, encoding=enc, rpc=msgs, batch=batch)
                reason = "JSON nested too deeply to keep as JSON"
            else:
                redacted = red.json(obj)
                if redacted == obj:
                    return _text_body(red.text(as_text(data[: limit + 4096])), size, enc, limit)
                if keeps_as_json(redacted):
                    return _text_body(orjson.dumps(redacted).decode(), size, enc, limit)
                reason = "JSON nested too deeply to keep as JSON"
    head = data[: limit + 4096] if size > limit else data
    text = as_text(head)
    if "x-www-form-urlencoded" in ctype:
        text = red.query(text)
    else:
        text = red.text(text)
    return _text_body(text, size, enc, limit, reason=reason)


def _text_body(text: str, size: int, enc: str | None, limit: int, reason: str | None = None) -> dict[str, Any]:
    """A text Body, cut to ``limit`` bytes (UTF-8) when the body was larger; ``reason`` says why a
    JSON-looking body is kept as text."""
    truncated = size > limit or len(text) > limit
    if truncated:
        b = text.encode("utf-8")[:limit]
        text = b.decode("utf-8", "ignore")
    return schema.make_body(size, truncated=truncated, encoding=enc, text=text, reason=reason)


# -- SSE ---------------------------------------------------------------------------------
class SseCollector:
    """Decode and parse one streamed SSE body, keeping timestamped events.

    ``feed(raw_chunk, t)`` and ``finish(t)`` never raise: a decoding or parsing
    failure stops the collection and is kept in :attr:`failed`.
    """

    def __init__(self, encoding: str | None, *, limit: int = DEFAULT_BODY_LIMIT, redactor: Redactor | None = None):
        self.encoding = encoding
        self.limit = limit
        self.redactor = redactor or Redactor(enabled=False)
        self.events: list[dict[str, Any]] = []
        self.size = 0  # decoded bytes
        self.raw_size = 0
        self.kept = 0  # bytes of event data kept in full
        self.failed: str | None = None
        self.finished = False
        self.endpoints: list[str] = []  # data of `event: endpoint` events (legacy transport)
        # events are parsed whole up to PARSE_CAP so an oversize one still yields its JSON-RPC envelope
        self._parser = SseParser(max_line=max(limit, PARSE_CAP))
        try:
            self._decoder: StreamDecoder | None = StreamDecoder(encoding)
        except ValueError as e:
            self._decoder = None
            self.failed = str(e)

    def feed(self, chunk: bytes, t: float | None = None) -> list[dict[str, Any]]:
        self.raw_size += len(chunk)
        if self.failed or self.finished or self._decoder is None:
            return []
        try:
            data = self._decoder.feed(chunk)
            self.size += len(data)
            return self._add(self._parser.feed(data), t)
        except Exception as e:  # noqa: BLE001 - the tap must never raise
            self.failed = f"SSE capture stopped: {type(e).__name__}: {e}"
            return []

    def finish(self, t: float | None = None) -> list[dict[str, Any]]:
        if self.finished:
            return []
        self.finished = True
        if self.failed or self._decoder is None:
            return []
        try:
            data = self._decoder.flush()
            self.size += len(data)
            return self._add(self._parser.feed(data) + self._parser.flush(), t)
        except Exception as e:  # noqa: BLE001
            self.failed = f"SSE capture stopped: {type(e).__name__}: {e}"
            return []

    def _add(self, evs: list[SseEvent], t: float | None) -> list[dict[str, Any]]:
        if not evs:
            return []
        now = time.time() if t is None else t
        out = [self._event(ev, now) for ev in evs]
        self.events.extend(out)
        return out

    def _event(self, ev: SseEvent, t: float) -> dict[str, Any]:
        red = self.redactor
        data, cut = ev.data, ev.truncated
        if ev.event == "endpoint":
            self.endpoints.append(data)
            data = red.url(data)
        elif data[:1] in ("{", "["):
            obj = _loads(data) if not ev.cut else _NOT_JSON
            if obj is not _NOT_JSON:
                redacted = red.json(obj)
                if self.kept + len(data) > self.limit or not keeps_as_json(redacted, len(data)):
                    msgs, _ = rpc_messages(redacted)
                    env: Any = None
                    if msgs is not None:
                        env = [envelope(m) for m in msgs]
                        env = env if isinstance(redacted, list) else env[0]
                    data = orjson.dumps(env).decode() if env is not None and keeps_as_json(env) else ""
                    cut = True
                elif redacted is not obj:  # red.json copies only what it redacts
                    data = orjson.dumps(redacted).decode()
            elif ev.cut:  # longer than even PARSE_CAP: keep what the prefix says of the envelope
                env = envelope_from_prefix(data)
                data = orjson.dumps(env).decode() if env else ""
            else:
                data = red.text(data)
        elif data:
            data = red.text(data)
        room = max(self.limit - self.kept, 0)
        if len(data) > room and not cut:
            data, cut = data[:room], True
        self.kept += len(data)
        return schema.make_event(t, data, id=ev.id, event=ev.event, retry=ev.retry, truncated=cut)

    def body(self) -> dict[str, Any]:
        """The response Body of the streamed response (the events go in ``resp.sse``)."""
        return schema.make_body(self.size, truncated=bool(self.failed), encoding=self.encoding)


def sse_from_body(raw: bytes | None, encoding: str | None, t: float, **kw: Any) -> SseCollector:
    """Collect the events of an SSE body that was buffered, not streamed."""
    c = SseCollector(encoding, **kw)
    if raw:
        c.feed(raw, t)
    c.finish(t)
    return c


# -- flows -> records --------------------------------------------------------------------
def _addr(addr: Any) -> str | None:
    if not addr:
        return None
    try:
        host, port = addr[0], addr[1]
    except (TypeError, IndexError):
        return str(addr)
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _s(b: bytes | str) -> str:
    return b if isinstance(b, str) else b.decode("utf-8", "replace")


def header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Wire-order (name, value) pairs of mitmproxy Headers, case and duplicates kept."""
    return decode_header_pairs(headers.fields)


def decode_header_pairs(fields: Iterable[tuple[bytes | str, bytes | str]]) -> list[tuple[str, str]]:
    """Raw (name, value) byte pairs (mitmproxy's ``fields``, an ASGI scope's ``headers``) as
    strings, decoded the one way every recorder does it; order, case and duplicates kept."""
    if not isinstance(fields, (list, tuple)):
        fields = list(fields)
    try:  # an ASGI scope's, mitmproxy's fields: all bytes
        return [(n.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for n, v in fields]
    except AttributeError:  # some are str already
        return [(n if isinstance(n, str) else n.decode("utf-8", "replace"),
                 v if isinstance(v, str) else v.decode("utf-8", "replace")) for n, v in fields]


def header_joined(pairs: Iterable[tuple[str, str]], name: str) -> str | None:
    """All values of header ``name`` (case-insensitive) joined with ", " -- how mitmproxy's
    ``Headers.get`` reads a repeated header -- or None when it is absent."""
    lname = name.lower()
    values = [v for n, v in pairs if n.lower() == lname]
    return ", ".join(values) if values else None


def is_sse_headers(pairs: Iterable[tuple[str, str]]) -> bool:
    """Response header pairs that announce a Server-Sent Events body."""
    return media_type(header_joined(pairs, "content-type") or "") == EVENT_STREAM


def is_sse(response: Any) -> bool:
    return response is not None and is_sse_headers(header_pairs(response.headers))


@dataclass
class ResponseParts:
    """A response as plain values: what :func:`exchange_from_parts` needs of it."""

    status: int
    headers: list[tuple[str, str]]  # wire order, case and duplicates kept
    raw: bytes | None  # the body as sent (still content-encoded); None when not kept (streamed)
    reason: str = ""
    http_version: str = "HTTP/1.1"
    t_start: float | None = None  # response headers
    t_end: float | None = None  # response complete


@dataclass
class ExchangeParts:
    """One exchange as plain values: what every recorder hands :func:`exchange_from_parts`."""

    id: str
    t_req: float
    method: str
    url: str
    http_version: str
    req_headers: list[tuple[str, str]]  # wire order, case and duplicates kept
    req_raw: bytes | None  # the request body as sent (still content-encoded)
    resp: ResponseParts | None = None  # None: no response
    t_end: float | None = None  # the end of the exchange (the response's end, or when it failed)
    client_addr: str | None = None
    client_conn: str | None = None
    server_addr: str | None = None
    error: str | None = None
    sse: SseCollector | None = None  # the collector of a streamed SSE response (its events replace the body)


def exchange_from_parts(
    parts: ExchangeParts, *, redactor: Redactor | None = None, body_limit: int = DEFAULT_BODY_LIMIT
) -> dict[str, Any]:
    """The exchange record of one request and its response, from plain values.

    The one place a record is assembled (bodies decoded and parsed, secrets
    redacted, SSE events attached), whichever recorder saw the traffic.
    """
    sse, resp = parts.sse, parts.resp
    req_headers = parts.req_headers
    red = redactor or Redactor(enabled=False)
    req_body = body_record(parts.req_raw, req_headers, limit=body_limit, redactor=red)
    resp_rec = None
    if resp is not None:
        events = None
        if sse is not None:
            body = sse.body()
            events = sse.events
        elif is_sse_headers(resp.headers) and resp.raw is not None:
            c = sse_from_body(
                resp.raw, content_encoding(resp.headers), resp.t_end or resp.t_start,
                limit=body_limit, redactor=red,
            )
            body, events = c.body(), c.events
        else:
            body = body_record(resp.raw, resp.headers, limit=body_limit, redactor=red)
        resp_rec = schema.make_response(
            resp.status,
            red.headers(resp.headers),
            body,
            reason=resp.reason,
            http_version=resp.http_version,
            sse=events,
        )
    return schema.make_exchange(
        parts.id,
        t_req=parts.t_req,
        method=parts.method,
        url=red.url(parts.url),
        req_headers=red.headers(req_headers),
        req_body=req_body,
        http_version=parts.http_version,
        t_resp=resp.t_start if resp is not None else None,
        t_end=parts.t_end,
        client_addr=parts.client_addr,
        client_conn=parts.client_conn,
        server_addr=parts.server_addr,
        resp=resp_rec,
        error=parts.error,
    )


def exchange_record(
    flow: Any,
    *,
    redactor: Redactor | None = None,
    body_limit: int = DEFAULT_BODY_LIMIT,
    sse: SseCollector | None = None,
    error: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The exchange record of an HTTPFlow (:func:`flow_parts`, :func:`exchange_from_parts`)."""
    return exchange_from_parts(flow_parts(flow, sse=sse, error=error, now=now), redactor=redactor, body_limit=body_limit)


def flow_parts(flow: Any, *, sse: SseCollector | None = None, error: str | None = None,
               now: float | None = None) -> ExchangeParts:
    """An HTTPFlow as plain values.  ``sse`` is the collector of a streamed SSE response (mitmproxy
    no longer holds its body); ``error`` overrides ``flow.error`` (e.g. "capture stopped"), and the
    exchange then ends at ``now``."""
    req = flow.request
    resp = flow.response
    parts = None
    t_end = None
    if resp is not None:
        parts = ResponseParts(
            resp.status_code,
            header_pairs(resp.headers),
            resp.raw_content,
            reason=resp.reason or "",
            http_version=resp.http_version,
            t_start=resp.timestamp_start,
            t_end=resp.timestamp_end,
        )
        t_end = resp.timestamp_end
    err = error
    if err is None and flow.error is not None:
        err = flow.error.msg
    if err is not None and t_end is None:
        t_end = flow.error.timestamp if (flow.error is not None and error is None) else (now or time.time())
    cc = flow.client_conn
    sc = flow.server_conn
    return ExchangeParts(
        flow.id,
        t_req=req.timestamp_start,
        method=req.method,
        url=req.url,
        http_version=req.http_version,
        req_headers=header_pairs(req.headers),
        req_raw=req.raw_content,
        resp=parts,
        t_end=t_end,
        client_addr=_addr(getattr(cc, "peername", None)) if cc else None,
        client_conn=getattr(cc, "id", None) if cc else None,
        server_addr=_addr(getattr(sc, "address", None)) if sc else None,
        error=err,
        sse=sse,
    )


def fallback_record(flow: Any, why: str, error: str | None = None, redactor: Redactor | None = None) -> dict[str, Any]:
    """What can safely be said of a flow whose full conversion failed (:func:`fallback_from_parts`).
    Never raises."""
    return fallback_from_parts(**flow_summary(flow, error), why=why, redactor=redactor)


def flow_summary(flow: Any, error: str | None = None) -> dict[str, Any]:
    """What can always be read of a flow, for :func:`fallback_from_parts`.  Never raises."""
    req = flow.request
    try:
        url = str(req.url)
    except Exception:  # noqa: BLE001
        url = "?"
    resp = flow.response
    try:
        status = int(resp.status_code) if resp is not None else None
    except Exception:  # noqa: BLE001
        status = None
    return dict(id=getattr(flow, "id", "?"), t_req=getattr(req, "timestamp_start", None),
                method=getattr(req, "method", "?"), url=url, status=status, error=error)


def fallback_from_parts(
    id: str, *, t_req: float | None, method: Any, url: str, status: int | None, why: str, error: str | None = None,
    redactor: Redactor | None = None,
) -> dict[str, Any]:
    """What can safely be said of an exchange whose full conversion failed: method, URL (query
    dropped: it may hold secrets; the path redacted when a ``redactor`` is given, and dropped when
    redacting it fails), status and why the rest is missing -- so it is not lost silently.
    Never raises."""
    try:
        url = str(url).split("?", 1)[0]
        if redactor is not None:
            url = redactor.url(url)
    except Exception:  # noqa: BLE001
        url = "?"
    resp_rec = None
    if status is not None:
        try:
            resp_rec = schema.make_response(int(status), [], schema.make_body(-1, truncated=True))
        except Exception:  # noqa: BLE001
            resp_rec = None
    return schema.make_exchange(
        str(id), t_req=t_req or time.time(), method=str(method), url=url,
        req_headers=[], req_body=schema.make_body(-1, truncated=True), resp=resp_rec,
        error=f"{error}; {why}" if error else why,
    )
