"""Pure conversion from mitmproxy HTTP flows to mcpsniff records.

Nothing here has side effects on the flow: the record is built from copies
(decoded, parsed, redacted, cut at the body limit) while mitmproxy forwards
the original bytes.

- :func:`exchange_record` -- one ``kind: exchange`` record from a finished flow;
- :class:`SseCollector` -- the per-response state behind the streaming tap
  (incremental Content-Encoding decoding + :class:`~mcpsniff.sse.SseParser`),
  with a memory bound: once the kept event data passes the body limit, later
  JSON-RPC events keep only an envelope and non-JSON data is cut;
- :func:`is_mcp` / :class:`McpEndpoints` -- whether an exchange is MCP traffic.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any, Callable, Iterable
from urllib.parse import urljoin, urlsplit

from . import schema
from .redact import Redactor
from .sse import SseEvent, SseParser

DEFAULT_BODY_LIMIT = 1 << 20  # 1 MiB
MCP_HEADERS = ("mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name")
_PARSE_CAP = 64 << 20  # bodies larger than this are not parsed as JSON at all


# -- Content-Encoding, incrementally ---------------------------------------------------
class _Identity:
    def feed(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Gzip:
    def __init__(self) -> None:
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        out = self._d.decompress(data)
        # concatenated gzip members: start again on what is left
        while self._d.eof and self._d.unused_data:
            rest = self._d.unused_data
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._d.decompress(rest)
        return out

    def flush(self) -> bytes:
        return self._d.flush()


class _Deflate:
    """zlib-wrapped deflate, falling back to raw deflate (servers send both)."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(zlib.MAX_WBITS)
        self._started = False
        self._seen = b""

    def feed(self, data: bytes) -> bytes:
        if self._started:
            return self._d.decompress(data)
        self._seen += data
        try:
            out = self._d.decompress(data)
        except zlib.error:
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._d.decompress(self._seen)
        if out:
            self._started, self._seen = True, b""
        return out

    def flush(self) -> bytes:
        return self._d.flush()


class _Brotli:
    def __init__(self) -> None:
        import brotli

        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> bytes:
        return self._d.process(data) if data else b""

    def flush(self) -> bytes:
        return b""


class _Zstd:
    def __init__(self) -> None:
        self._new = _zstd_factory()
        self._d = self._new()

    def feed(self, data: bytes) -> bytes:
        out = self._d.decompress(data) if data else b""
        # a finished frame followed by another (stdlib / backports API)
        while getattr(self._d, "eof", False) and getattr(self._d, "unused_data", b""):
            rest = self._d.unused_data
            self._d = self._new()
            out += self._d.decompress(rest)
        return out

    def flush(self) -> bytes:
        return b""


def _zstd_factory() -> Callable[[], Any]:
    for mod in ("compression.zstd", "backports.zstd"):
        try:
            m = __import__(mod, fromlist=["ZstdDecompressor"])
            return m.ZstdDecompressor
        except ImportError:
            continue
    import zstandard  # mitmproxy 11 depends on it

    return lambda: zstandard.ZstdDecompressor().decompressobj()


_DECODERS: dict[str, Callable[[], Any]] = {
    "identity": _Identity,
    "gzip": _Gzip,
    "x-gzip": _Gzip,
    "deflate": _Deflate,
    "br": _Brotli,
    "zstd": _Zstd,
}


def content_encoding(headers: Iterable[tuple[str, str]] | Any) -> str | None:
    """The Content-Encoding value (lower case), ``None`` for none or identity."""
    for name, value in headers:
        if name.lower() == "content-encoding":
            v = value.strip().lower()
            return v if v and v != "identity" else None
    return None


