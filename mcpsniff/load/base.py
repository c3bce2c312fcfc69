"""What every input format shares: problems, the reading state, opening files.

A bad line or entry becomes a :class:`Problem` (``file:line: reason``) that is
reported and skipped, or, with ``strict=True``, raised as
:class:`~mcpsniff.errors.LoadError`.  Damaged input never escapes as a traceback.
"""

from __future__ import annotations

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


def open_bytes(name: str) -> BinaryIO:
    """A binary stream for a path, or for ``-`` (standard input); LoadError when it cannot be opened."""
    if name == "-":
        return io.BytesIO(sys.stdin.buffer.read())
    try:
        return open(name, "rb")
    except FileNotFoundError:
        raise LoadError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise LoadError(f"{name}: is a directory, not a capture file") from None
    except PermissionError:
        raise LoadError(f"{name}: permission denied") from None
    except OSError as e:
        raise LoadError(f"{name}: cannot open ({e.strerror or e})") from None


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


def peek(fo: BinaryIO, n: int = 4096) -> bytes:
    pos = fo.tell()
    head = fo.read(n)
    fo.seek(pos)
    return head


def short_json_error(e: Exception) -> str:
    msg = getattr(e, "msg", None) or str(e).split(":", 1)[0]
    col = getattr(e, "colno", None)
    return f"{msg[:80]} at column {col}" if col else msg[:80]
