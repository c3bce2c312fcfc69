"""Loaders: mcpsniff JSONL, HAR 1.2 and mitmproxy flow files -> schema records.

Every loader yields ``(source, line, record)`` where ``record`` is a validated
schema v1 exchange dict (see :mod:`mcpsniff.schema`).  Damaged input never
raises out of here as a traceback: each bad line or entry becomes a
:class:`Problem` (``file:line: reason``) that is reported and skipped, or,
with ``strict=True``, raised as :class:`LoadError`.

HAR and flow files go through mitmproxy's own readers and then through the
same flow -> record conversion the capture addon uses, so all three formats
end up identical.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator

import orjson

from .schema import KIND_EXCHANGE, SCHEMA_VERSION, SchemaError, check_record

FORMATS = ("jsonl", "har", "flows")


@dataclass(frozen=True)
class Problem:
    """One unusable line or entry; ``str()`` gives the ``file:line: reason`` form."""

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"


class LoadError(Exception):
    """Input that cannot be used at all (or a bad line under ``--strict``)."""


@dataclass
class Source:
    """One input: a path, or ``-`` for standard input."""

    name: str
    fmt: str = ""
    exchanges: int = 0
    meta: list[dict[str, Any]] | None = None
    lines: int = 0  # lines (or entries) read, for offsetting parallel byte ranges


Convert = Callable[[dict[str, Any], int], Any]


OnProblem = Callable[[Problem], None]


def _open_bytes(name: str) -> BinaryIO:
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


def _peek(fo: BinaryIO, n: int = 4096) -> bytes:
    pos = fo.tell()
    head = fo.read(n)
    fo.seek(pos)
    return head


def detect_format(head: bytes, name: str = "") -> str:
    """Guess the format from the first bytes (and the name as a tie-breaker)."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lower = name.lower()
    if not stripped:
        return "jsonl"  # empty: reported as such by the JSONL reader
    if stripped[:1].isdigit():
        return "flows"  # tnetstring: "<length>:<payload>"
    if stripped[:1] == b"{":
        first_line = stripped.split(b"\n", 1)[0]
        try:
            obj = orjson.loads(first_line)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "v" in obj and "kind" in obj:
            return "jsonl"
        if isinstance(obj, dict) and "log" in obj:
            return "har"
        if b'"log"' in stripped[:200] or lower.endswith(".har"):
            return "har"
        return "jsonl"
    if lower.endswith((".flow", ".flows", ".mitm")):
        return "flows"
    return "jsonl"


def iter_source(
    src: Source,
    on_problem: OnProblem,
    *,
    strict: bool = False,
    convert: Convert | None = None,
    byte_range: tuple[int, int] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, item)`` pairs from one input.

    ``item`` is the validated exchange record, or ``convert(record, line)`` when a
    converter is given: a record the converter cannot take is explained with
    :func:`check_record` and reported like any other bad line.  ``byte_range``
    (JSONL only) reads the lines that start inside ``[start, end)``; their line
    numbers then count from 1 at ``start``.
    """
    fo = _open_bytes(src.name)
    with fo:
        if byte_range is not None:
            src.fmt = "jsonl"
            reader = _iter_jsonl(src, fo, on_problem, strict, byte_range)
        else:
            src.fmt = detect_format(_peek(fo), src.name)
            reader = {"jsonl": _iter_jsonl, "har": _iter_har, "flows": _iter_flows}[src.fmt](src, fo, on_problem, strict)
        for line, rec in reader:
            if convert is not None:
                try:
                    item = convert(rec, line)
                except Exception as e:  # noqa: BLE001 - explained and reported below
                    try:
                        check_record(rec)
                        reason = f"unusable record ({type(e).__name__}: {e})"
                    except SchemaError as se:
                        reason = str(se)
                    _report(src, line, reason, on_problem, strict)
                    continue
            else:
                try:
                    check_record(rec)
                except SchemaError as se:
                    _report(src, line, str(se), on_problem, strict)
                    continue
                item = rec
            src.exchanges += 1
            yield line, item


def jsonl_ranges(src: Source, n: int) -> list[tuple[int, int]] | None:
    """Split a JSONL file into ``n`` byte ranges on line boundaries (None if not JSONL)."""
    with _open_bytes(src.name) as fo:
        if detect_format(_peek(fo), src.name) != "jsonl":
            return None
        size = fo.seek(0, os.SEEK_END)
        cuts = [0]
        for i in range(1, n):
            fo.seek(max(size * i // n, cuts[-1]))
            fo.readline()
            cuts.append(min(fo.tell(), size))
        cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _report(src: Source, line: int | None, reason: str, on_problem: OnProblem, strict: bool) -> None:
    p = Problem(src.name, line, reason)
    if strict:
        raise LoadError(str(p))
    on_problem(p)


def _iter_jsonl(
    src: Source, fo: BinaryIO, on_problem: OnProblem, strict: bool, byte_range: tuple[int, int] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Decoded exchange records (unvalidated; iter_source validates); meta lines collected."""
    loads = orjson.loads
    seen_any = False
    start, end = byte_range or (0, -1)
    pos = start
    if start:
        fo.seek(start)
    line_no = 0
    for line_no, raw in enumerate(fo, 1):
        if end >= 0 and pos >= end:
            line_no -= 1
            break
        pos += len(raw)
        if not raw.strip():
            continue
        seen_any = True
        try:
            obj = loads(raw)
        except orjson.JSONDecodeError as e:
            torn = not raw.endswith(b"\n")
            reason = (
                "incomplete last line (the capture was probably interrupted while writing it)"
                if torn
                else f"not JSON ({_short_json_error(e)})"
            )
            _report(src, line_no, reason, on_problem, strict)
            continue
        if type(obj) is dict and obj.get("kind") == KIND_EXCHANGE and obj.get("v") == SCHEMA_VERSION:
            yield line_no, obj
            continue
        try:
            check_record(obj)
        except SchemaError as e:
            _report(src, line_no, str(e), on_problem, strict)
            continue
        src.meta = (src.meta or []) + [obj]  # a valid non-exchange record is a meta line
    src.lines = line_no
    if not seen_any and byte_range is None:
        _report(src, None, "empty file, no records", on_problem, strict)