class StreamDecoder:
    """Incremental decoder for a (possibly stacked, ``gzip, br``) Content-Encoding."""

    def __init__(self, encoding: str | None) -> None:
        names = [e.strip() for e in (encoding or "").lower().split(",") if e.strip()]
        unknown = [n for n in names if n not in _DECODERS]
        if unknown:
            raise ValueError(f"unsupported Content-Encoding {', '.join(unknown)}")
        # applied in reverse order of the header's list
        self._chain = [_DECODERS[n]() for n in reversed(names)]

    def feed(self, data: bytes) -> bytes:
        for d in self._chain:
            data = d.feed(data)
        return data

    def flush(self) -> bytes:
        out = b""
        for i, d in enumerate(self._chain):
            out = d.feed(out) if i else b""
            out += d.flush()
        return out


def decode_content(raw: bytes, encoding: str | None) -> bytes:
    """Decode a whole body; ValueError when it cannot be decoded."""
    try:
        dec = StreamDecoder(encoding)
        return dec.feed(raw) + dec.flush()
    except ValueError:
        raise
    except Exception as e:  # zlib.error, brotli.error, zstd errors ...
        raise ValueError(f"cannot decode {encoding} body: {e}") from e


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


def _loads(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return _NOT_JSON


_NOT_JSON = object()


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
    except ValueError:
        return schema.make_body(len(raw), truncated=True, encoding=enc)
    size = len(data)
    ctype = (schema.header_value([list(h) for h in headers], "content-type") or "").lower()
    if size <= _PARSE_CAP and (_looks_json(data) or "json" in ctype):
        obj = _loads(data)
        if obj is not _NOT_JSON:
            msgs, batch = rpc_messages(obj)
            if msgs is not None:
                msgs = red.json(msgs)
                if size > limit:
                    return schema.make_body(
                        size, truncated=True, encoding=enc, rpc=[envelope(m) for m in msgs], batch=batch
                    )
                return schema.make_body(size, encoding=enc, rpc=msgs, batch=batch)
            redacted = red.json(obj)
            text = data.decode("utf-8", "replace") if redacted == obj else json.dumps(redacted, ensure_ascii=False)
            return _text_body(text, size, enc, limit)
    head = data[: limit + 4096] if size > limit else data
    text = head.decode("utf-8", "replace")
    if "x-www-form-urlencoded" in ctype:
        text = red.query(text)
    else:
        text = red.text(text)
    return _text_body(text, size, enc, limit)


def _text_body(text: str, size: int, enc: str | None, limit: int) -> dict[str, Any]:
    """A text Body, cut to ``limit`` bytes (UTF-8) when the body was larger."""
    truncated = size > limit
    if truncated:
        b = text.encode("utf-8")[:limit]
        text = b.decode("utf-8", "ignore")
    return schema.make_body(size, truncated=truncated, encoding=enc, text=text)


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
        self._parser = SseParser(max_line=max(limit, 4096))
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
            obj = _loads(data)
            if obj is not _NOT_JSON:
                redacted = red.json(obj)
                if self.kept + len(data) > self.limit:
                    msgs, _ = rpc_messages(redacted)
                    if msgs is not None:
                        env = [envelope(m) for m in msgs]
                        data = json.dumps(env if isinstance(redacted, list) else env[0], ensure_ascii=False)
                    else:
                        data = ""
                    cut = True
                elif redacted != obj:
                    data = json.dumps(redacted, ensure_ascii=False)
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
    return [(_s(n), _s(v)) for n, v in headers.fields]


def is_sse(response: Any) -> bool:
    ctype = response.headers.get("content-type", "") if response is not None else ""
    return ctype.split(";")[0].strip().lower() == "text/event-stream"


def exchange_record(
    flow: Any,
    *,
    redactor: Redactor | None = None,
    body_limit: int = DEFAULT_BODY_LIMIT,
    sse: SseCollector | None = None,
    error: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The exchange record of an HTTPFlow.

    ``sse`` is the collector of a streamed SSE response (its events and sizes
    replace the body, which mitmproxy no longer holds).  ``error`` overrides
    ``flow.error`` (e.g. "capture stopped").
    """
    red = redactor or Redactor(enabled=False)
    req = flow.request
    req_headers = header_pairs(req.headers)
    req_body = body_record(req.raw_content, req_headers, limit=body_limit, redactor=red)
    resp_rec = None
    t_resp = t_end = None
    resp = flow.response
    if resp is not None:
        resp_headers = header_pairs(resp.headers)
        t_resp = resp.timestamp_start
        t_end = resp.timestamp_end
        events = None
        if sse is not None:
            body = sse.body()
            events = sse.events
        elif is_sse(resp) and resp.raw_content is not None:
            c = sse_from_body(
                resp.raw_content, content_encoding(resp_headers), resp.timestamp_end or resp.timestamp_start,
                limit=body_limit, redactor=red,
            )
            body, events = c.body(), c.events
        else:
            body = body_record(resp.raw_content, resp_headers, limit=body_limit, redactor=red)
        resp_rec = schema.make_response(
            resp.status_code,
            red.headers(resp_headers),
            body,
            reason=resp.reason or "",
            http_version=resp.http_version,
            sse=events,
        )
    err = error
    if err is None and flow.error is not None:
        err = flow.error.msg
    if err is not None and t_end is None:
        t_end = flow.error.timestamp if (flow.error is not None and error is None) else (now or time.time())
    cc = flow.client_conn
    sc = flow.server_conn
    return schema.make_exchange(
        flow.id,
        t_req=req.timestamp_start,
        method=req.method,
        url=red.url(req.url),
        req_headers=red.headers(req_headers),
        req_body=req_body,
        http_version=req.http_version,
        t_resp=t_resp,
        t_end=t_end,
        client_addr=_addr(getattr(cc, "peername", None)) if cc else None,
        client_conn=getattr(cc, "id", None) if cc else None,
        server_addr=_addr(getattr(sc, "address", None)) if sc else None,
        resp=resp_rec,
        error=err,
    )


# -- is this MCP? ------------------------------------------------------------------------
def endpoint_key(url: str) -> str:
    """scheme://host:port/path of a URL (query and fragment dropped)."""
    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}{u.path or '/'}"


def _has_jsonrpc(raw: bytes | None, headers: list[tuple[str, str]]) -> bool:
    if not raw or (b"jsonrpc" not in raw and content_encoding(headers) is None):
        return False
    try:
        data = decode_content(raw, content_encoding(headers))
    except ValueError:
        return False
    if b'"jsonrpc"' not in data or len(data) > _PARSE_CAP:
        return False
    obj = _loads(data)
    return obj is not _NOT_JSON and rpc_messages(obj)[0] is not None


def is_mcp(flow: Any, known: Iterable[str] | set[str] = ()) -> bool:
    """Whether a flow is an MCP exchange.

    Yes when: a request or response header is one of the MCP headers, the
    response is ``text/event-stream``, the request or response body is JSON-RPC,
    or the URL (without query) is in ``known`` (endpoints already seen to be MCP,
    e.g. the POST URL a legacy server announced in an ``endpoint`` event, or a
    URL that got MCP POSTs before).
    """
    req = flow.request
    if any(h in req.headers for h in MCP_HEADERS):
        return True
    resp = flow.response
    if resp is not None and ("mcp-session-id" in resp.headers or is_sse(resp)):
        return True
    if endpoint_key(req.url) in known:
        return True
    if _has_jsonrpc(req.raw_content, header_pairs(req.headers)):
        return True
    return resp is not None and _has_jsonrpc(resp.raw_content, header_pairs(resp.headers))


class McpEndpoints:
    """Endpoints (URLs without query) known to be MCP within one capture."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    def is_mcp(self, flow: Any) -> bool:
        return is_mcp(flow, self.known)

    def learn(self, flow: Any, endpoint_events: Iterable[str] = ()) -> None:
        """Remember an MCP flow's endpoint and the POST URLs its ``endpoint`` events announced."""
        url = flow.request.url
        self.known.add(endpoint_key(url))
        self.learn_urls(url, endpoint_events)

    def learn_urls(self, base_url: str, endpoint_events: Iterable[str]) -> None:
        for data in endpoint_events:
            try:
                self.known.add(endpoint_key(urljoin(base_url, data.strip())))
            except ValueError:
                continue

