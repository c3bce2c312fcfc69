"""Load: capture files of any supported format -> validated schema-v1 exchange records.

Input formats are registered in :data:`FORMATS` (one module each: ``NAME``,
``sniff(head, name) -> score``, ``records(reading, stream)``).  Adding a format is
one module plus one line here; every command that reads captures offers it.

:func:`read` yields ``(line, item)`` for one input, where ``item`` is the
validated exchange record or ``convert(record, line)``; everything else is a
:class:`Problem`.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any, Callable, Iterator

from ..errors import LoadError
from ..schema import SchemaError, check_record
from . import flows, har, jsonl
from .base import CountingReader, InputInfo, OnProblem, Problem, Reading, open_bytes, peek

#: input formats, in the order ties are broken
FORMATS: dict[str, ModuleType] = {m.NAME: m for m in (jsonl, har, flows)}

Convert = Callable[[dict[str, Any], int], Any]


def detect_format(head: bytes, name: str = "") -> str:
    """The registered format whose sniffer is surest about the first bytes (the name breaks ties)."""
    scores = {fmt: mod.sniff(head, name) for fmt, mod in FORMATS.items()}
    return max(scores, key=lambda f: scores[f])  # max keeps the first of equal scores


def read(
    r: Reading,
    *,
    convert: Convert | None = None,
    byte_range: tuple[int, int] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, item)`` pairs from the input ``r`` names, counting into ``r``.

    A record the converter cannot take is explained with :func:`check_record`
    and reported like any other bad line.  ``byte_range`` (JSONL only) reads the
    lines that start inside ``[start, end)``.  ``on_bytes`` is told how many bytes
    of the input (of the range) were read so far, now and then and at the end.
    """
    fo = open_bytes(r.name)
    with fo:
        if byte_range is None:
            r.fmt = detect_format(peek(fo), r.name)
        src: Any = fo if on_bytes is None else CountingReader(fo, on_bytes)
        if byte_range is not None:
            r.fmt = jsonl.NAME
            reader = jsonl.records(r, src, byte_range)
        else:
            reader = FORMATS[r.fmt].records(r, src)
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
                    r.problem(line, reason)
                    continue
            else:
                try:
                    check_record(rec)
                except SchemaError as se:
                    r.problem(line, str(se))
                    continue
                item = rec
            r.exchanges += 1
            yield line, item
        if on_bytes is not None:
            src.flush()


def capture_records(names: list[str], on_problem: OnProblem, *, strict: bool = False) -> tuple[list[dict[str, Any]], list[InputInfo]]:
    """Every validated exchange record of these inputs as one capture: ordered by request
    time, input and line order breaking ties (as the model orders its rows)."""
    keyed: list[tuple[float, int, int, dict[str, Any]]] = []
    infos = []
    for si, name in enumerate(names):
        r = Reading(name, on_problem, strict)
        keyed += [(rec["t"]["req"], si, line, rec) for line, rec in read(r)]
        infos.append(r.info())
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed], infos


def jsonl_ranges(name: str, n: int) -> list[tuple[int, int]] | None:
    """Split a JSONL file into ``n`` byte ranges on line boundaries (None if it is not JSONL)."""
    with open_bytes(name) as fo:
        if detect_format(peek(fo), name) != jsonl.NAME:
            return None
        return jsonl.ranges(fo, n)


def file_size(name: str) -> int:
    try:
        return os.path.getsize(name) if name != "-" else 0
    except OSError:
        return 0


__all__ = ["FORMATS", "InputInfo", "LoadError", "OnProblem", "Problem", "Reading", "capture_records", "detect_format",
           "file_size", "jsonl_ranges", "read"]
