"""What every input format shares: problems, the reading state, opening files.

A bad line or entry becomes a :class:`Problem` (``file:line: reason``) that is
reported and skipped, or, with ``strict=True``, raised as
:class:`~mcpsniff.errors.LoadError`.  Damaged input never escapes as a traceback.
"""

from __future__ import annotations

import gzip
import io
import sys
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable

from ..errors import LoadError


@dataclass(frozen=True)
class Problem:
    """One unusable line or entry; ``str()`` gives the ``file:line: reason`` form."""

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"


OnProblem = Callable[[Problem], None]


@dataclass(frozen=True)
class InputInfo:
    """What reading one input found: its format, how many exchanges, its meta lines."""

    name: str
    fmt: str
    exchanges: int
    meta: tuple[dict[str, Any], ...] = ()


@dataclass
class Reading:
    """The state of reading one input; only the load stage changes it.

    ``line`` numbers are lines for JSONL and entry numbers (1-based) for HAR and
    flow files.  :meth:`info` freezes the result for the later stages.
    """

    name: str
    on_problem: OnProblem
    strict: bool = False
    fmt: str = ""
    exchanges: int = 0
    lines: int = 0  # lines (or entries) read, for offsetting parallel byte ranges
    meta: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, line: int | None, reason: str) -> None:
        p = Problem(self.name, line, reason)
        if self.strict:
            raise LoadError(str(p))
        self.on_problem(p)

    def info(self) -> InputInfo:
        return InputInfo(self.name, self.fmt, self.exchanges, tuple(self.meta))


HEAD_BYTES = 64 * 1024  # what format detection looks at
GZIP_MAGIC = b"\x1f\x8b"


def _open_raw(name: str) -> BinaryIO:
    if name == "-":
        return sys.stdin.buffer
    try:
        return open(name, "rb")  # a FIFO waits here for its writer, as `cat` does
    except FileNotFoundError:
        raise LoadError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise LoadError(f"{name}: is a directory, not a capture file") from None
    except PermissionError:
        raise LoadError(f"{name}: permission denied") from None
    except OSError as e:
        raise LoadError(f"{name}: cannot open ({e.strerror or e})") from None


class _Prefixed(io.RawIOBase):
    """``head`` then the rest of ``stream``: a head read for detection is given back without seeking."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            super().close()


class _EndsEarly(io.RawIOBase):
    """The rest of a stream that already ended early: reading it says so again."""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        raise EOFError("the stream ends early")


def _read_head(stream: BinaryIO, n: int = HEAD_BYTES) -> tuple[bytes, bool]:
    """Up to ``n`` first bytes, and whether the stream ended early (a cut gzip file) meanwhile."""
    chunks, got = [], 0
    while got < n:
        try:
            part = stream.read(min(1024, n - got))  # small reads: a cut stream loses little
        except EOFError:
            return b"".join(chunks), True
        if not part:
            break
        chunks.append(part)
        got += len(part)
    return b"".join(chunks), False


@dataclass
class Opened:
    """An input opened for reading: its stream (no seeking needed), its first bytes, whether it was gzip."""

    stream: BinaryIO
    head: bytes
    gzipped: bool

    def __enter__(self) -> "Opened":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()


def open_input(name: str) -> Opened:
    """Open a path, ``-`` (stdin), a pipe, a FIFO or ``/dev/fd/N`` for reading, unzipping gzip by its magic.

    Nothing here seeks, so any readable stream works; the first bytes are read for format
    detection and handed back in front of the rest."""
    raw = _open_raw(name)
    try:
        head, _ = _read_head(raw)
        stream: BinaryIO = io.BufferedReader(_Prefixed(head, raw))
        gzipped = head[:2] == GZIP_MAGIC
        if gzipped:
            unzipped = gzip.GzipFile(fileobj=stream, mode="rb")
            head, cut = _read_head(unzipped)
            rest: Any = _EndsEarly() if cut else unzipped
            stream = io.BufferedReader(_Prefixed(head, rest))
    except (OSError, EOFError) as e:
        raw.close()
        raise LoadError(f"{name}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    return Opened(stream, head, gzipped)



class CountingReader:
    """A binary stream that tells ``on_bytes`` how many bytes were read from it so far
    (every ``step`` bytes, and once more by :meth:`flush`): progress for the reader of a file."""

    def __init__(self, fo: BinaryIO, on_bytes: Callable[[int], None], step: int = 1 << 20) -> None:
        self._fo, self._on, self._step = fo, on_bytes, step
        self.n = 0
        self._next = step

    def _count(self, k: int) -> None:
        self.n += k
        if self.n >= self._next:
            self._next = self.n + self._step
            self._on(self.n)

    def read(self, size: int = -1) -> bytes:
        b = self._fo.read(size)
        self._count(len(b))
        return b

    def readline(self, size: int = -1) -> bytes:
        b = self._fo.readline(size)
        self._count(len(b))
        return b

    def __iter__(self) -> Any:
        count = self._count
        for line in self._fo:
            count(len(line))
            yield line

    def flush(self) -> None:
        self._on(self.n)

    def __getattr__(self, name: str) -> Any:  # seek, tell, ... of the underlying stream
        return getattr(self._fo, name)


def short_json_error(e: Exception) -> str:
    msg = getattr(e, "msg", None) or str(e).split(":", 1)[0]
    col = getattr(e, "colno", None)
    return f"{msg[:80]} at column {col}" if col else msg[:80]
