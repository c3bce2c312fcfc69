"""The recorder: what every way of recording shares, once.

Two thin adapters feed it the parts of each exchange they see: the mitmproxy addon (``addon``,
behind ``mcpsniff capture`` and ``mitmdump -s``) and the in-process ASGI middleware (``asgi``).
The recorder owns, for both:

- the options: each declared once in :data:`OPTIONS` (name, kind, default, help, the capture
  command's flag) and validated once, by :class:`RecorderOptions`.  The addon derives its mitmproxy
  options from the declarations, the middleware its keyword arguments, ``mcpsniff capture`` its
  flags; a bad value is one :class:`OptionError` naming the option the way its user spelt it;
- the meta line (:meth:`Recorder.meta`): the same fields from both, plus what only one of them
  knows (the proxy's mode, the ASGI server);
- the SSE tap (:class:`SseTap`): every chunk goes on unchanged and at once, a copy is parsed into
  timestamped events, and a legacy server's ``endpoint`` event is learnt while its stream is open;
- the sequence from an exchange to a line: classify (is it MCP?) -> learn its endpoint -> skip it
  (not MCP, unless ``record_all``) -> convert it, or say what can safely be said of it when that
  fails -> hand it to the writer (:class:`~.writer.RecordWriter`: one failure policy, drops counted
  and reported).

Imports no mitmproxy (the ASGI middleware is built on it).
"""

from __future__ import annotations

import itertools
import logging
import os
import platform
import time
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterable, Iterator, Optional

from .. import __version__, schema
from ..errors import CaptureError
from ..units import parse_size
from .convert import DEFAULT_BODY_LIMIT, ExchangeParts, SseCollector, exchange_from_parts, fallback_from_parts
from .detect import McpEndpoints, is_mcp_parts
from .redact import Redactor, parse_extra, parse_patterns
from .writer import RecordWriter

log = logging.getLogger(__name__)


from ..options import _UNSET, BY_NAME, COUNT, NAMES, OPTIONS, PATH, PATTERNS, SIZE, SWITCH, Kind, Option, flags, keyword  # noqa: F401


class OptionError(CaptureError):
    """An option value that cannot be used, said with the option's name as its user spelt it."""

    def __init__(self, spelt: str, reason: str) -> None:
        super().__init__(f"{spelt}: {reason}")
        self.reason = reason


class RecorderOptions:
    """The validated values of :data:`OPTIONS`, by name (``opts.body_limit``).

    ``RecorderOptions(body_limit="64k", redact_extra="X-Tenant")``: what is not given keeps its
    default.  ``spell`` names an option in an :class:`OptionError` (the keyword by default; the
    addon gives mitmproxy's name, the CLI the flag).  An unknown name is a TypeError, as for any
    keyword argument."""

    def __init__(self, spell: Callable[[Option], str] = keyword, **given: Any) -> None:
        for name in given:
            if name not in BY_NAME:
                raise TypeError(f"unknown recorder option {name!r} (known: {', '.join(BY_NAME)})")
        for opt in OPTIONS:
            value = opt.default
            if opt.name in given:
                try:
                    value = opt.kind.parse(given[opt.name], opt)
                except ValueError as e:
                    raise OptionError(spell(opt), str(e)) from None
            setattr(self, opt.name, value)

    def __getattr__(self, name: str) -> Any:  # the values are set in __init__; this is for type checkers
        raise AttributeError(name)

    def as_dict(self) -> dict[str, Any]:
        return {o.name: getattr(self, o.name) for o in OPTIONS}

    def mitmproxy(self) -> dict[str, Any]:
        """The values as the addon's mitmproxy options (``mcpsniff_<name>``)."""
        return {o.mitmproxy_name: o.kind.to_mitmproxy(getattr(self, o.name)) for o in OPTIONS if o.only != "asgi"}

    def redactor(self) -> Redactor:
        return Redactor(enabled=self.redact, extra=self.redact_extra, patterns=self.redact_patterns)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecorderOptions) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"RecorderOptions({', '.join(f'{k}={v!r}' for k, v in self.as_dict().items())})"


