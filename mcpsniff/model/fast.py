"""The fast reader: DuckDB's multi-threaded ``read_json`` extracts the model's columns from a large
mcpsniff JSONL file (plain or gzip) in SQL.

Its rows are the columns of :mod:`mcpsniff.model.columns`, the same ``SELECT`` the careful reader
runs over the records it has validated (``tests/model/test_fast.py`` holds the two readers to the
same rows on every sample and golden case), for files that are clean. DuckDB reads values into the
declared types and casts compatible ones ("200" as a status, 5 as a header value) where the careful
reader would reject the line; values it cannot cast, lines that are not JSON or not records of
schema 1, and values out of range (statuses, times) send the whole file to the careful reader,
which reports every bad line as ``file:line: reason`` (``--strict`` always uses it). Line numbers
are the record's position in the file (DuckDB keeps insertion order); a file with blank lines
(DuckDB skips them: fewer rows than lines) takes the careful path too.
"""

from __future__ import annotations

import gzip


from .columns import VALID_SQL, record_struct_sql, select_sql
from .sql import quote as _lit

#: what a fast read selects besides the columns: the line's kind, whether the careful reader would
#: keep it, and a meta line's versions
_EXTRA = (",\n  kind, (" + VALID_SQL + ") AS valid,\n  CASE WHEN kind = 'meta' THEN "
          "json_object('mcpsniff', mcpsniff, 'mitmproxy', mitmproxy, 'python', python) END AS meta")


def count_lines(path: str, compressed: bool, start: int = 0, length: int = -1, block: int = 1 << 22) -> int:
    """The file's lines (a last line without its newline counts too), or those of ``length`` bytes
    from ``start`` (a piece of a plain file). DuckDB skips blank lines, so the fast reader keeps a
    file only when it made a row of every line: then row i is line i + 1."""
    buf = bytearray(block)
    lines, last, left = 0, b"\n", length
    with (gzip.open(path, "rb") if compressed else open(path, "rb", buffering=0)) as fo:
        if start:
            fo.seek(start)
        while left and (n := fo.readinto(buf if left < 0 else memoryview(buf)[:left])):
            lines += buf.count(b"\n", 0, n)
            last = bytes(buf[n - 1:n])
            if left > 0:
                left -= n
    return lines + (last != b"\n")


def insert_sql(path: str, compressed: bool) -> str:
    """``SELECT`` of the model's columns plus ``kind``, ``valid`` and ``meta`` for every record of the file."""
    comp = "gzip" if compressed else "none"
    read = (f"SELECT * FROM read_json({_lit(path)}, format='newline_delimited', "
            f"columns={record_struct_sql()}, compression='{comp}', maximum_object_size=16777216)")
    return select_sql(read, src="?", line="0", extra=_EXTRA)
