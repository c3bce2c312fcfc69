"""The capture file: append-only JSONL, one whole line per write, mode 0600, rotation by size."""

from __future__ import annotations

import os
from typing import Any, Callable


def _dumps(obj: Any) -> bytes:
    try:
        import orjson

        return orjson.dumps(obj) + b"\n"
    except (ImportError, TypeError):  # e.g. integers beyond 64 bits, lone surrogates
        import json

        return json.dumps(obj, separators=(",", ":")).encode("utf-8") + b"\n"


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
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600)
        self.size = os.fstat(self.fd).st_size
        self._write_line(_dumps(self.meta(self.part)))

    def _write_line(self, line: bytes) -> None:
        assert self.fd is not None
        n = os.write(self.fd, line)
        if n != len(line):
            raise OSError(28, f"short write ({n} of {len(line)} bytes), disk full?")
        self.size += n
        self.lines += 1

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
