"""The capture file: append-only JSONL, one whole line per write, mode 0600, rotation by size."""

from __future__ import annotations

import math
import os
from typing import Any, Callable

import orjson


MAX_DEPTH = 200  # orjson writes up to 254 levels; deeper parts are kept as text


def _clean(obj: Any, depth: int = 0) -> Any:
    """A copy orjson can write and read back: lone surrogates escaped as \\xNN, integers beyond
    64 bits as strings, non-finite floats as strings, parts nested deeper than MAX_DEPTH as text."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj
        except UnicodeEncodeError:
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


def rotated_path(path: str, part: int) -> str:
    """``cap.jsonl`` -> ``cap.1.jsonl``; ``cap`` (no .jsonl) -> ``cap.1.jsonl``; part 0 is ``path``."""
    if part == 0:
        return path
    stem = path[: -len(".jsonl")] if path.endswith(".jsonl") else path
    return f"{stem}.{part}.jsonl"


class JsonlWriter:
    """Append-only JSONL: one ``os.write`` per whole line, file mode 0600, rotation by size.

    Every file starts with a meta line (``part`` says which file of the capture it is).
    Raises OSError when a line cannot be written completely.
    """

    def __init__(self, path: str, meta: Callable[[int], dict[str, Any]], rotate_bytes: int = 0) -> None:
        self.base = path
        self.meta = meta
        self.rotate_bytes = rotate_bytes
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
        """Remove a partly written line, so the file ends with whole lines (best effort)."""
        try:
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
