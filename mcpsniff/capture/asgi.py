"""Record MCP traffic inside a Python ASGI server: :class:`MCPSniffMiddleware`.

    from mcpsniff.asgi import MCPSniffMiddleware
    app = MCPSniffMiddleware(mcp.streamable_http_app(), output="captures/server.jsonl")

The middleware writes the records ``mcpsniff capture`` writes for the same
traffic (schema v1, docs/schema.md), assembled by the same code -- the
capture's :func:`~.convert.exchange_from_parts`, :class:`~.convert.SseCollector`,
redaction and MCP detection -- without a proxy hop, a tunnel or a certificate.
User guide: docs/record-in-process.md.

Never in the way:

- the app's messages go to the server as they are (the same objects, at once);
  the middleware keeps copies of body bytes, bounded as the proxy's record is
  (the body limit, and what parsing a JSON-RPC body needs);
- SSE events are parsed as they pass, each with the time it was sent;
- records are built and written on a writer thread behind a bounded queue
  (:class:`~.writer.BackgroundWriter`): a full queue or a failed write loses
  records (counted and logged at ERROR), never a request;
- an error in the recording code itself is caught and logged: that exchange
  is recorded only as far as is safe (method, redacted URL, status and why,
  as the proxy does for a flow it cannot convert), the request goes on.

Pure ASGI 3: imports neither Starlette nor mitmproxy.  Only ``http`` scopes
are recorded; ``lifespan`` starts and stops the writer; ``websocket`` passes
through untouched.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import itertools
import logging
import os
import platform
import sys
import time
import uuid
from collections import deque
from functools import partial
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Iterable, Iterator, MutableMapping
from urllib.parse import quote

from .. import __version__, schema
from ..mcp import EVENT_STREAM, media_type
from ..errors import CaptureError
from .convert import (
    CAPTURE_STOPPED,
    CLIENT_DISCONNECTED,
    DEFAULT_BODY_LIMIT,
    PARSE_CAP,
    ResponseParts,
    SseCollector,
    _addr,
    decode_header_pairs,
    exchange_from_parts,
    fallback_from_parts,
)
from .decode import content_encoding
from .detect import McpEndpoints, is_mcp_parts
from .redact import Redactor, parse_extra, parse_patterns
from .writer import BackgroundWriter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("mcpsniff.asgi")

#: the meta line's ``recorder``: this record was made in-process, by this middleware
RECORDER = "asgi"
DEFAULT_QUEUE = 10_000
#: the rest of a request body the app answered without reading is read before the response
#: goes out (the proxy has the whole body too) when at most this many bytes are still to come
DRAIN_MAX = 64 << 10
#: a POST's SSE response is parsed on the writer thread up to this many bytes, as it passes after that
DEFER_MAX = 256 << 10
#: ASGI servers whose version the meta line names when they are loaded
SERVERS = ("uvicorn", "hypercorn", "granian", "daphne", "gunicorn")
CANCELLED = "request cancelled by the server"
NO_RESPONSE = "the application returned without a response"
INCOMPLETE = "the application returned before the end of its response"

#: this process's id, kept up to date in a forked child: os.getpid() is a system call, and the
#: middleware asks on every request whether it runs in a new worker process
_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork
    os.register_at_fork(after_in_child=_forked)

_HTTP_VERSIONS = {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2.0", "2.0": "HTTP/2.0", "3": "HTTP/3"}


# -- pure helpers ------------------------------------------------------------------------------
def process_path(output: str, pid: int) -> str:
    """``cap.jsonl`` -> ``cap.pid4242.jsonl`` (a name without ``.jsonl`` gets ``.pid4242.jsonl``):
    each worker process appends to its own file, so no two processes share (or rotate) one."""
    stem = output[: -len(".jsonl")] if output.endswith(".jsonl") else output
    return f"{stem}.pid{pid}.jsonl"


def http_version(scope: Scope) -> str:
    """``HTTP/1.1``, ``HTTP/2.0`` ... as mitmproxy spells them, from the scope's ``http_version``."""
    v = str(scope.get("http_version") or "1.1")
    return _HTTP_VERSIONS.get(v, f"HTTP/{v}")


