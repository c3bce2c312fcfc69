"""Run a real mitmproxy in-process with the mcpsniff addon.

:class:`Capture` owns one ``DumpMaster``: reverse mode (``reverse:URL``, lazy
upstream connections so a refused upstream still gives an exchange with an
error) when an upstream is given, otherwise a regular HTTP(S) proxy.  Startup
problems (invalid upstream, port in use, unwritable output) raise
:class:`~mcpsniff.errors.CaptureError` with a one-line message; nothing calls
``sys.exit`` and nothing here prints.

:func:`run_until_stopped` is the foreground runner behind ``mcpsniff capture``:
SIGINT/SIGTERM stop it cleanly, and a caller-supplied coroutine (the CLI's live
summary) runs beside the proxy.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from ..errors import CaptureError
from .recorder import RecorderOptions

log = logging.getLogger(__name__)


@dataclass
class CaptureConfig:
    """A proxy capture: what to record (the recorder's options, :mod:`.recorder`) and how to proxy."""

    recorder: RecorderOptions  # what to record, and where (``recorder.output``)
    upstream: str | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    upstream_insecure: bool = False  # do not verify the upstream server's TLS certificate
    upstream_ca: str | None = None  # PEM file of the CA(s) to trust for the upstream server
    options: list[str] = field(default_factory=list)  # any mitmproxy option, "name=value" as mitmdump --set

    @property
    def output(self) -> str:
        return self.recorder.output or ""

    def mode(self) -> str:
        return f"reverse:{normalize_upstream(self.upstream)}" if self.upstream else "regular"


def normalize_upstream(url: str) -> str:
    """``scheme://host[:port]`` of an upstream server; CaptureError when it is not one."""
    raw = url.strip()
    try:
        u = urlsplit(raw)
        port = u.port
    except ValueError as e:
        raise CaptureError(f"invalid upstream URL {url!r}: {e}") from None
    if u.scheme not in ("http", "https"):
        raise CaptureError(f"invalid upstream URL {url!r}: use http://host[:port] or https://host[:port]")
    if not u.hostname:
        raise CaptureError(f"invalid upstream URL {url!r}: no host")
    if u.path not in ("", "/") or u.query or u.fragment:
        raise CaptureError(
            f"invalid upstream URL {url!r}: give the server (scheme://host:port) only; "
            "clients keep their own path (e.g. /mcp) and point at the proxy"
        )
    if u.username or u.password:
        raise CaptureError(f"invalid upstream URL {url!r}: credentials in the URL are not supported")
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
    return f"{u.scheme}://{host}" + (f":{port}" if port else "")


# -- the proxy ---------------------------------------------------------------------------------
class _LogCollector(logging.Handler):
    """Keeps mitmproxy's warnings/errors (instead of printing them) and forwards errors."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: list[str] = []
        self.on_error: Callable[[str], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            try:
                msg = record.getMessage().splitlines()[0]
            except Exception:  # noqa: BLE001
                msg = str(record.msg)
            self.errors.append(msg)
            if self.on_error:
                self.on_error(msg)


class Capture:
    """One in-process mitmproxy with the mcpsniff addon.

    Use :meth:`run` inside an event loop (it returns when stopped), or
    :meth:`start` / :meth:`stop` to run it in a background thread.
    """

    def __init__(self, config: CaptureConfig) -> None:
        from .addon import McpSniff

        self.config = config
        self.addon = McpSniff()
        self.listen_addrs: list[tuple[str, int]] = []
        self.ready = threading.Event()
        self.error: CaptureError | None = None
        self.on_error: Callable[[str], None] | None = None  # errors logged while running
        self.extra_addons: list[Any] = []  # further mitmproxy addons (e.g. upstream-failure notices)
        self.make_master: Callable[[Any], Any] | None = None  # options -> master (default: a headless DumpMaster)
        self.confdir: str = "~/.mitmproxy"  # mitmproxy's confdir (its CA) once running
        self._master: Any = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._stop_requested = False

    @property
    def port(self) -> int | None:
        return self.listen_addrs[0][1] if self.listen_addrs else None

    @property
    def output_paths(self) -> list[str]:
        return self.addon.output_paths or [self.config.output]

    async def run(self) -> None:
        """Start the proxy and serve until :meth:`stop`; CaptureError on failure."""
        try:
            await self._run()
        except CaptureError as e:
            self.error = e
            raise
        finally:
            self.ready.set()

    async def _run(self) -> None:
        from mitmproxy import exceptions, options
        from mitmproxy.tools.dump import DumpMaster

        cfg = self.config
        mode = cfg.mode()  # CaptureError for a bad upstream
        if not 0 <= cfg.listen_port <= 65535:
            raise CaptureError(f"invalid listen port {cfg.listen_port}: use 0..65535 (0 picks a free port)")
        collector = _LogCollector()
        # errors while running are said at once; startup errors become the one CaptureError line
        collector.on_error = lambda msg: self.on_error(msg) if self.on_error and self._started else None
        root = logging.getLogger()
        root.addHandler(collector)
        try:
            if self.make_master is not None:
                master = self.make_master(options.Options())
            else:
                master = DumpMaster(options.Options(), with_termlog=False, with_dumper=False)
            errorcheck = master.addons.get("errorcheck")
            if errorcheck is not None:  # it would sys.exit(); we report startup errors ourselves
                master.addons.remove(errorcheck)
                errorcheck.finish()
            master.addons.add(self.addon, _Running(self), *self.extra_addons)
            core: dict[str, Any] = dict(mode=[mode], listen_host=cfg.listen_host, listen_port=cfg.listen_port)
            if cfg.upstream:
                core["connection_strategy"] = "lazy"
            if cfg.upstream_insecure:
                core["ssl_insecure"] = True
            if cfg.upstream_ca:
                if not os.path.isfile(cfg.upstream_ca):
                    raise CaptureError(f"--upstream-ca: {cfg.upstream_ca}: no such file")
                core["ssl_verify_upstream_trusted_ca"] = os.path.abspath(cfg.upstream_ca)
            try:
                master.options.update(**core)
                if cfg.options:
                    master.options.set(*cfg.options)
                master.options.update(**cfg.recorder.mitmproxy())
            except exceptions.OptionsError as e:
                raise CaptureError(str(e).splitlines()[0] if str(e) else "invalid options") from None
            self._master = master
            startup_errors = len(collector.errors)
            try:
                await master.run()
            finally:
                self._master = None
                ps = master.addons.get("proxyserver")
                try:  # close the listening sockets now, not whenever the loop goes away
                    await ps.servers.update([])
                except Exception as e:  # noqa: BLE001
                    log.debug(f"mcpsniff: stopping the proxy servers: {e!r}")
                # connections still open are cancelled when the loop closes: not worth a message
                asyncio.get_running_loop().set_exception_handler(_quiet_exception_handler)
            lost = self.addon.recorder.loss_report()
            if lost:
                raise CaptureError(lost)
            if not self._started:
                msgs = collector.errors[startup_errors:]
                if self._stop_requested and not msgs:
                    return  # stopped (Ctrl-C, SIGTERM) before it listened: nothing failed
                raise CaptureError(_startup_message(cfg, msgs))
        except CaptureError:
            self._forget_empty_file()
            raise
        finally:
            root.removeHandler(collector)
            self.addon.done()  # no-op when mitmproxy already ran done()

    def _forget_empty_file(self) -> None:
        """A capture that never started leaves no file behind (only if it created it and wrote just the meta line)."""
        w = self.addon.recorder.writer
        f = w.file if w is not None else None
        if f is None or not f.created or f.part or f.lines > 1 or self._started:
            return
        self.addon.recorder.stop()
        try:
            os.unlink(f.base)
        except OSError:
            pass

    def _on_running(self) -> None:
        master = self._master
        ps = master.addons.get("proxyserver") if master else None
        addrs = [tuple(a[:2]) for a in ps.listen_addrs()] if ps else []
        if not addrs:  # nothing listens: a startup error was logged
            master.shutdown()
            return
        self.listen_addrs = addrs
        self.confdir = master.options.confdir
        self._started = True
        self.ready.set()
        if self._stop_requested:
            master.shutdown()

    def stop(self) -> None:
        """Stop the proxy (thread-safe); open exchanges are recorded as "capture stopped"."""
        self._stop_requested = True
        master = self._master
        if master is not None:
            try:
                master.shutdown()
            except RuntimeError:  # its loop has already closed
                pass

    # -- background thread (tests, embedding) --
    def start(self, timeout: float = 30.0) -> "Capture":
        """Run in a background thread; returns once listening, CaptureError otherwise."""

        def target() -> None:
            try:
                asyncio.run(self.run())
            except CaptureError:
                pass
            except BaseException as e:  # noqa: BLE001
                self.error = CaptureError(f"capture failed: {e!r}")
                self.ready.set()

        self._thread = threading.Thread(target=target, name="mcpsniff-capture", daemon=True)
        self._thread.start()
        if not self.ready.wait(timeout):
            raise CaptureError("the proxy did not start in time")
        if self.error is not None:
            raise self.error
        return self

    def join(self, timeout: float = 30.0) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "Capture":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.join()


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    log.debug(f"mcpsniff: ignored while stopping: {context.get('message')}: {context.get('exception')!r}")


class _Running:
    """Internal addon: tells the Capture when the proxy listens."""

    def __init__(self, cap: Capture) -> None:
        self.cap = cap

    def running(self) -> None:
        self.cap._on_running()


def _startup_message(cfg: CaptureConfig, errors: list[str]) -> str:
    where = f"{cfg.listen_host}:{cfg.listen_port}"
    for msg in errors:
        low = msg.lower()
        if "address already in use" in low:
            return f"cannot listen on {where}: address already in use (choose another --listen-port)"
        if "failed to listen" in low or "bind" in low:
            return f"cannot listen on {where}: {msg.rsplit(': ', 1)[-1]}"
    if errors:
        return errors[0]
    return f"cannot listen on {where}"


# -- foreground runner ------------------------------------------------------------------------
def run_until_stopped(cfg: CaptureConfig, *, beside: Callable[[Capture], Awaitable[None]] | None = None,
                      setup: Callable[[Capture], None] | None = None) -> Capture:
    """Run a capture until SIGINT/SIGTERM (a second signal stops waiting for a clean shutdown).

    ``setup(cap)`` runs before the proxy starts (e.g. to add record listeners);
    ``beside(cap)`` is a coroutine run next to the proxy and cancelled when it stops.
    Returns the stopped Capture; CaptureError (one-line message) on failure.
    """
    cap = Capture(cfg)
    if setup is not None:
        setup(cap)

    failed: list[BaseException] = []

    def side_ended(t: asyncio.Task) -> None:
        # what runs beside the proxy (the banner, the live summary) failing must not leave a proxy
        # running with nothing on the screen: stop, and raise its error once stopped
        if not t.cancelled() and t.exception() is not None:
            failed.append(t.exception())
            cap.stop()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        stops = 0

        def on_signal() -> None:
            nonlocal stops
            stops += 1
            if stops == 1:
                cap.stop()
            elif task is not None:  # second Ctrl-C: stop waiting for a clean shutdown
                task.cancel()

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, on_signal)
                except (NotImplementedError, RuntimeError):
                    pass
            if hasattr(signal, "SIGPIPE"):
                signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        side = asyncio.create_task(beside(cap)) if beside is not None else None
        if side is not None:
            side.add_done_callback(side_ended)
        try:
            await cap.run()
        finally:
            if side is not None:
                side.cancel()
                try:
                    await side
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        pass
    if cap.error is not None:
        raise cap.error
    if failed:
        raise failed[0]
    return cap


def default_output(now: float | None = None) -> str:
    return os.path.join("captures", time.strftime("mcpsniff-%Y%m%d-%H%M%S.jsonl", time.localtime(now)))