def cannot_write(path: str, reason: str) -> CaptureError:
    return CaptureError(f"cannot write the capture file {path}: {reason}")


def check_output(path: str) -> None:
    """Fail at startup, not at the first exchange, when the capture file cannot be made."""
    parent = os.path.dirname(os.path.abspath(path)) or "."
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise cannot_write(path, e.strerror or str(e)) from None
    if os.path.isdir(path):
        raise cannot_write(path, "it is a directory")
    if not os.access(parent, os.W_OK):
        raise cannot_write(path, f"{parent} is not writable")


# -- the SSE tap ---------------------------------------------------------------------------------
#: a response to a POST is parsed where the record is made (the writer thread, when there is one)
#: up to this many bytes, as it passes after that
DEFER_MAX = 256 << 10


class SseTap:
    """The tap on one Server-Sent Events response: the bytes go on unchanged and at once, a copy
    is parsed into events (each with the time it passed) by an :class:`~.convert.SseCollector`.

    Called with a chunk it returns the chunk (mitmproxy's ``flow.response.stream``; an empty chunk
    ends the stream); :meth:`feed` takes a chunk and its time (the ASGI middleware).  A ``deferred``
    tap (a response to a POST: the events of one request) keeps its chunks with their times, for
    :meth:`finish` to parse where the record is made, up to ``DEFER_MAX`` bytes; after that, and
    always for a stream that is not deferred, the chunks are parsed as they pass, so a legacy
    server's ``endpoint`` event is learnt while its stream is open.  Either way the collector sees
    the same chunks with the same times, so the events are the same.  Never raises."""

    __slots__ = ("recorder", "encoding", "url", "deferred", "pending", "pending_size", "_collector", "_learnt")

    def __init__(self, recorder: "Recorder", encoding: str | None, url: Callable[[], str], deferred: bool = False):
        self.recorder = recorder
        self.encoding = encoding
        self.url = url  # the request's URL, asked for only when an `endpoint` event needs it
        self.deferred = deferred
        self.pending: list[tuple[bytes, float]] = []
        self.pending_size = 0
        self._collector: SseCollector | None = None  # made when first needed
        self._learnt = 0

    def __call__(self, chunk: bytes) -> bytes:
        try:
            if chunk:
                self.feed(chunk, time.time())
            else:
                self.finish(time.time())
        except Exception:  # noqa: BLE001 - the bytes must always go through
            pass
        return chunk

    @property
    def collector(self) -> SseCollector:
        if self._collector is None:
            self._collector = SseCollector(self.encoding, limit=self.recorder.options.body_limit,
                                           redactor=self.recorder.redactor)
        return self._collector

    def feed(self, chunk: bytes, t: float) -> None:
        if self.deferred and self.pending_size + len(chunk) <= DEFER_MAX:
            self.pending.append((bytes(chunk), t))
            self.pending_size += len(chunk)
            return
        self.deferred = False
        self._catch_up()
        self.collector.feed(chunk, t)
        endpoints = self.collector.endpoints
        if len(endpoints) > self._learnt:  # legacy `endpoint` event: learn it now
            new = endpoints[self._learnt:]
            self._learnt = len(endpoints)
            self.recorder.learn_urls(self.url(), new)

    def finish(self, t: float) -> SseCollector:
        """The collector with every event (an unterminated last one too); idempotent."""
        self._catch_up()
        self.collector.finish(t)
        return self.collector

    def _catch_up(self) -> None:
        if self.pending:
            collector = self.collector
            for chunk, t in self.pending:
                collector.feed(chunk, t)
            self.pending.clear()


