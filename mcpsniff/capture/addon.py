"""The mcpsniff mitmproxy addon: record MCP exchanges into JSONL.

A thin adapter of the :class:`~.recorder.Recorder`: its options are the recorder's
(:data:`~.recorder.OPTIONS`, as ``mcpsniff_<name>``: ``--set mcpsniff_output=FILE`` with
mitmdump, or ``master.options.update``; ``mitmdump --options`` lists them with their help),
validated by the recorder in ``configure``; its hooks hand each finished flow to the recorder
as plain values.  Nothing is written while ``mcpsniff_output`` is unset.

One line per exchange, written when it ends (response complete or error).
Server-Sent Events responses are streamed: every chunk goes to the client
unchanged and at once while a copy is decoded and parsed for the record.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from mitmproxy import ctx, exceptions, http
from mitmproxy import version as mitmproxy_version

from ..errors import CaptureError
from .convert import CAPTURE_STOPPED, ExchangeParts, flow_parts, flow_summary, header_pairs, is_sse
from .decode import content_encoding
from .recorder import OPTIONS, ExchangeSource, Recorder, RecorderOptions, SseTap
from .writer import rotated_path

log = logging.getLogger(__name__)

_DONE = "mcpsniff_recorded"
#: options that start a new capture file when they change
_FILE_OPTIONS = {"mcpsniff_output", "mcpsniff_rotate_mb"}
_NAMES = {o.mitmproxy_name for o in OPTIONS if o.only != "asgi"}

__all__ = ["CAPTURE_STOPPED", "McpSniff", "rotated_path"]


class _Flow(ExchangeSource):
    """A finished flow, for the recorder."""

    __slots__ = ("flow", "tap", "error", "now")

    def __init__(self, flow: http.HTTPFlow, tap: SseTap | None, error: str | None, now: float | None) -> None:
        self.flow, self.tap, self.error, self.now = flow, tap, error, now

    def parts(self) -> ExchangeParts:
        sse = self.tap.finish(self.now or time.time()) if self.tap is not None else None  # no-op after a normal end
        return flow_parts(self.flow, sse=sse, error=self.error, now=self.now)

    def summary(self) -> dict[str, Any]:
        return flow_summary(self.flow, self.error)


class McpSniff:
    def __init__(self) -> None:
        self.recorder = Recorder(RecorderOptions(), name="mitmproxy", context=self._context)
        self._last_paths: list[str] = []
        self.open: dict[str, http.HTTPFlow] = {}
        self.taps: dict[str, SseTap] = {}
        self.stopped = False  # done() ran

    @property
    def listeners(self) -> list[Callable[[dict[str, Any]], None]]:
        """Called with each record once it is in the file (the live summary)."""
        return self.recorder.listeners

    @property
    def writer(self):  # noqa: ANN201 - the RecordWriter, or None while nothing is recorded
        w = self.recorder.writer
        return w if w is not None and not w.closed else None

    @property
    def stats(self) -> dict[str, int]:
        return self.recorder.stats

    # -- options -------------------------------------------------------------------------------
    def load(self, loader) -> None:
        for opt in OPTIONS:
            if opt.only != "asgi":
                loader.add_option(opt.mitmproxy_name, opt.kind.mitmproxy_type, opt.kind.to_mitmproxy(opt.default),
                                  f"mcpsniff: {opt.help}")

    def configure(self, updated: set[str]) -> None:
        if not _NAMES & updated:
            return
        try:
            options = RecorderOptions(lambda o: o.mitmproxy_name,
                                      **{o.name: getattr(ctx.options, o.mitmproxy_name) for o in OPTIONS if o.only != "asgi"})
        except CaptureError as e:
            raise exceptions.OptionsError(str(e)) from None
        rec = self.recorder
        if _FILE_OPTIONS & updated:
            self._close()
            rec.options, rec.redactor = options, options.redactor()
            if options.output:
                try:
                    rec.start(options.output)
                except CaptureError as e:
                    raise exceptions.OptionsError(str(e)) from None
                self._last_paths = []
                self.stopped = False
        else:
            rec.settings_changed(options)  # mid-capture: a meta line says so

    def _context(self) -> dict[str, Any]:
        opts = ctx.options
        return dict(
            mitmproxy=mitmproxy_version.VERSION,
            mode=list(getattr(opts, "mode", []) or []),
            upstream_tls={
                "verify": not getattr(opts, "ssl_insecure", False),
                "ca": getattr(opts, "ssl_verify_upstream_trusted_ca", None),
            },
        )

    # -- hooks ---------------------------------------------------------------------------------
    def running(self) -> None:
        if self.writer is None and not self.stopped:
            log.warning("mcpsniff: mcpsniff_output is not set, nothing will be recorded (--set mcpsniff_output=FILE)")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not self.stopped and flow.request.method != "CONNECT":
            self.open[flow.id] = flow

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if self.stopped or self.writer is None or flow.response is None or flow.response.stream or not is_sse(flow.response):
            return
        tap = self.recorder.tap(content_encoding(header_pairs(flow.response.headers)), lambda: flow.request.url)
        self.taps[flow.id] = tap
        flow.response.stream = tap

    def response(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def done(self) -> None:
        if not self.stopped:
            now = time.time()
            for flow in list(self.open.values()):
                self._finish(flow, error=CAPTURE_STOPPED, now=now)
            self.stopped = True
        self._close()

    # -- internals -----------------------------------------------------------------------------
    def _finish(self, flow: http.HTTPFlow, error: str | None = None, now: float | None = None) -> None:
        if self.stopped or flow.metadata.get(_DONE):
            return
        flow.metadata[_DONE] = True
        self.open.pop(flow.id, None)
        tap = self.taps.pop(flow.id, None)
        if self.writer is not None:
            self.recorder.record(_Flow(flow, tap, error, now))

    def _close(self) -> None:
        w = self.writer
        if w is not None:
            self._last_paths = self.output_paths
            self.recorder.stop()

    @property
    def output_paths(self) -> list[str]:
        """Files of the current (or last) capture file set, base first."""
        w = self.writer
        if w is None:
            return self._last_paths
        return [rotated_path(w.base, p) for p in range(w.part + 1)]
