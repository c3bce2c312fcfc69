"""Pieces of a big plain JSONL file, so that one file keeps every core busy.

DuckDB's ``read_json`` keeps a file's order (row i is line i + 1) only on one thread, and it cannot
start at a byte offset. A piece is a run of whole lines of a file (cut just after a newline); the
DuckDB connection sees it as a file of its own through an fsspec filesystem
(``mcpsniff-piece://<key>``) that reads that byte range of the real file, without copying it. Each
piece is read by its own ``read_json`` in parallel with the others; its line numbers continue where
the piece before it ended.
"""

from __future__ import annotations

import io
import itertools
import os
from typing import Any, NamedTuple

PROTOCOL = "mcpsniff-piece"
_keys = itertools.count()


class Piece(NamedTuple):
    """Bytes ``start`` to ``start + length`` of ``name``: whole lines (the last piece may end
    without a newline)."""

    name: str
    start: int
    length: int


def cut(name: str, size: int, pieces: int) -> list[Piece]:
    """``name`` (``size`` bytes) in up to ``pieces`` runs of whole lines of about equal size: each
    cut is just after the first newline at or past its share (fewer pieces when lines are long)."""
    starts = [0]
    with open(name, "rb") as fo:
        for i in range(1, pieces):
            fo.seek(max(size * i // pieces - 1, starts[-1]))
            fo.readline()  # to just after the next newline (the byte before the share may be one)
            at = min(fo.tell(), size)
            if at > starts[-1] and at < size:
                starts.append(at)
    ends = starts[1:] + [size]
    return [Piece(name, s, e - s) for s, e in zip(starts, ends)]


class _Range(io.RawIOBase):
    """A byte range of a file, read with ``pread`` (no shared file position between readers)."""

    def __init__(self, piece: Piece) -> None:
        self._fd = os.open(piece.name, os.O_RDONLY)
        self._start, self._length, self._pos = piece.start, piece.length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (the rest of the range when negative) in one ``pread``: DuckDB reads
        large blocks at a time, and ``RawIOBase.read`` would zero a fresh buffer, read into it and
        copy it again."""
        left = self._length - self._pos
        want = left if size is None or size < 0 else max(0, min(size, left))
        got = os.pread(self._fd, want, self._start + self._pos) if want else b""
        self._pos += len(got)
        return got

    def readinto(self, buffer: Any) -> int:
        want = max(0, min(len(buffer), self._length - self._pos))
        got = os.preadv(self._fd, [memoryview(buffer)[:want]], self._start + self._pos) if want else 0
        self._pos += got
        return got

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def filesystem() -> Any:
    """An fsspec filesystem serving pieces by key (:meth:`add`), for ``register_filesystem``."""
    from fsspec import AbstractFileSystem  # imported only when a file is read in pieces

    class Pieces(AbstractFileSystem):
        protocol = PROTOCOL

        def __init__(self) -> None:
            super().__init__(skip_instance_cache=True)
            self.pieces: dict[str, Piece] = {}

        def add(self, piece: Piece) -> str:
            """The path under which DuckDB reads ``piece``."""
            key = f"{next(_keys)}.jsonl"
            self.pieces[key] = piece
            return f"{PROTOCOL}://{key}"

        def _piece(self, path: str) -> Piece:
            return self.pieces[self._strip_protocol(path)]

        def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
            return {"name": path, "size": self._piece(path).length, "type": "file"}

        def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
            entry = self.info(path)
            return [entry] if detail else [entry["name"]]

        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            if mode != "rb":
                raise PermissionError(f"{path}: pieces are read only")
            return _Range(self._piece(path))

    return Pieces()
