"""The mcpsniff mitmproxy addon: record MCP exchanges into JSONL.

Options (``--set name=value`` with mitmdump, or ``master.options.update``):

``mcpsniff_output``        JSONL file to append to; nothing is written while unset
``mcpsniff_redact``        redact secrets in the record (default true)
``mcpsniff_redact_extra``  extra header / query / JSON names to redact, comma-separated
``mcpsniff_redact_patterns`` extra secret patterns (regular expressions, one per line) for URL
                           path segments and text
``mcpsniff_body_limit``    bytes of each body (and of a stream's event data) kept (default 1 MiB)
``mcpsniff_record_all``    record every exchange, not only MCP ones (default false)
``mcpsniff_rotate_mb``     start a new file when the current one passes N MiB (0: never);
                           ``cap.jsonl`` continues in ``cap.1.jsonl``, ``cap.2.jsonl`` ...

One line per exchange, written when it ends (response complete or error).
Server-Sent Events responses are streamed: every chunk goes to the client
unchanged and at once while a copy is decoded and parsed for the record.
"""

from __future__ import annotations

import logging
import os
import platform
import time
import uuid
from typing import Any, Callable, Optional

from mitmproxy import ctx, exceptions, http
from mitmproxy import version as mitmproxy_version

from .. import __version__, schema
from .convert import (
    CAPTURE_STOPPED,
    DEFAULT_BODY_LIMIT,
    SseCollector,
    exchange_record,
    fallback_record,
    header_pairs,
    is_sse,
)
from .decode import content_encoding
from .detect import McpEndpoints
from .redact import Redactor, parse_extra, parse_patterns
from .writer import JsonlWriter, rotated_path

log = logging.getLogger(__name__)

_DONE = "mcpsniff_recorded"


class _SseTap:
    """``flow.response.stream`` callable: forwards each chunk unchanged, records a copy."""

    __slots__ = ("collector", "owner", "url", "_endpoints")

    def __init__(self, collector: SseCollector, owner: "McpSniff", url: str) -> None:
        self.collector = collector
        self.owner = owner
        self.url = url
        self._endpoints = 0

    def __call__(self, chunk: bytes) -> bytes:
        try:
            if chunk:
                self.collector.feed(chunk, time.time())
            else:
                self.collector.finish(time.time())
            if len(self.collector.endpoints) > self._endpoints:  # legacy `endpoint` event: learn it now
                new = self.collector.endpoints[self._endpoints :]
                self._endpoints = len(self.collector.endpoints)
                self.owner.endpoints.learn_urls(self.url, new)
        except Exception:  # noqa: BLE001 - the bytes must always go through
            pass
        return chunk


