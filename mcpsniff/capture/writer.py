"""The capture file: append-only JSONL, one whole line per write, mode 0600, rotation by size."""

from __future__ import annotations

import atexit
import logging
import math
import os
import queue
import threading
import time
from typing import Any, Callable

import orjson

from ..schema import rotated_path  # noqa: F401 - the addon and the CLI name parts as the readers do


MAX_DEPTH = 200  # orjson writes up to 254 levels; deeper parts are kept as text


def _clean(obj: Any, depth: int = 0) -> Any:
    """A copy orjson can write and read back: lone surrogates escaped as \\xNN, integers beyond
    64 bits as strings, non-finite floats as strings, parts nested deeper than MAX_DEPTH as text."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj
        except UnicodeEncodeError:
            try:  # bytes a decoder kept with surrogateescape come back as themselves: \xa9
                return obj.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:  # other lone surrogates as their UTF-8 form: \xed\xa0\x80
                return obj.encode("utf-8", "surrogatepass").decode("utf-8", "backslashreplace")
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return obj if -(1 << 63) <= obj < (1 << 64) else str(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if depth >= MAX_DEPTH:
        return f"<{type(obj).__name__} nested deeper than {MAX_DEPTH} levels, not kept>"
    if isinstance(obj, dict):
        return {str(_clean(k, depth + 1)): _clean(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v, depth + 1) for v in obj]
    return str(obj)


def storable(obj: Any) -> Any:
    """``obj`` as the writer stores it: itself when orjson can write it, else the cleaned copy.
    Readers of other formats pass their records through it (mitmproxy decodes a flow's scheme, host
    and path with surrogateescape: bytes that are not UTF-8 become lone surrogates), so every input
    reaches the table as a capture would."""
    try:
        orjson.dumps(obj)
        return obj
    except TypeError:
        return _clean(obj)


def _dumps(obj: Any) -> bytes:
    """One JSON line that the reader accepts, whatever the record holds (never a line it rejects)."""
    try:
        return orjson.dumps(obj) + b"\n"
    except TypeError:
        pass
    try:
        return orjson.dumps(_clean(obj)) + b"\n"
    except (TypeError, RecursionError) as e:  # pragma: no cover - _clean leaves nothing unwritable
        stub = {k: obj.get(k) for k in ("v", "kind", "id", "t") if isinstance(obj, dict)}
        stub["error"] = f"record could not be written: {e}"
        return orjson.dumps(_clean(stub)) + b"\n"




class JsonlWriter:
    """Append-only JSONL: one ``os.write`` per whole line, file mode 0600, rotation by size.

    Every file starts with a meta line (``part`` says which file of the capture it is).
    Raises OSError when a line cannot be written completely.
    """

    def __init__(
        self, path: str, meta: Callable[[int], dict[str, Any]], rotate_bytes: int = 0, *, sole_writer: bool = True
    ) -> None:
        self.base = path
        self.meta = meta
        self.rotate_bytes = rotate_bytes
        self.sole_writer = sole_writer  # no other process appends to the file: a torn line may be cut off
        self.part = 0
        self.lines = 0
        self.fd: int | None = None
        self.size = 0
        self.created = not os.path.exists(path)  # this capture made the file
        self._open()

    @property
    def path(self) -> str:
        return rotated_path(self.base, self.part)

    def _open(self) -> None:
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600)
        st = os.fstat(fd)
        if st.st_mode & 0o077:  # an existing file others can read: make it private, or refuse it
            try:
                os.fchmod(fd, 0o600)
            except OSError as e:
                os.close(fd)
                raise OSError(e.errno, f"it is readable by others and cannot be made private ({e.strerror})") from None
        self.fd = fd
        self.size = st.st_size
        self._write_line(_dumps(self.meta(self.part)))

    def _write_line(self, line: bytes) -> None:
        assert self.fd is not None
        n = os.write(self.fd, line)
        if n != len(line):
            self._cut_back()
            raise OSError(28, f"short write ({n} of {len(line)} bytes), disk full?")
        self.size += n
        self.lines += 1

    def _cut_back(self) -> None:
        """Remove a partly written line, so the file ends with whole lines (best effort).  Only
        when no other process appends to the file (``size`` counts this writer's bytes)."""
        if not self.sole_writer or self.fd is None:
            return
        try:
            if os.fstat(self.fd).st_size > self.size:
                os.ftruncate(self.fd, self.size)
        except OSError:
            pass

    def write(self, record: dict[str, Any]) -> None:
        if self.fd is None:
            raise OSError(9, "capture file is closed")
        self._write_line(_dumps(record))
        if self.rotate_bytes and self.size >= self.rotate_bytes:
            self.close()
            self.part += 1
            self._open()

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


# -- a writer thread for recorders inside a server ------------------------------------------------
class _Alarm:
    """Logs a recurring failure loudly but boundedly: the first time at once, later at most every
    ``every`` seconds with the running count, so a full disk cannot flood the server's log."""

    def __init__(self, log: logging.Logger, every: float = 10.0) -> None:
        self.log = log
        self.every = every
        self._last = float("-inf")

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.log.error(message)


class _Flush:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()
#: seconds the writer thread waits after waking for more records to write in the same batch: fewer
#: thread switches (each one costs the server's event loop the GIL) and a thread that runs warm (its
#: code and data still in the CPU's caches from the record before; docs/performance.md); records
#: reach the file up to 250 ms later (flush and close do not wait for it)
LINGER = 0.25
MAX_BATCH = 1000


class BackgroundWriter:
    """A :class:`JsonlWriter` on its own thread behind a bounded queue.

    For recorders that live inside a server process (the ASGI middleware): the
    server's event loop must never wait for the disk, and a recording problem
    must never become the request's problem.  So:

    - :meth:`submit` never blocks and never raises.  Items are record dicts or
      zero-argument callables that build one (or return None: nothing to
      write), so the conversion runs on this thread too.  A full queue drops
      the item: it returns False and counts it in :attr:`dropped`;
    - the file is opened on the thread; a line that cannot be written (disk
      full, I/O error, the file cannot be opened) is counted in
      :attr:`failed` and logged, and writing goes on with the next one.  When
      ``sole_writer`` (no other process appends to the file) the bytes of a
      partly written line are cut off again, so the file keeps whole lines;
    - the thread wakes for a batch (it waits ``linger`` seconds for more after
      the first item, less when :meth:`flush` or :meth:`close` is called or a
      full batch is waiting) and appends the batch's whole lines with one
      ``os.write`` (one per rotated part): a recorder shares the GIL with the server, and
      every wake-up and every write costs the server's event loop a hand-over;
    - every failure is logged at ERROR, the first one at once and then at most
      every 10 s with the counts;
    - :meth:`close` writes what is queued (bounded by a timeout) and, when
      records were lost, a last meta line saying how many (``lost``).
    """

    def __init__(
        self,
        path: str,
        meta: Callable[[int], dict[str, Any]],
        rotate_bytes: int = 0,
        *,
        max_queue: int = 10_000,
        sole_writer: bool = True,
        log: logging.Logger | None = None,
        name: str = "mcpsniff-writer",
        linger: float = LINGER,
    ) -> None:
        self.base = path
        self.meta = meta
        self.rotate_bytes = rotate_bytes
        self.sole_writer = sole_writer
        self.linger = linger
        self.log = log or logging.getLogger(__name__)
        self.written = 0  # lines written (meta lines excluded)
        self.dropped = 0  # items refused because the queue was full (or the writer closed)
        self.failed = 0  # records lost to a failed write / open
        self.errors = 0  # items whose conversion raised
        self.last_error: str | None = None
        self._file: JsonlWriter | None = None
        # a SimpleQueue (C, no Python-level lock: a put costs the event loop ~50 ns, a Queue's ~600 ns)
        # bounded by submit: records wait here while at most max_queue are waiting
        self.max_queue = max_queue
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._wake = threading.Event()  # cuts the linger short: someone waits for the file
        self._closed = False
        self._pid = os.getpid()
        self._alarm_full = _Alarm(self.log)
        self._alarm_write = _Alarm(self.log)
        self._alarm_item = _Alarm(self.log)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # -- the event loop's side -------------------------------------------------------------------
    def submit(self, item: dict[str, Any] | Callable[[], dict[str, Any] | None]) -> bool:
        """Queue a record (or a callable making one); False when it was dropped."""
        if self._closed:
            self.dropped += 1
            return False
        if self._q.qsize() >= self.max_queue:
            self.dropped += 1
            self._alarm_full(
                f"mcpsniff: the recording queue is full ({self.max_queue} waiting): records are being dropped "
                f"({self.dropped} so far); the server is not slowed down, but the capture {self.base} is incomplete"
            )
            return False
        self._q.put(item)
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted before this call is written (True) or ``timeout`` passes."""
        if self._closed or not self._thread.is_alive():
            return False
        marker = _Flush()
        self._q.put(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread and close the file (idempotent)."""
        if self._closed or os.getpid() != self._pid:  # a forked child has no thread and must not wait for one
            return
        self._closed = True
        try:
            atexit.unregister(self.close)
        except Exception:  # noqa: BLE001 - interpreter shutting down
            pass
        self._q.put(_STOP)
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.log.error(f"mcpsniff: the writer of {self.base} did not finish within {timeout:.0f} s "
                           f"({self._q.qsize()} records still queued)")

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def paths(self) -> list[str]:
        """Files written so far, base first."""
        part = self._file.part if self._file is not None else 0
        return [rotated_path(self.base, p) for p in range(part + 1) if os.path.exists(rotated_path(self.base, p))]

    # -- the thread's side -----------------------------------------------------------------------
    def _run(self) -> None:
        self._open()
        stopping = False
        while not stopping:
            batch = [self._q.get()]
            if (self.linger and batch[0] is not _STOP and not isinstance(batch[0], _Flush)
                    and self._q.qsize() < MAX_BATCH):  # (a full batch waiting already: no waiting for more)
                self._wake.wait(self.linger)  # let a batch gather: one wake-up and one write for many records
            self._wake.clear()
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            lines: list[tuple[bytes, int]] = []  # (line, 1 for a record of traffic / 0 for a meta line)
            flushes = []
            for item in batch:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _Flush):
                    flushes.append(item)
                else:
                    line = self._line(item)
                    if line is not None:
                        lines.append(line)
            self._write_lines(lines)
            for marker in flushes:
                marker.done.set()
        if self.dropped or self.failed or self.errors:
            part = self._file.part if self._file is not None else 0
            lost = {"queue_full": self.dropped, "write_failed": self.failed, "not_converted": self.errors}
            line = self._line(self.meta(part) | {"lost": lost})
            if line is not None:
                self._write_lines([line])
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass

    def _line(self, item: Any) -> tuple[bytes, int] | None:
        """The serialised line of a queued item, or None (nothing to write, or it failed)."""
        try:
            rec = item() if callable(item) else item
            if rec is None:
                return None
            return _dumps(rec), 0 if rec.get("kind") == "meta" else 1
        except Exception as e:  # noqa: BLE001 - one bad record must not stop the recording
            self.errors += 1
            self._alarm_item(f"mcpsniff: could not make a record ({self.errors} so far): {e!r}")
            return None

    def _open(self) -> bool:
        try:
            self._file = JsonlWriter(self.base, self.meta, self.rotate_bytes, sole_writer=self.sole_writer)
            return True
        except OSError as e:
            self._file = None
            self.last_error = f"cannot write to {self.base}: {e.strerror or e}"
            self._alarm_write(f"mcpsniff: {self.last_error}; records are lost until it works again")
            return False

    def _write_lines(self, lines: list[tuple[bytes, int]]) -> None:
        """Append whole lines, as few ``os.write`` calls as rotation allows (a file passes the
        rotation size by one line at most).  A failed write loses the lines it did not get in."""
        i = 0
        while i < len(lines):
            w = self._file
            if (w is None or w.fd is None) and not self._open():
                self.failed += sum(c for _, c in lines[i:])
                return
            w = self._file
            assert w is not None and w.fd is not None
            j, size = i, w.size
            while j < len(lines):  # up to and including the line that reaches the rotation size
                size += len(lines[j][0])
                j += 1
                if w.rotate_bytes and size >= w.rotate_bytes:
                    break
            buf = b"".join(line for line, _ in lines[i:j])
            try:
                n = os.write(w.fd, buf)
                error: OSError | None = None if n == len(buf) else OSError(28, f"short write ({n} of {len(buf)} bytes), disk full?")
            except OSError as e:
                n, error = 0, e
            whole = i  # lines that got in completely
            got = 0
            while whole < j and got + len(lines[whole][0]) <= n:
                got += len(lines[whole][0])
                whole += 1
            w.size += got
            w.lines += whole - i
            self.written += sum(c for _, c in lines[i:whole])
            if error is not None:
                if got < n:
                    w._cut_back()  # the start of a line got in: cut it off (sole writer only)
                self.failed += sum(c for _, c in lines[whole:j])
                self.last_error = f"cannot write to {w.path}: {error.strerror or error}"
                self._alarm_write(
                    f"mcpsniff: {self.last_error}; {self.failed} records lost so far (the server keeps serving)"
                )
            elif w.rotate_bytes and w.size >= w.rotate_bytes:
                try:
                    w.close()
                    w.part += 1
                    w._open()
                except OSError as e:
                    self.last_error = f"cannot write to {w.path}: {e.strerror or e}"
                    self._alarm_write(f"mcpsniff: {self.last_error}; records are lost until it works again")
            i = j