def _short_json_error(e: Exception) -> str:
    msg = getattr(e, "msg", None) or str(e).split(":", 1)[0]
    col = getattr(e, "colno", None)
    return f"{msg[:80]} at column {col}" if col else msg[:80]


def _flow_records(src: Source, items: Iterator[tuple[int, Any]], on_problem: OnProblem, strict: bool):
    from .record import exchange_record  # the capture addon's own conversion
    from .redact import Redactor

    redactor = Redactor()  # secrets in imported files are redacted too, keyed per input
    for idx, flow in items:
        try:
            rec = exchange_record(flow, redactor=redactor)
        except Exception as e:  # noqa: BLE001 - any damaged flow is reported, never a traceback
            _report(src, idx, f"unusable flow ({type(e).__name__}: {e})", on_problem, strict)
            continue
        yield idx, rec


def _iter_har(src: Source, fo: BinaryIO, on_problem: OnProblem, strict: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    from mitmproxy.io import har

    data = fo.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        _report(src, None, f"not a valid HAR file (JSON error: {_short_json_error(e)})", on_problem, strict)
        return
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) and isinstance(doc.get("log"), dict) else None
    if not isinstance(entries, list):
        _report(src, None, "not a HAR file (no log.entries list)", on_problem, strict)
        return
    if not entries:
        _report(src, None, "HAR file without entries", on_problem, strict)
        return

    def flows() -> Iterator[tuple[int, Any]]:
        for i, entry in enumerate(entries, 1):
            try:
                yield i, har.request_to_flow(entry)
            except Exception as e:  # noqa: BLE001
                _report(src, i, f"unusable HAR entry ({type(e).__name__}: {e})", on_problem, strict)

    # HAR "line" numbers are entry numbers (1-based), reported as file:entry
    yield from _flow_records(src, flows(), on_problem, strict)


def _iter_flows(src: Source, fo: BinaryIO, on_problem: OnProblem, strict: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    from mitmproxy import exceptions, http
    from mitmproxy.io import FlowReader

    def flows() -> Iterator[tuple[int, Any]]:
        i = 0
        try:
            for i, f in enumerate(FlowReader(fo).stream(), 1):
                if isinstance(f, http.HTTPFlow):
                    yield i, f
        except exceptions.FlowReadException as e:
            _report(src, i + 1, f"unreadable mitmproxy flow ({e}); the rest of the file is skipped", on_problem, strict)
        except Exception as e:  # noqa: BLE001
            _report(src, i + 1, f"unreadable mitmproxy flow ({type(e).__name__}); the rest of the file is skipped", on_problem, strict)

    yield from _flow_records(src, flows(), on_problem, strict)


def file_size(name: str) -> int:
    try:
        return os.path.getsize(name) if name != "-" else 0
    except OSError:
        return 0
