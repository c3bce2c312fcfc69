"""Incremental Server-Sent Events parser (pure; no mitmproxy).

Follows the WHATWG "event stream interpretation" with the differences a
*recorder* wants:

- a block is an event as soon as it holds one known field (``data``, ``id``,
  ``event`` or ``retry``), so an id-only or a priming event with empty data
  and a retry-only hint are recorded too; comment-only blocks (keep-alives)
  are not events;
- ``id`` and ``event`` are the values given *in this block* (``None`` when
  absent), not the stream's "last event id";
- at the end of the stream :meth:`SseParser.flush` returns an unterminated
  last block as an event with ``unterminated=True``.

Input is raw bytes (after any Content-Encoding was removed), split anywhere:
inside a UTF-8 sequence, between CR and LF, inside the leading BOM.  Lines end
with CRLF, LF or CR.  Each line is decoded as UTF-8 (invalid bytes become
U+FFFD).  A line longer than ``max_line`` bytes is cut (the event is marked
``cut``) so a stream that never ends a line cannot exhaust memory.
"""

from __future__ import annotations

from dataclasses import dataclass

BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_LINE = 1 << 20  # 1 MiB


@dataclass
class SseEvent:
    data: str = ""
    id: str | None = None
    event: str | None = None
    retry: int | None = None
    unterminated: bool = False  # the stream ended before the blank line
    cut: bool = False  # a line of this event was longer than max_line

    @property
    def truncated(self) -> bool:
        return self.unterminated or self.cut


class SseParser:
    """Feed byte chunks, get back the events they complete.

    >>> p = SseParser()
    >>> p.feed(b"data: a\\r")
    []
    >>> [e.data for e in p.feed(b"\\n\\r\\n")]
    ['a']
    """

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max(1, max_line)
        self._buf = bytearray()  # bytes of the current, unfinished line
        self._line_cut = False  # the current line already overflowed
        self._skip_lf = False  # last chunk ended with CR: a leading LF belongs to it
        self._bom_checked = False
        self._head = b""  # first bytes while deciding about the BOM
        self._reset_block()
        self.comments = 0  # comment lines seen (keep-alives), for statistics
        self.bytes = 0  # bytes fed

    def _reset_block(self) -> None:
        self._data: list[str] = []
        self._has_data = False
        self._id: str | None = None
        self._event: str | None = None
        self._retry: int | None = None
        self._seen = False  # a known field was seen in this block
        self._cut = False

    # -- input ---------------------------------------------------------------
    def feed(self, chunk: bytes) -> list[SseEvent]:
        self.bytes += len(chunk)
        if not self._bom_checked:
            self._head += chunk
            if len(self._head) < len(BOM) and BOM.startswith(self._head):
                return []  # could still be a BOM: wait for more
            chunk = self._head[len(BOM):] if self._head.startswith(BOM) else self._head
            self._head = b""
            self._bom_checked = True
        out: list[SseEvent] = []
        i, n = 0, len(chunk)
        if (n <= self.max_line and not self._skip_lf and not self._buf and not self._line_cut
                and chunk[-1:] == b"\n"):
            # the usual chunk: whole lines (no line begun earlier, none left open, none too long);
            # bytes.splitlines breaks at CRLF, CR and LF alone, as the loop below does
            take = self._take
            for raw in chunk.splitlines():
                take(raw, False, out)
            return out
        if self._skip_lf and n:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                i = 1
        while i < n:
            cr = chunk.find(b"\r", i)
            lf = chunk.find(b"\n", i)
            if cr < 0 and lf < 0:
                self._append(chunk[i:])
                break
            end = lf if cr < 0 else cr if lf < 0 else min(cr, lf)
            if self._buf or self._line_cut:  # the line began in an earlier chunk
                self._append(chunk[i:end])
                self._line(out)
            elif end - i > self.max_line:  # what _append + _line do, without the copy through _buf
                self._take(bytes(chunk[i : i + self.max_line]), True, out)
            else:
                self._take(bytes(chunk[i:end]), False, out)
            if chunk[end] == 0x0D:  # CR: swallow a following LF, even in the next chunk
                if end + 1 < n:
                    i = end + 2 if chunk[end + 1] == 0x0A else end + 1
                else:
                    self._skip_lf = True
                    i = n
            else:
                i = end + 1
        return out

    def flush(self) -> list[SseEvent]:
        """End of stream: return the unterminated last event, if any."""
        if not self._bom_checked:
            self._bom_checked = True
            head, self._head = self._head, b""
            if head and not BOM.startswith(head):
                self._append(head)
        out: list[SseEvent] = []
        if self._buf or self._line_cut:
            self._line(out)  # a last line without a line ending
        if self._seen:
            ev = self._make()
            ev.unterminated = True
            out.append(ev)
        self._reset_block()
        return out

    # -- internals -----------------------------------------------------------
    def _append(self, part: bytes) -> None:
        room = self.max_line - len(self._buf)
        if len(part) > room:
            part = part[: max(room, 0)]
            self._line_cut = True
        self._buf += part

    def _line(self, out: list[SseEvent]) -> None:
        raw = bytes(self._buf)
        cut = self._line_cut
        self._buf.clear()
        self._line_cut = False
        self._take(raw, cut, out)

    def _take(self, raw: bytes, cut: bool, out: list[SseEvent]) -> None:
        """One whole line (``cut``: it was longer than ``max_line``)."""
        if not raw and not cut:  # blank line: dispatch
            if self._seen:
                out.append(self._make())
            self._reset_block()
            return
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            self.comments += 1
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "id":
            if "\x00" in value:
                return  # ignored by the standard
            self._id = value
        elif name == "event":
            self._event = value
        elif name == "retry":
            if not (value.isascii() and value.isdigit()):
                return  # not an integer: ignored
            self._retry = int(value)
        else:
            return  # unknown field: ignored
        self._seen = True
        self._cut = self._cut or cut

    def _make(self) -> SseEvent:
        return SseEvent(
            data="\n".join(self._data),
            id=self._id,
            event=self._event,
            retry=self._retry,
            cut=self._cut,
        )


def parse_all(data: bytes, max_line: int = DEFAULT_MAX_LINE) -> list[SseEvent]:
    """Parse a complete stream (the flush included)."""
    p = SseParser(max_line)
    return p.feed(data) + p.flush()