def reason_phrase(status: int, version: str) -> str:
    """The reason phrase the server sends with ``status`` (HTTP/2 and later have none)."""
    if not version.startswith("HTTP/1"):
        return ""
    return _PHRASES.get(status, "")


_PHRASES = {int(s): s.phrase for s in HTTPStatus}


def request_url(scope: Scope, headers: list[tuple[str, str]]) -> str:
    """The URL the client asked for: the scope's scheme, the ``Host`` header (else the server's
    address), the path as received (``raw_path``) and the query string.  A default port is left
    out, as mitmproxy does."""
    scheme = scope.get("scheme") or "http"
    host = schema.header_value(headers, "host") or _addr(scope.get("server")) or "localhost"
    default = ":443" if scheme in ("https", "wss") else ":80"
    if host.endswith(default):
        host = host[: -len(default)]
    raw = scope.get("raw_path")
    if raw:
        path = raw.decode("utf-8", "replace").partition("?")[0]
    else:
        path = quote(scope.get("path") or "/", safe="/:@!$&'()*+,;=-._~%")
    query = scope.get("query_string") or b""
    return f"{scheme}://{host}{path}" + (f"?{query.decode('utf-8', 'replace')}" if query else "")


def server_software(send: Callable[..., Any] | None = None) -> str | None:
    """The ASGI server running the app, with its version (``uvicorn 0.38.0``), or None.

    Told by where the server's ``send`` callable comes from (a lifespan ``send`` is the server's
    own, an http one may be wrapped by outer middleware); failing that, the known servers loaded
    in this process."""
    top = (getattr(send, "__module__", None) or "").split(".")[0]
    names = [top] if top in SERVERS else [name for name in SERVERS if name in sys.modules]
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except Exception:  # noqa: BLE001 - vendored or not installed as a distribution
            found.append(name)
    return ", ".join(found) or None


