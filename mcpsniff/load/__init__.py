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
import zlib

from .base import GZIP_MAGIC, CountingReader, InputInfo, OnProblem, Problem, Reading, open_input

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
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, item)`` pairs from the input ``r`` names, counting into ``r``.

    A record the converter cannot take is explained with :func:`check_record`
    and reported like any other bad line.  ``on_bytes`` is told how many bytes of the
    input were read so far, now and then and at the end.
    """
    opened = open_input(r.name)
    fo = opened.stream
    r.fmt = detect_format(opened.head, r.name)
    # bytes of the file as stored: counted on plain inputs (a gzip stream's are not the file's)
    counting = on_bytes is not None and not opened.gzipped
    src: Any = CountingReader(fo, on_bytes) if counting else fo
    reader = FORMATS[r.fmt].records(r, src)
    with fo:
        for line, rec in _guarded(r, reader, gzipped=opened.gzipped):
            if convert is not None:
                try:
                    item = convert(rec, line)
                except SchemaError as e:  # the converter checked a value and said what is wrong
                    r.problem(line, str(e))
                    continue
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
        if counting:
            src.flush()


def capture_records(names: list[str], on_problem: OnProblem, *, strict: bool = False) -> tuple[list[dict[str, Any]], list[InputInfo]]:
    """Every validated exchange record of these inputs as one capture: ordered by request
    time, input and line order breaking ties (as the model orders its rows)."""
    from .inputs import PARQUET, expand

    keyed: list[tuple[float, int, int, dict[str, Any]]] = []
    infos = []
    for si, item in enumerate(expand(names)):
        if item.kind == PARQUET:
            raise LoadError(f"{item.name}: a Parquet export holds the analysis columns, not whole exchange records; "
                            "export from the capture files")
        r = Reading(item.name, on_problem, strict)
        keyed += [(rec["t"]["req"], si, line, rec) for line, rec in read(r)]
        infos.append(r.info())
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed], infos


def _guarded(r: Reading, reader: Iterator[tuple[int, Any]], *, gzipped: bool) -> Iterator[tuple[int, Any]]:
    """The reader's records; a stream that breaks mid-way (a cut gzip file, an I/O error) ends the
    input with one problem instead of a traceback."""
    try:
        yield from reader
    except EOFError:
        r.problem(None, "the gzip stream ends early (the file was cut); the rest is missing" if gzipped else "the input ends early")
    except (OSError, zlib.error) as e:
        what = "not a valid gzip stream" if gzipped else "cannot read"
        r.problem(None, f"{what} ({getattr(e, 'strerror', None) or e}); the rest of the input is skipped")



def file_size(name: str) -> int:
    try:
        return os.path.getsize(name) if name != "-" else 0
    except OSError:
        return 0


__all__ = ["FORMATS", "GZIP_MAGIC", "InputInfo", "LoadError", "OnProblem", "Problem", "Reading", "capture_records", "detect_format",
           "file_size", "read"]
