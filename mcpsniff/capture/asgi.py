"""Record MCP traffic inside a Python ASGI server: :class:`MCPSniffMiddleware`.

    from mcpsniff.asgi import MCPSniffMiddleware
    app = MCPSniffMiddleware(mcp.streamable_http_app(), output="captures/server.jsonl")

The middleware writes the records ``mcpsniff capture`` writes for the same
traffic (schema v1, docs/schema.md), made by the same recorder
(:class:`~.recorder.Recorder`: options, meta line, SSE tap, MCP detection,
conversion, redaction, the writer and its failure policy) -- without a proxy
hop, a tunnel or a certificate.  This module is the adapter: it sees the
ASGI messages pass and hands each finished exchange to the recorder.
User guide: docs/record-in-process.md.

Never in the way:

- the app's messages go to the server as they are (the same objects, at once);
  the middleware keeps copies of body bytes, bounded as the proxy's record is
  (the body limit, and what parsing a JSON-RPC body needs);
- SSE events are parsed as they pass, each with the time it was sent;
- records are built and written on a writer thread behind a bounded queue
  (:class:`~.writer.RecordWriter`): a full queue or a failed write loses
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
import inspect
import logging
import os
import sys
import time
from collections import deque
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Iterable, MutableMapping
from urllib.parse import quote

from .. import schema
from ..mcp import EVENT_STREAM, media_type
from .convert import (
    CAPTURE_STOPPED,
    CLIENT_DISCONNECTED,
    PARSE_CAP,
    ExchangeParts,
    ResponseParts,
    _addr,
    decode_header_pairs,
)
from .decode import content_encoding
from .recorder import BY_NAME, ExchangeSource, OptionError, Recorder, RecorderOptions, SseTap, check_output

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("mcpsniff.asgi")

#: the meta line's ``recorder``: this record was made in-process, by this middleware
RECORDER = "asgi"
#: the rest of a request body the app answered without reading is read before the response
#: goes out (the proxy has the whole body too) when at most this many bytes are still to come
DRAIN_MAX = 64 << 10
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


class _Exchange(ExchangeSource):
    """What the middleware saw of one HTTP exchange.  Mutated on the event loop until
    :attr:`done`; read by the writer thread after that (:meth:`parts`)."""

    __slots__ = (
        "id", "scope", "t_req", "declared", "expect", "req", "status", "raw_resp_headers",
        "t_resp", "t_end", "resp", "sse", "resp_unknown", "trailers", "error", "disconnected", "done",
        "pending", "receiving", "broken",
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
        self.sse: SseTap | None = None
        self.resp_unknown = False  # sent by pathsend / zerocopysend: the bytes did not pass here
        self.trailers = False
        self.error: str | None = None
        self.disconnected: float | None = None
        self.done = False
        self.pending: deque[Message] = deque()  # drained request messages the app has not read yet
        self.receiving = 0  # receive() calls of the app in progress
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

    def started(self, msg: Message, t: float, recorder: Recorder) -> None:
        self.status = int(msg["status"])
        self.raw_resp_headers = list(msg.get("headers") or ())
        self.t_resp = t
        self.trailers = bool(msg.get("trailers", False))
        found = _scan(self.raw_resp_headers)
        ctype = found.get(b"content-type", b"").decode("latin-1")
        if media_type(ctype) == EVENT_STREAM:
            enc = found.get(b"content-encoding")
            encoding = content_encoding([("content-encoding", enc.decode("latin-1"))]) if enc else None
            # a POST's events (one request's) are parsed on the writer thread; a GET stream as it passes
            self.sse = recorder.tap(encoding, self.url, deferred=self.scope.get("method") != "GET")
        else:
            self.resp = _BodyCopy(_json_hint(found), recorder.options.body_limit)

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

    # -- for the recorder (writer thread) ----------------------------------------------------------
    def url(self) -> str:
        return request_url(self.scope, decode_header_pairs(self.scope.get("headers") or ()))

    def parts(self) -> ExchangeParts:
        scope = self.scope
        req_headers = decode_header_pairs(scope.get("headers") or ())
        version = http_version(scope)
        resp = None
        if self.status is not None:
            resp = ResponseParts(
                self.status, decode_header_pairs(self.raw_resp_headers),
                self.resp.raw() if (self.resp is not None and not self.resp_unknown) else None,
                reason=reason_phrase(self.status, version), http_version=version, t_start=self.t_resp, t_end=self.t_end,
            )
        client = _addr(scope.get("client"))
        return ExchangeParts(
            self.id,
            t_req=self.t_req,
            method=str(scope.get("method") or "GET"),
            url=request_url(scope, req_headers),
            http_version=version,
            req_headers=req_headers,
            req_raw=self.req.raw(),
            resp=resp,
            t_end=self.t_end,
            client_addr=client,
            client_conn=client,  # ASGI has no connection id; one TCP connection is one client address
            server_addr=_addr(scope.get("server")),
            error=self.error,
            # an unterminated last event too
            sse=self.sse.finish(self.t_end or time.time()) if self.sse is not None else None,
        )

    def summary(self) -> dict[str, Any]:
        try:
            url = self.url()
        except Exception:  # noqa: BLE001
            url = "?"
        return dict(id=self.id, t_req=self.t_req, method=str(self.scope.get("method") or "GET"), url=url,
                    status=self.status, error=self.error)

    def adjust(self, rec: dict[str, Any]) -> None:
        """Bodies that did not pass here whole: their size is what is known of them."""
        _adjust_body(rec["req"]["body"], self.req, rec["req"]["headers"], self.declared)
        if rec["resp"] is not None and self.sse is None and not self.resp_unknown:
            _adjust_body(rec["resp"]["body"], self.resp, rec["resp"]["headers"])


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

    Its keyword arguments are the recorder's options (:data:`~.recorder.OPTIONS`, the same as
    ``mcpsniff capture``'s flags): ``redact`` (default on), ``redact_extra`` names and
    ``redact_patterns`` (regular expressions for URL path segments and text), ``body_limit``
    (bytes, or text such as ``"64k"``), ``record_all`` (every exchange, not only MCP ones),
    ``rotate_mb`` (a new file past N MiB, 0: never); and two of its own: ``per_process``
    (default on) makes each worker process write its own file, ``x.pid<PID>.jsonl``; off,
    ``output`` is used as given (only for a single process).  ``queue_size`` bounds the records
    waiting for the writer thread.

    Invalid options or an output directory that cannot be written raise
    :class:`~mcpsniff.errors.CaptureError` here, before any request.
    """

    def __init__(self, app: ASGIApp, output: str | os.PathLike[str], **options: Any) -> None:
        if "output" in options:
            raise TypeError("output is given twice")
        self.options = RecorderOptions(output=output, **options)
        if not self.options.output:
            raise OptionError("output", "a file name is needed")
        self.app = app
        self.output: str = self.options.output
        self.per_process = self.options.per_process
        check_output(self.output)
        self._recorder: Recorder | None = None  # this process's (a forked worker starts its own)
        self._pid: int | None = None
        self._open: set[_Exchange] = set()
        self._stopping = False
        self._server: str | None = None
        self._server_asked = False

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # help() and editors show the options
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
         inspect.Parameter("app", inspect.Parameter.POSITIONAL_OR_KEYWORD),
         inspect.Parameter("output", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default)
           for o in BY_NAME.values() if o.name != "output"])

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
                    ex.started(message, t, self._recorder_here())
                except Exception as e:  # noqa: BLE001
                    self._broken(ex, e)
            try:
                await send(message)
            except BaseException as e:
                self._safely(ex, ex.fail, _app_error(e, ex, self._stopping), time.time())
                raise
            if not start and not ex.done:
                try:
                    ended = ex.sent(message, t)  # (an SSE tap learns `endpoint` events as they pass)
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

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_tap() -> Message:
            msg = await receive()
            kind = msg.get("type")
            if kind == "lifespan.startup":
                self._stopping = False
                if not self._server_asked:
                    self._server, self._server_asked = server_software(send), True
                self._safely(None, self._recorder_here)  # the file (and its meta line) exists from startup
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
        rec = self._recorder_here()
        ex = _Exchange(rec.next_id(), scope, t, rec.options.body_limit)
        self._open.add(ex)
        return ex

    def _finish(self, ex: _Exchange) -> None:
        """The exchange is over: hand it to the recorder (never raises, never blocks)."""
        if ex.done:
            return
        ex.done = True
        self._open.discard(ex)
        if sys.is_finalizing():  # a coroutine closed after the exit handlers: no thread can start now
            return
        if ex.t_end is None:
            ex.t_end = time.time()
        try:
            self._recorder_here().record(ex)
        except Exception as e:  # noqa: BLE001
            self._internal_error(e)

    def _safely(self, ex: _Exchange | None, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a piece of recording code on the event loop; a bug in it is logged and leaves only
        what is safe to say of the exchange recorded (:attr:`_Exchange.broken`); the request goes on."""
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
        rec = self._recorder if self._recorder is not None and self._pid == _pid else None
        if rec is None:  # no recorder to count it: said all the same
            log.error(f"mcpsniff: recording error, the exchange is not recorded: {e!r}", exc_info=True)
        else:
            rec.internal_error(e, partly)

    # -- the file ----------------------------------------------------------------------------------
    def _recorder_here(self) -> Recorder:
        """This process's recorder, its writer started on first use (at lifespan startup or the
        first request), and started afresh in a forked worker or after :meth:`close`."""
        pid = _pid
        rec = self._recorder
        if rec is not None and self._pid == pid and rec.writer is not None and not rec.writer.closed:
            return rec
        if rec is None or self._pid != pid:  # a new process: nothing of the parent's capture carries over
            rec = self._recorder = Recorder(self.options, name=RECORDER, context=self._context, threaded=True, log=log)
            self._open = set()
            self._pid = pid
        rec.start(process_path(self.output, pid) if self.per_process else self.output, sole_writer=self.per_process,
                  thread_name="mcpsniff-asgi-writer")
        # at exit, record the exchanges still open as "capture stopped"; registered after the writer's
        # own handler, so it runs first (atexit runs last-in first-out)
        atexit.register(self.close)
        return rec

    @property
    def recorder(self) -> Recorder:
        """This process's :class:`~.recorder.Recorder` (its writer started, if it was not)."""
        return self._recorder_here()

    def _context(self) -> dict[str, Any]:
        return dict(server=self._server, pid=os.getpid(), queue_size=self.options.queue_size)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every exchange finished so far is written (True), at most ``timeout`` s."""
        w = self._recorder.writer if self._recorder is not None else None
        return w is not None and self._pid == os.getpid() and w.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Record the exchanges still open with ``error: "capture stopped"`` and write everything
        queued.  Runs at lifespan shutdown and at interpreter exit; a later request starts a new
        writer (appending to the same file, after a new meta line)."""
        rec = self._recorder
        w = rec.writer if rec is not None else None
        if rec is None or w is None or self._pid != os.getpid() or w.closed:
            return
        try:
            atexit.unregister(self.close)
        except Exception:  # noqa: BLE001 - interpreter shutting down
            pass
        now = time.time()
        for ex in list(self._open):
            ex.fail(CAPTURE_STOPPED, now)
            self._finish(ex)
        rec.stop(timeout)

    @property
    def path(self) -> str:
        """The file this process writes (its first part)."""
        return process_path(self.output, os.getpid()) if self.per_process else self.output

    @property
    def paths(self) -> list[str]:
        """The files this process has written so far, first part first."""
        w = self._recorder.writer if self._recorder is not None else None
        return w.paths if w is not None else []

    @property
    def stats(self) -> dict[str, int]:
        """Counts for this process: ``written`` exchanges, ``dropped`` (queue full), ``failed``
        (write errors), ``not_converted``, ``skipped`` (not MCP), ``internal_errors``."""
        rec = self._recorder
        if rec is None or self._pid != os.getpid():
            return dict.fromkeys(("written", "dropped", "failed", "not_converted", "skipped", "internal_errors"), 0)
        return rec.stats


__all__ = ["MCPSniffMiddleware", "process_path", "request_url"]