# -- one exchange, as an adapter hands it over ------------------------------------------------------
class ExchangeSource:
    """What an adapter knows of one finished exchange; the recorder asks it, where the record is made.
    ``broken``: a recording error while the exchange passed (only what is safe to say of it is
    recorded); every adapter's exchange has it (a slot of its own, or this class attribute)."""

    __slots__ = ()
    broken: str | None = None

    def parts(self) -> ExchangeParts:
        """The exchange as plain values (may raise: the recorder then records :meth:`summary`)."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """``id, t_req, method, url, status, error``: what can always be said of it.  Never raises."""
        raise NotImplementedError

    def adjust(self, rec: dict[str, Any]) -> None:
        """Correct the record where the adapter knows better (e.g. a body it saw only in part)."""


# -- the recorder ------------------------------------------------------------------------------------
class Recorder:
    """One capture: its options, the endpoints known to be MCP, its writer and its counts.

    ``name`` is the meta line's ``recorder``; ``context()`` gives the meta fields only the adapter
    knows.  ``threaded``: the record is made and written on a writer thread (inside a server),
    else at once where the adapter calls :meth:`record`."""

    def __init__(self, options: RecorderOptions, *, name: str, context: Callable[[], dict[str, Any]] = dict,
                 threaded: bool = False, log: logging.Logger = log) -> None:
        self.options = options
        self.name = name
        self.context = context
        self.threaded = threaded
        self.log = log
        self.redactor = options.redactor()
        self.endpoints = McpEndpoints()  # used where records are made only (the writer thread, if any)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.writer: RecordWriter | None = None
        self.capture_id = uuid.uuid4().hex[:12]
        self.started = time.time()
        self.skipped = 0  # exchanges that were not MCP (with record_all off)
        self.internal_errors = 0  # errors in an adapter's recording code (its exchange recorded in part, or not)
        self._ids: Iterator[int] = itertools.count()

    # -- the file --------------------------------------------------------------------------------
    def start(self, path: str, *, sole_writer: bool = True, thread_name: str = "mcpsniff-writer") -> RecordWriter:
        """Start writing to ``path`` (a new capture id; the meta line first).  Inline, a file that
        cannot be written is a CaptureError now."""
        self.stop()
        self.capture_id = uuid.uuid4().hex[:12]
        self.started = time.time()
        self._ids = itertools.count()
        rotate = self.options.rotate_mb * 1024 * 1024
        try:
            self.writer = RecordWriter(path, self.meta, rotate, threaded=self.threaded, max_queue=self.options.queue_size,
                                       sole_writer=sole_writer, log=self.log, name=thread_name, listeners=self.listeners)
        except OSError as e:
            raise cannot_write(path, e.strerror or str(e)) from None
        return self.writer

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is waiting (and how much was lost, if anything) and close the file."""
        if self.writer is not None:
            self.writer.close(timeout)

    def meta(self, part: int) -> dict[str, Any]:
        """The meta line of part ``part`` of this capture (docs/schema.md)."""
        return schema.make_meta(
            tool="mcpsniff",
            recorder=self.name,
            mcpsniff=__version__,
            python=platform.python_version(),
            capture=self.capture_id,
            part=part,
            started=self.started,
            redaction=self.redactor.settings(),
            body_limit=self.options.body_limit,
            record_all=self.options.record_all,
            **self.context(),
        )

    def settings_changed(self, options: RecorderOptions) -> None:
        """New options mid-capture (same file): a meta line says so."""
        self.options = options
        self.redactor = options.redactor()
        if self.writer is not None and not self.writer.closed:
            self.writer.submit(self.meta(self.writer.part))

    # -- exchanges -------------------------------------------------------------------------------
    def next_id(self) -> str:
        return f"{self.capture_id}-{next(self._ids)}"

    def tap(self, encoding: str | None, url: Callable[[], str], deferred: bool = False) -> SseTap:
        return SseTap(self, encoding, url, deferred)

    def learn_urls(self, url: str, endpoint_events: list[str]) -> None:
        """POST URLs a legacy stream announced, learnt where the records are made."""
        w = self.writer
        if w is not None and w.threaded:
            w.submit(partial(self._learn_urls, url, endpoint_events))
        else:
            self.endpoints.learn_urls(url, endpoint_events)

    def _learn_urls(self, url: str, endpoint_events: list[str]) -> None:
        self.endpoints.learn_urls(url, endpoint_events)  # nothing to write

    def record(self, source: ExchangeSource) -> None:
        """Record one finished exchange (never raises, never blocks)."""
        w = self.writer
        if w is not None:
            w.submit(partial(self.make_record, source))

    def make_record(self, source: ExchangeSource) -> dict[str, Any] | None:
        """The record of an exchange, or None when it is not recorded: classify -> learn -> skip ->
        convert, or what can safely be said of it when converting fails -- not lost silently."""
        why = source.broken
        parts: ExchangeParts | None = None
        try:
            parts = source.parts()
        except Exception as e:  # noqa: BLE001 - recorded as far as is safe
            why = why or f"{type(e).__name__}: {e}"
        try:
            mcp = parts is None or parts.sse is not None or is_mcp_parts(
                parts.method, parts.url, parts.req_headers, parts.req_raw,
                parts.resp.headers if parts.resp is not None else None,
                parts.resp.raw if parts.resp is not None else None, self.endpoints.known)
            if mcp and parts is not None and why is None:
                resp = parts.resp
                self.endpoints.learn_parts(parts.url, resp.status if resp is not None else None,
                                           resp.headers if resp is not None else [],
                                           parts.sse.endpoints if parts.sse is not None else ())
        except Exception as e:  # noqa: BLE001 - an exchange that breaks detection is recorded anyway
            self.log.warning(f"mcpsniff: could not classify exchange {_what(source)}: {e!r}")
            mcp = True
        if not (mcp or self.options.record_all):
            self.skipped += 1
            return None
        if why is None and parts is not None:
            try:
                rec = exchange_from_parts(parts, redactor=self.redactor, body_limit=self.options.body_limit)
                source.adjust(rec)
                return rec
            except Exception as e:  # noqa: BLE001 - a bad exchange must not stop the recording, nor go unrecorded
                self.log.warning(f"mcpsniff: could not convert exchange {_what(source)}: {e!r}")
                why = f"{type(e).__name__}: {e}"
        return fallback_from_parts(**source.summary(), redactor=self.redactor,
                                   why=f"mcpsniff could not record this exchange fully: {why}")

    def internal_error(self, e: Exception, partly: bool = False) -> None:
        """An error in an adapter's own recording code: logged (with its traceback the first time) and counted."""
        self.internal_errors += 1
        what = "recorded only in part" if partly else "not recorded"
        self.log.error(f"mcpsniff: recording error, the exchange is {what} ({self.internal_errors} so far): {e!r}",
                       exc_info=self.internal_errors == 1)

    # -- counts ----------------------------------------------------------------------------------
    @property
    def stats(self) -> dict[str, int]:
        """``written`` exchanges, ``dropped`` (queue full), ``failed`` (write errors),
        ``not_converted``, ``skipped`` (not MCP), ``internal_errors``."""
        w = self.writer
        return {
            "written": w.written if w else 0,
            "dropped": w.dropped if w else 0,
            "failed": w.failed if w else 0,
            "not_converted": w.errors if w else 0,
            "skipped": self.skipped,
            "internal_errors": self.internal_errors,
        }

    @property
    def lost(self) -> int:
        """Exchanges that should have been recorded and are not in the file."""
        return self.writer.lost if self.writer is not None else 0

    def loss_report(self) -> str | None:
        """One line saying what was lost and why, or None when nothing was."""
        n = self.lost
        if not n:
            return None
        why = self.writer.last_error if self.writer is not None and self.writer.last_error else "records were dropped"
        return f"{why}; {n} exchange{'s' if n != 1 else ''} went unrecorded (the traffic was not affected)"


def _what(source: ExchangeSource) -> str:
    s = source.summary()
    return f"{s.get('id')} ({s.get('method')})"