class McpSniff:
    def __init__(self) -> None:
        self.writer: JsonlWriter | None = None
        self._last_writer: JsonlWriter | None = None
        self.redactor = Redactor()
        self.endpoints = McpEndpoints()
        self.open: dict[str, http.HTTPFlow] = {}
        self.taps: dict[str, SseCollector] = {}
        self.stopped = False  # done() ran
        self.failed: str | None = None
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.capture_id = uuid.uuid4().hex[:12]
        self.written = 0
        self.skipped = 0
        self.unrecorded = 0  # exchanges that should have been recorded after writing failed
        self._body_limit = DEFAULT_BODY_LIMIT
        self._record_all = False

    # -- options -------------------------------------------------------------------------
    def load(self, loader) -> None:
        loader.add_option("mcpsniff_output", Optional[str], None, "mcpsniff: JSONL file to append MCP exchanges to.")
        loader.add_option("mcpsniff_redact", bool, True, "mcpsniff: redact secrets (tokens, cookies, keys) in the record.")
        loader.add_option(
            "mcpsniff_redact_extra", str, "", "mcpsniff: extra header/query/JSON names to redact, comma-separated."
        )
        loader.add_option(
            "mcpsniff_redact_patterns", str, "",
            "mcpsniff: extra secret patterns (regular expressions, one per line) for URL path segments and text.",
        )
        loader.add_option(
            "mcpsniff_body_limit", int, DEFAULT_BODY_LIMIT, "mcpsniff: bytes of each body kept in the record."
        )
        loader.add_option("mcpsniff_record_all", bool, False, "mcpsniff: record every exchange, not only MCP ones.")
        loader.add_option(
            "mcpsniff_rotate_mb", int, 0, "mcpsniff: continue in PATH.1.jsonl, PATH.2.jsonl ... past N MiB (0: never)."
        )

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        if "mcpsniff_body_limit" in updated:
            if opts.mcpsniff_body_limit < 0:
                raise exceptions.OptionsError(
                    f"mcpsniff_body_limit must be 0 or more bytes, not {opts.mcpsniff_body_limit}"
                )
            self._body_limit = opts.mcpsniff_body_limit
        if "mcpsniff_rotate_mb" in updated and opts.mcpsniff_rotate_mb < 0:
            raise exceptions.OptionsError(f"mcpsniff_rotate_mb must be 0 (never) or more, not {opts.mcpsniff_rotate_mb}")
        if "mcpsniff_record_all" in updated:
            self._record_all = opts.mcpsniff_record_all
        redaction_changed = bool({"mcpsniff_redact", "mcpsniff_redact_extra", "mcpsniff_redact_patterns"} & updated)
        if redaction_changed:
            try:
                extra = parse_extra(opts.mcpsniff_redact_extra)
            except ValueError as e:
                raise exceptions.OptionsError(f"mcpsniff_redact_extra: {e}") from None
            try:
                patterns = parse_patterns(opts.mcpsniff_redact_patterns)
            except ValueError as e:
                raise exceptions.OptionsError(f"mcpsniff_redact_patterns: {e}") from None
            self.redactor = Redactor(enabled=opts.mcpsniff_redact, extra=extra, patterns=patterns)
        if {"mcpsniff_output", "mcpsniff_rotate_mb"} & updated:
            self._close_writer()
            if opts.mcpsniff_output:
                path = os.path.expanduser(opts.mcpsniff_output)
                try:
                    self.writer = JsonlWriter(path, self._meta, opts.mcpsniff_rotate_mb * 1024 * 1024)
                    self._last_writer = self.writer
                except OSError as e:
                    raise exceptions.OptionsError(
                        f"cannot write the capture file {path}: {e.strerror or e}"
                    ) from None
                self.stopped = False
                self.failed = None
        elif redaction_changed or {"mcpsniff_body_limit", "mcpsniff_record_all"} & updated:
            if self.writer is not None:  # settings changed mid-capture: say so in the file
                self._write(self._meta(self.writer.part))

    def _meta(self, part: int) -> dict[str, Any]:
        opts = ctx.options
        return schema.make_meta(
            tool="mcpsniff",
            mcpsniff=__version__,
            mitmproxy=mitmproxy_version.VERSION,
            python=platform.python_version(),
            capture=self.capture_id,
            part=part,
            started=time.time(),
            mode=list(getattr(opts, "mode", []) or []),
            redaction=self.redactor.settings(),
            body_limit=self._body_limit,
            record_all=self._record_all,
            upstream_tls={
                "verify": not getattr(opts, "ssl_insecure", False),
                "ca": getattr(opts, "ssl_verify_upstream_trusted_ca", None),
            },
        )

    # -- hooks ---------------------------------------------------------------------------
    def running(self) -> None:
        if self.writer is None and not self.stopped:
            log.warning("mcpsniff: mcpsniff_output is not set, nothing will be recorded (--set mcpsniff_output=FILE)")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not self.stopped and flow.request.method != "CONNECT":
            self.open[flow.id] = flow

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if self.stopped or self.failed or flow.response is None or flow.response.stream or not is_sse(flow.response):
            return
        collector = SseCollector(
            content_encoding(header_pairs(flow.response.headers)),
            limit=self._body_limit,
            redactor=self.redactor,
        )
        self.taps[flow.id] = collector
        flow.response.stream = _SseTap(collector, self, flow.request.url)

    def response(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def done(self) -> None:
        if self.stopped:
            self._close_writer()
            return
        now = time.time()
        for flow in list(self.open.values()):
            self._finish(flow, error=CAPTURE_STOPPED, now=now)
        self.stopped = True
        self._close_writer()

    # -- internals -----------------------------------------------------------------------
    def _finish(self, flow: http.HTTPFlow, error: str | None = None, now: float | None = None) -> None:
        if self.stopped or flow.metadata.get(_DONE):
            return
        flow.metadata[_DONE] = True
        self.open.pop(flow.id, None)
        tap = self.taps.pop(flow.id, None)
        if tap is not None:
            tap.finish(now or time.time())  # no-op when the stream ended normally
        if self.writer is None and not self.failed:
            return
        try:
            mcp = tap is not None or self.endpoints.is_mcp(flow)
            if mcp:
                self.endpoints.learn(flow, tap.endpoints if tap is not None else ())
        except Exception as e:  # noqa: BLE001 - a flow that breaks detection is recorded anyway
            log.warning(f"mcpsniff: could not classify {flow.request.method} {flow.request.pretty_url}: {e!r}")
            mcp = True
        if not (mcp or self._record_all):
            self.skipped += 1
            return
        if self.failed:
            self.unrecorded += 1
            return
        try:
            rec = exchange_record(flow, redactor=self.redactor, body_limit=self._body_limit, sse=tap, error=error, now=now)
        except Exception as e:  # noqa: BLE001 - a bad flow must not stop the proxy, nor go unrecorded
            log.warning(f"mcpsniff: could not convert {flow.request.method} {flow.request.pretty_url}: {e!r}")
            rec = fallback_record(flow, f"mcpsniff could not record this exchange fully: {type(e).__name__}: {e}", error,
                                  redactor=self.redactor)
        if self._write(rec):
            for listener in self.listeners:
                try:
                    listener(rec)
                except Exception as e:  # noqa: BLE001
                    log.debug(f"mcpsniff listener failed: {e!r}")

    def _write(self, rec: dict[str, Any]) -> bool:
        if self.writer is None:
            return False
        try:
            self.writer.write(rec)
        except OSError as e:
            # the traffic goes on: only the recording stops (loudly), the file keeps its whole lines
            path = self.writer.path
            self.failed = f"cannot write to {path}: {e.strerror or e}; recording stopped, the proxy kept forwarding"
            self._close_writer()
            if rec.get("kind") == schema.KIND_EXCHANGE:
                self.unrecorded += 1
            log.error(f"mcpsniff: {self.failed}")
            return False
        if rec.get("kind") == schema.KIND_EXCHANGE:
            self.written += 1
        return True

    def _close_writer(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except OSError:
                pass
            self.writer = None

    @property
    def output_paths(self) -> list[str]:
        """Files of the current (or last) capture file set, base first."""
        w = self.writer or self._last_writer
        if w is None:
            return []
        return [rotated_path(w.base, p) for p in range(w.part + 1)]