def _scan(headers: Iterable[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """The few raw header values the event loop needs (names lower-cased, first value kept);
    everything else is decoded on the writer thread."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        name = name.lower()
        if name in _SCANNED and name not in found:
            found[name] = value
    return found


_SCANNED = frozenset({b"content-length", b"content-type", b"content-encoding", b"expect"})


def _json_hint(found: dict[bytes, bytes]) -> bool:
    return b"json" in found.get(b"content-type", b"").lower() or b"content-encoding" in found


# -- one exchange, as it passes ------------------------------------------------------------------
class _BodyCopy:
    """The bytes of one body as they pass: all counted, kept up to a cap chosen on the first chunk
    (what :func:`~.convert.body_record` needs: a JSON or content-encoded body whole up to the
    parse cap, other text up to the body limit)."""

    __slots__ = ("chunks", "size", "cut", "complete", "_json_hint", "_limit", "_cap")

    def __init__(self, json_hint: bool, limit: int) -> None:
        self.chunks: list[bytes] = []
        self.size = 0  # bytes seen
        self.cut = False  # more was seen than kept
        self.complete = False  # the last chunk was seen
        self._json_hint = json_hint
        self._limit = limit
        self._cap = -1

    def add(self, data: bytes) -> None:
        if not data:
            return
        if self._cap < 0:
            looks_json = data.lstrip()[:1] in (b"{", b"[")
            text_cap = self._limit + 4096
            self._cap = max(PARSE_CAP, text_cap) if (self._json_hint or looks_json) else text_cap
        if not self.cut:
            room = self._cap - self.size
            if len(data) <= room:
                self.chunks.append(bytes(data))
            else:
                self.chunks.append(bytes(data[:room]))
                self.cut = True
        self.size += len(data)

    def raw(self) -> bytes:
        return b"".join(self.chunks)


class _SseTap:
    """The SSE body of one response, for an :class:`~.convert.SseCollector`.

    A response to a POST (short: the events of one request) keeps its chunks with their send
    times and the writer thread parses them, so the event loop does no more than append; past
    ``DEFER_MAX`` bytes, and always for a GET stream (long-lived; a legacy server's ``endpoint``
    event must be learnt while it is open), the chunks are parsed as they pass.  Either way the
    collector sees the same chunks with the same times, so the events are the same."""

    __slots__ = ("encoding", "limit", "redactor", "_collector", "pending", "pending_size", "deferred")

    def __init__(self, encoding: str | None, limit: int, redactor: Redactor, deferred: bool) -> None:
        self.encoding = encoding
        self.limit = limit
        self.redactor = redactor
        self._collector: SseCollector | None = None  # made when first needed
        self.pending: list[tuple[bytes, float]] = []
        self.pending_size = 0
        self.deferred = deferred

    @property
    def collector(self) -> SseCollector:
        if self._collector is None:
            self._collector = SseCollector(self.encoding, limit=self.limit, redactor=self.redactor)
        return self._collector

    @property
    def endpoints(self) -> list[str]:
        """Data of the `endpoint` events parsed so far."""
        return self._collector.endpoints if self._collector is not None else []

    def feed(self, chunk: bytes, t: float) -> None:
        if self.deferred and self.pending_size + len(chunk) <= DEFER_MAX:
            self.pending.append((bytes(chunk), t))
            self.pending_size += len(chunk)
            return
        self.deferred = False
        self._catch_up()
        self.collector.feed(chunk, t)

    def finish(self, t: float) -> SseCollector:
        """The collector with every event (writer thread, once the exchange is over)."""
        self._catch_up()
        self.collector.finish(t)
        return self.collector

    def _catch_up(self) -> None:
        if self.pending:
            collector = self.collector
            for chunk, t in self.pending:
                collector.feed(chunk, t)
            self.pending.clear()


class _Exchange:
    """What the middleware saw of one HTTP exchange.  Mutated on the event loop until
    :attr:`done`; read by the writer thread after that."""

    __slots__ = (
        "id", "scope", "t_req", "declared", "expect", "req", "status", "raw_resp_headers",
        "t_resp", "t_end", "resp", "sse", "resp_unknown", "trailers", "error", "disconnected", "done",
        "pending", "receiving", "endpoints_seen", "broken",
    )

    def __init__(self, id: str, scope: Scope, t_req: float, limit: int) -> None:
        self.id = id
        self.scope = scope
        self.t_req = t_req
        found = _scan(scope.get("headers") or ())
        try:
            self.declared: int | None = int(found[b"content-length"]) if b"content-length" in found else None
        except ValueError:
            self.declared = None
        self.expect = b"expect" in found
        self.req = _BodyCopy(_json_hint(found), limit)
        self.status: int | None = None
        self.raw_resp_headers: list[tuple[bytes, bytes]] = []
        self.t_resp: float | None = None
        self.t_end: float | None = None
        self.resp: _BodyCopy | None = None
        self.sse: _SseTap | None = None
        self.resp_unknown = False  # sent by pathsend / zerocopysend: the bytes did not pass here
        self.trailers = False
        self.error: str | None = None
        self.disconnected: float | None = None
        self.done = False
        self.pending: deque[Message] = deque()  # drained request messages the app has not read yet
        self.receiving = 0  # receive() calls of the app in progress
        self.endpoints_seen = 0
        self.broken: str | None = None  # a recording error on the event loop: only what is safe is recorded

    # -- events (event loop) -----------------------------------------------------------------
    def received(self, msg: Message) -> None:
        if self.done:
            return
        kind = msg.get("type")
        if kind == "http.request":
            self.req.add(msg.get("body") or b"")
            if not msg.get("more_body", False):
                self.req.complete = True
        elif kind == "http.disconnect" and self.disconnected is None:
            self.disconnected = time.time()

    def should_drain(self) -> bool:
        """The app answers before reading the whole request body: read the rest (a small,
        declared rest only, never one the client waits to send after ``Expect: 100-continue``)."""
        if self.req.complete or self.disconnected is not None or self.receiving or self.expect:
            return False
        return self.declared is not None and 0 < self.declared - self.req.size <= DRAIN_MAX

    def started(self, msg: Message, t: float, limit: int, redactor: Redactor) -> None:
        self.status = int(msg["status"])
        self.raw_resp_headers = list(msg.get("headers") or ())
        self.t_resp = t
        self.trailers = bool(msg.get("trailers", False))
        found = _scan(self.raw_resp_headers)
        ctype = found.get(b"content-type", b"").decode("latin-1")
        if media_type(ctype) == EVENT_STREAM:
            enc = found.get(b"content-encoding")
            encoding = content_encoding([("content-encoding", enc.decode("latin-1"))]) if enc else None
            self.sse = _SseTap(encoding, limit, redactor, deferred=self.scope.get("method") != "GET")
        else:
            self.resp = _BodyCopy(_json_hint(found), limit)

    def sent(self, msg: Message, t: float) -> bool:
        """Note a message the app sent (after the server took it); True when it ended the response."""
        if self.done:
            return False
        kind = msg.get("type")
        if kind == "http.response.body":
            body = msg.get("body") or b""
            if self.sse is not None:
                if body:
                    self.sse.feed(body, t)
            elif self.resp is not None:
                self.resp.add(body)
            if msg.get("more_body", False):
                return False
            if self.resp is not None:
                self.resp.complete = True
            self.t_end = t
            return not self.trailers
        if kind == "http.response.trailers":
            if msg.get("more_trailers", False):
                return False
            self.t_end = t
            return True
        if kind in ("http.response.pathsend", "http.response.zerocopysend"):
            self.resp_unknown = True
            if kind == "http.response.zerocopysend" and msg.get("more_body", False):
                return False
            if self.resp is not None:
                self.resp.complete = True
            self.t_end = t
            return True
        return False

    def fail(self, error: str, t: float) -> None:
        """The exchange ended without a complete response; the first reason given stays."""
        if self.error is None:
            self.error = error
        if self.t_end is None:
            self.t_end = t


def _app_error(e: BaseException, ex: _Exchange, stopping: bool) -> str:
    """What an exception out of the app (or the server's send) means for the record."""
    if ex.disconnected is not None:
        return CLIENT_DISCONNECTED
    if isinstance(e, GeneratorExit):  # the coroutine was abandoned (its loop is gone): the process is stopping
        return CAPTURE_STOPPED
    if not isinstance(e, Exception):  # cancellation (asyncio / trio / anyio), KeyboardInterrupt ...
        return CAPTURE_STOPPED if stopping else CANCELLED
    if isinstance(e, OSError) or "disconnect" in type(e).__name__.lower():
        return CLIENT_DISCONNECTED
    return f"application error: {type(e).__name__}: {e}"


def _adjust_body(body: dict[str, Any], copy: _BodyCopy | None, headers: list[tuple[str, str]],
                 declared: int | None = None) -> None:
    """The record's Body when the copy is not the whole body: cut at the cap, or not all of it
    passed (a disconnect, a body the app never read).  Its size is then what is known of it."""
    if copy is None or (copy.complete and not copy.cut):
        return
    if copy.complete or copy.size or declared:
        encoded = content_encoding(headers) is not None
        body["truncated"] = True
        body["size"] = -1 if encoded else max(copy.size, declared or 0)


# -- the middleware ------------------------------------------------------------------------------
class MCPSniffMiddleware:
    """ASGI middleware that records the app's MCP exchanges into mcpsniff JSONL (schema v1).

    ``MCPSniffMiddleware(app, output="captures/x.jsonl")`` or, with Starlette / FastAPI,
    ``app.add_middleware(MCPSniffMiddleware, output="captures/x.jsonl")``.

    Options mirror ``mcpsniff capture``'s: ``redact`` (default on), ``redact_extra`` names and
    ``redact_patterns`` (regular expressions for URL path segments and text, ``--redact-pattern``),
    ``body_limit`` bytes per body, ``record_all`` (every exchange, not only MCP ones),
    ``rotate_mb`` (a new file past N MiB, 0: never).  ``per_process`` (default on) makes each
    worker process write its own file, ``x.pid<PID>.jsonl``; off, ``output`` is used as given
    (only for a single process).  ``queue_size`` bounds the records waiting for the writer thread.

    Invalid options or an output directory that cannot be written raise
    :class:`~mcpsniff.errors.CaptureError` here, before any request.
    """

    def __init__(
        self,
        app: ASGIApp,
        output: str | os.PathLike[str],
        *,
        redact: bool = True,
        redact_extra: str | Iterable[str] = (),
        redact_patterns: str | Iterable[str] = (),
        body_limit: int = DEFAULT_BODY_LIMIT,
        record_all: bool = False,
        rotate_mb: int = 0,
        per_process: bool = True,
        queue_size: int = DEFAULT_QUEUE,
    ) -> None:
        if body_limit < 0:
            raise CaptureError(f"body_limit must be 0 or more bytes, not {body_limit}")
        if rotate_mb < 0:
            raise CaptureError(f"rotate_mb must be 0 (never) or more, not {rotate_mb}")
        if queue_size < 1:
            raise CaptureError(f"queue_size must be 1 or more, not {queue_size}")
        try:
            extra = parse_extra(redact_extra)
        except ValueError as e:
            raise CaptureError(f"redact_extra: {e}") from None
        try:
            patterns = parse_patterns(redact_patterns)
        except ValueError as e:
            raise CaptureError(f"redact_patterns: {e}") from None
        self.app = app
        self.output = os.path.expanduser(os.fspath(output))
        self.redactor = Redactor(enabled=redact, extra=extra, patterns=patterns)
        self.body_limit = body_limit
        self.record_all = record_all
        self.rotate_bytes = rotate_mb * 1024 * 1024
        self.per_process = per_process
        self.queue_size = queue_size
        _check_output(self.output)
        # per process (a forked worker starts these afresh, see _writer_here)
        self.endpoints = McpEndpoints()  # used on the writer thread only
        self.capture_id = ""
        self.skipped = 0  # exchanges that were not MCP (with record_all off)
        self.internal_errors = 0  # errors in this module (their exchanges recorded only in part, or not at all)
        self._writer: BackgroundWriter | None = None
        self._pid: int | None = None
        self._ids: Iterator[int] = itertools.count()
        self._open: set[_Exchange] = set()
        self._started = 0.0
        self._stopping = False
        self._server: str | None = None
        self._server_asked = False

    # -- ASGI ------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            try:
                if not self._server_asked:
                    self._server, self._server_asked = server_software(send), True
                ex = self._begin(scope)
            except Exception as e:  # noqa: BLE001 - recording must never stop a request
                self._internal_error(e)
                ex = None
            if ex is None:
                await self.app(scope, receive, send)
            else:
                await self._http(ex, scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, ex: _Exchange, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_tap() -> Message:
            if ex.pending:
                return ex.pending.popleft()
            ex.receiving += 1
            try:
                msg = await receive()
            finally:
                ex.receiving -= 1
            if not ex.done:
                try:
                    ex.received(msg)
                except Exception as e:  # noqa: BLE001 - recording must never stop a request
                    self._broken(ex, e)
            return msg

        async def send_tap(message: Message) -> None:
            t = time.time()
            start = message.get("type") == "http.response.start"
            if start and not ex.done:
                try:
                    if ex.should_drain():
                        await self._drain(ex, receive)
                    ex.started(message, t, self.body_limit, self.redactor)
                except Exception as e:  # noqa: BLE001
                    self._broken(ex, e)
            try:
                await send(message)
            except BaseException as e:
                self._safely(ex, ex.fail, _app_error(e, ex, self._stopping), time.time())
                raise
            if not start and not ex.done:
                try:
                    ended = self._sent(ex, message, t)
                except Exception as e:  # noqa: BLE001
                    self._broken(ex, e)
                    ended = False
                if ended:
                    self._finish(ex)

        try:
            await self.app(scope, receive_tap, send_tap)
        except BaseException as e:
            if not ex.done:
                self._safely(ex, ex.fail, _app_error(e, ex, self._stopping), time.time())
                self._finish(ex)
            raise
        if not ex.done:
            reason = CLIENT_DISCONNECTED if ex.disconnected is not None else NO_RESPONSE if ex.status is None else INCOMPLETE
            self._safely(ex, ex.fail, reason, time.time())
            self._finish(ex)

    async def _drain(self, ex: _Exchange, receive: Receive) -> None:
        """Read the rest of a small request body the app answers without reading, as the proxy
        would have it (e.g. the SDK's 404 for an unknown session id); the app still gets every
        message if it asks later."""
        try:
            while not ex.req.complete and ex.disconnected is None:
                msg = await receive()
                ex.pending.append(msg)
                ex.received(msg)
                if msg.get("type") != "http.request":
                    break
        except Exception as e:  # noqa: BLE001 - the server's receive failing is the app's business
            log.debug(f"mcpsniff: could not read the rest of a request body: {e!r}")

    def _sent(self, ex: _Exchange, message: Message, t: float) -> bool:
        ended = ex.sent(message, t)
        tap = ex.sse
        if tap is not None and len(tap.endpoints) > ex.endpoints_seen:  # legacy `endpoint` event: learn it now
            new = tap.endpoints[ex.endpoints_seen:]
            ex.endpoints_seen = len(new) + ex.endpoints_seen
            url = request_url(ex.scope, decode_header_pairs(ex.scope.get("headers") or ()))
            self._writer_here().submit(partial(self._learn, url, new))
        return ended

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_tap() -> Message:
            msg = await receive()
            kind = msg.get("type")
            if kind == "lifespan.startup":
                self._stopping = False
                if not self._server_asked:
                    self._server, self._server_asked = server_software(send), True
                self._safely(None, self._writer_here)  # the file (and its meta line) exists from startup
            elif kind == "lifespan.shutdown":
                self._stopping = True
            return msg

        async def send_tap(message: Message) -> None:
            if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                self._safely(None, self.close)
            await send(message)

        await self.app(scope, receive_tap, send_tap)

    # -- recording -------------------------------------------------------------------------------
    def _begin(self, scope: Scope) -> _Exchange:
        t = time.time()
        self._writer_here()
        ex = _Exchange(f"{self.capture_id}-{next(self._ids)}", scope, t, self.body_limit)
        self._open.add(ex)
        return ex

    def _finish(self, ex: _Exchange) -> None:
        """The exchange is over: hand it to the writer thread (never raises, never blocks)."""
        if ex.done:
            return
        ex.done = True
        self._open.discard(ex)
        if sys.is_finalizing():  # a coroutine closed after the exit handlers: no thread can start now
            return
        if ex.t_end is None:
            ex.t_end = time.time()
        try:
            self._writer_here().submit(partial(self._record, ex))
        except Exception as e:  # noqa: BLE001
            self._internal_error(e)

    def _record(self, ex: _Exchange) -> dict[str, Any] | None:
        """The exchange's record, or None when it is not recorded (writer thread)."""
        if ex.broken is not None:
            return self._fallback(ex, ex.broken)
        try:
            return self._full_record(ex)
        except Exception as e:  # noqa: BLE001 - not lost silently: what can safely be said of it (as the proxy does)
            log.warning(f"mcpsniff: could not convert exchange {ex.id} ({ex.scope.get('method')}): {e!r}")
            return self._fallback(ex, f"{type(e).__name__}: {e}")

    def _full_record(self, ex: _Exchange) -> dict[str, Any] | None:
        scope = ex.scope
        method = str(scope.get("method") or "GET")
        req_headers = decode_header_pairs(scope.get("headers") or ())
        url = request_url(scope, req_headers)
        version = http_version(scope)
        req_raw = ex.req.raw()
        sse = ex.sse.finish(ex.t_end or time.time()) if ex.sse is not None else None  # an unterminated last event too
        resp = None
        resp_raw = None
        resp_headers = None
        if ex.status is not None:
            resp_headers = decode_header_pairs(ex.raw_resp_headers)
            resp_raw = ex.resp.raw() if (ex.resp is not None and not ex.resp_unknown) else None
            resp = ResponseParts(
                ex.status, resp_headers, resp_raw, reason=reason_phrase(ex.status, version),
                http_version=version, t_start=ex.t_resp, t_end=ex.t_end,
            )
        try:
            known = self.endpoints.known
            mcp = sse is not None or is_mcp_parts(method, url, req_headers, req_raw, resp_headers, resp_raw, known)
            if mcp:
                self.endpoints.learn_parts(url, ex.status, resp_headers or [], sse.endpoints if sse is not None else ())
        except Exception as e:  # noqa: BLE001 - an exchange that breaks detection is recorded anyway (as the proxy does)
            log.warning(f"mcpsniff: could not classify exchange {ex.id} ({method}): {e!r}")
            mcp = True
        if not (mcp or self.record_all):
            self.skipped += 1
            return None
        client = _addr(scope.get("client"))
        rec = exchange_from_parts(
            ex.id,
            t_req=ex.t_req,
            method=method,
            url=url,
            http_version=version,
            req_headers=req_headers,
            req_raw=req_raw,
            resp=resp,
            t_end=ex.t_end,
            client_addr=client,
            client_conn=client,  # ASGI has no connection id; one TCP connection is one client address
            server_addr=_addr(scope.get("server")),
            error=ex.error,
            redactor=self.redactor,
            body_limit=self.body_limit,
            sse=sse,
        )
        _adjust_body(rec["req"]["body"], ex.req, req_headers, ex.declared)
        if resp_headers is not None and sse is None and not ex.resp_unknown:
            _adjust_body(rec["resp"]["body"], ex.resp, resp_headers)
        return rec

    def _fallback(self, ex: _Exchange, error: str) -> dict[str, Any] | None:
        """The record of an exchange whose recording failed (on the event loop, or converting it):
        what can safely be said of it (method, redacted URL without query, status, why), as the
        proxy writes for a flow it cannot convert -- not lost silently (writer thread)."""
        scope = ex.scope
        method = str(scope.get("method") or "GET")
        try:
            req_headers = decode_header_pairs(scope.get("headers") or ())
            url = request_url(scope, req_headers)
        except Exception:  # noqa: BLE001
            req_headers, url = [], "?"
        if not self.record_all:
            try:
                resp_headers = decode_header_pairs(ex.raw_resp_headers) if ex.status is not None else None
                mcp = ex.sse is not None or is_mcp_parts(
                    method, url, req_headers, ex.req.raw(), resp_headers, None, self.endpoints.known)
            except Exception:  # noqa: BLE001 - recorded anyway
                mcp = True
            if not mcp:
                self.skipped += 1
                return None
        return fallback_from_parts(
            ex.id, t_req=ex.t_req, method=method, url=url, status=ex.status, error=ex.error, redactor=self.redactor,
            why=f"mcpsniff could not record this exchange fully: {error}",
        )

    def _learn(self, url: str, endpoint_events: list[str]) -> None:
        self.endpoints.learn_urls(url, endpoint_events)  # writer thread: nothing to write

    def _safely(self, ex: _Exchange | None, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a piece of recording code on the event loop; a bug in it is logged and leaves only
        what is safe to say of the exchange recorded (:meth:`_fallback`); the request goes on."""
        try:
            return fn(*args)
        except Exception as e:  # noqa: BLE001
            self._broken(ex, e)
            return None

    def _broken(self, ex: _Exchange | None, e: Exception) -> None:
        if ex is not None and ex.broken is None:
            ex.broken = f"{type(e).__name__}: {e}"
        self._internal_error(e, partly=ex is not None)

    def _internal_error(self, e: Exception, partly: bool = False) -> None:
        self.internal_errors += 1
        what = "recorded only in part" if partly else "not recorded"
        log.error(f"mcpsniff: recording error, the exchange is {what} ({self.internal_errors} so far): {e!r}",
                  exc_info=self.internal_errors == 1)

    # -- the file ----------------------------------------------------------------------------------
    def _writer_here(self) -> BackgroundWriter:
        """This process's writer, started on first use (at lifespan startup or the first request),
        and started afresh in a forked worker or after :meth:`close`."""
        pid = _pid
        w = self._writer
        if w is not None and self._pid == pid and not w.closed:
            return w
        if self._pid != pid:  # a new process: nothing of the parent's capture carries over
            self.endpoints = McpEndpoints()
            self._open = set()
            self.skipped = self.internal_errors = 0
        self.capture_id = uuid.uuid4().hex[:12]
        self._ids = itertools.count()
        self._started = time.time()
        self._pid = pid
        path = process_path(self.output, pid) if self.per_process else self.output
        self._writer = BackgroundWriter(path, self._meta, self.rotate_bytes, max_queue=self.queue_size,
                                        sole_writer=self.per_process, log=log, name="mcpsniff-asgi-writer")
        # at exit, record the exchanges still open as "capture stopped"; registered after the writer's
        # own handler, so it runs first (atexit runs last-in first-out)
        atexit.register(self.close)
        return self._writer

    def _meta(self, part: int) -> dict[str, Any]:
        return schema.make_meta(
            tool="mcpsniff",
            recorder=RECORDER,
            mcpsniff=__version__,
            python=platform.python_version(),
            server=self._server,
            capture=self.capture_id,
            part=part,
            pid=os.getpid(),
            started=self._started,
            redaction=self.redactor.settings(),
            body_limit=self.body_limit,
            record_all=self.record_all,
            queue_size=self.queue_size,
        )

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every exchange finished so far is written (True), at most ``timeout`` s."""
        w = self._writer
        return w is not None and self._pid == os.getpid() and w.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Record the exchanges still open with ``error: "capture stopped"`` and write everything
        queued.  Runs at lifespan shutdown and at interpreter exit; a later request starts a new
        writer (appending to the same file, after a new meta line)."""
        w = self._writer
        if w is None or self._pid != os.getpid() or w.closed:
            return
        try:
            atexit.unregister(self.close)
        except Exception:  # noqa: BLE001 - interpreter shutting down
            pass
        now = time.time()
        for ex in list(self._open):
            ex.fail(CAPTURE_STOPPED, now)
            self._finish(ex)
        w.close(timeout)

    @property
    def path(self) -> str:
        """The file this process writes (its first part)."""
        return process_path(self.output, os.getpid()) if self.per_process else self.output

    @property
    def paths(self) -> list[str]:
        """The files this process has written so far, first part first."""
        return self._writer.paths if self._writer is not None else []

    @property
    def stats(self) -> dict[str, int]:
        """Counts for this process: ``written`` exchanges, ``dropped`` (queue full), ``failed``
        (write errors), ``not_converted``, ``skipped`` (not MCP), ``internal_errors``."""
        w = self._writer
        return {
            "written": w.written if w else 0,
            "dropped": w.dropped if w else 0,
            "failed": w.failed if w else 0,
            "not_converted": w.errors if w else 0,
            "skipped": self.skipped,
            "internal_errors": self.internal_errors,
        }


def _check_output(output: str) -> None:
    """Fail at startup, not at the first request, when the capture file cannot be made."""
    parent = os.path.dirname(os.path.abspath(output)) or "."
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise CaptureError(f"cannot write the capture file {output}: {e.strerror or e}") from None
    if os.path.isdir(output):
        raise CaptureError(f"cannot write the capture file {output}: it is a directory")
    if not os.access(parent, os.W_OK):
        raise CaptureError(f"cannot write the capture file {output}: {parent} is not writable")


__all__ = ["MCPSniffMiddleware", "process_path", "request_url"]
