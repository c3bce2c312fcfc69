"""The careful reader: records checked one by one in Python, their columns made by the column spec.

``row_of`` validates a record with :func:`mcpsniff.schema.check_record` (a bad record raises
:class:`~mcpsniff.schema.SchemaError` with the reason ``load`` reports as ``file:line: reason``)
and keeps it as compact JSON with its input number and line; :func:`insert_rows` turns a chunk
of such rows into the exchange table's columns with the SQL of :mod:`mcpsniff.model.columns` -- the ``SELECT`` the fast reader runs over ``read_json``. So every
record is either used or reported, never silently dropped, and a column means the same whichever
reader made it.
"""

from __future__ import annotations

import gc
import json
from typing import Any, NamedTuple

from typing import Sequence

import orjson

from ..schema import KIND_EXCHANGE, SchemaError, check_record
from .columns import COLUMNS, record_json_sql, select_sql


class Row(NamedTuple):
    """One validated exchange record: its input number, line, and the record as JSON."""

    src: int
    line: int
    record: str


def _dumps(r: dict[str, Any]) -> str:
    try:
        return orjson.dumps(r).decode()
    except TypeError:  # an integer beyond 64 bits (from a converted HAR or flow body): exact text
        return json.dumps(r, allow_nan=False)


def row_of(r: dict[str, Any], src: int, line: int) -> Row:
    """One exchange record -> its row (raises SchemaError, with the reason, on a bad record)."""
    if check_record(r) != KIND_EXCHANGE:
        raise SchemaError("not an exchange record")
    return Row(src, line, _dumps(r))


def insert_sql(table: str) -> str:
    """``INSERT`` into ``table`` of the columns of the rows given as three lists (parameters $1
    input numbers, $2 lines, $3 records): DuckDB takes Python lists without a DataFrame, so the
    careful reader needs neither pandas nor numpy."""
    chunk = "(SELECT unnest($1::INTEGER[]) AS _src, unnest($2::BIGINT[]) AS _line, unnest($3::VARCHAR[]) AS _rec)"
    read = f"SELECT _src, _line, unnest(json_transform(_rec, {record_json_sql()})) FROM {chunk}"
    cols = ", ".join(c.name for c in COLUMNS)
    return f"INSERT INTO {table} ({cols}) {select_sql(read, src='_src', line='_line')}"


def insert_rows(con: Any, rows: Sequence[Row], table: str) -> None:
    """Insert the columns of ``rows`` into ``table`` (one statement)."""
    if rows:
        src, line, record = zip(*rows)
        con.execute(insert_sql(table), [list(src), list(line), list(record)])


class no_gc:
    """Pause the cyclic GC: records are acyclic, and a million of them make every
    generation-2 pass rescan the whole heap (it more than doubles reading time)."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


__all__ = ["Row", "row_of", "insert_rows", "insert_sql", "no_gc"]
