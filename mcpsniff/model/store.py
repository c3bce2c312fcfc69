"""The exchange table, in DuckDB: bounded memory (DuckDB spills past its memory limit), columnar,
multi-threaded.

Inputs land in ``x`` (one row per exchange, the columns of :data:`mcpsniff.model.rows.COLUMNS`):

- large plain or gzip JSONL files through the fast reader (:mod:`mcpsniff.model.fast`: DuckDB's
  ``read_json`` extracts the columns in SQL), when the whole file is clean;
- everything else (HAR, flow files, pipes, small files, files with bad lines) through the careful
  reader (:func:`mcpsniff.model.rows.row_of`, in chunks, so memory stays bounded too).

:meth:`Store.finish` orders the exchanges by time into ``ex`` with a position ``pos`` (0..n-1),
the handle every later stage uses for an exchange.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable

import duckdb
import numpy as np
import pandas as pd

from .. import load
from ..load import InputInfo, Problem, Reading
from . import fast
from .rows import COLUMNS, chunk_frame, no_gc, row_of

#: files at least this big try the fast reader first (below it the careful reader is as fast)
FAST_MIN_BYTES = int(os.environ.get("MCPSNIFF_FAST_MIN_BYTES", 16 * 1024 * 1024))
#: DuckDB's memory limit; past it the table spills to a temporary directory
MEMORY_LIMIT = os.environ.get("MCPSNIFF_MEMORY_LIMIT", "1GB")
CHUNK = 16384  # careful-reader rows per insert

_SQL_TYPES = {np.int8: "TINYINT", np.int16: "SMALLINT", np.int32: "INTEGER", np.int64: "BIGINT",
              np.float64: "DOUBLE", bool: "BOOLEAN"}


def sql_type(kind: Any) -> str:
    return "VARCHAR" if kind in ("cat", "str", "obj") else _SQL_TYPES[kind]


class Store:
    """One DuckDB connection holding one capture's exchanges."""

    def __init__(self, *, memory_limit: str = MEMORY_LIMIT, threads: int | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="mcpsniff-")
        self.con = duckdb.connect(":memory:", config={
            "memory_limit": memory_limit, "temp_directory": self._tmp.name, "preserve_insertion_order": True,
            **({"threads": threads} if threads else {}),
        })
        cols = ", ".join(f"{name} {sql_type(kind)}" for name, kind in COLUMNS)
        # kind/valid/meta: what the fast reader learns of each record before it is kept or dropped
        self.con.execute(f"CREATE TABLE x ({cols}, kind VARCHAR, valid BOOLEAN, meta VARCHAR)")
        self.meta: list[list[dict[str, Any]]] = []

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self._tmp.cleanup()

    # -- ingest ----------------------------------------------------------------------------------
    def insert_frame(self, frame: pd.DataFrame) -> None:
        """Rows from the careful reader (a chunk_frame): NaN times become NULL."""
        sel = ", ".join(f"CASE WHEN isnan({n}) THEN NULL ELSE {n} END" if k is np.float64 else
                        (f"{n}::VARCHAR" if k in ("cat", "str", "obj") else n) for n, k in COLUMNS)
        self.con.register("chunk", frame)
        try:
            self.con.execute(f"INSERT INTO x SELECT {sel}, 'exchange', true, NULL FROM chunk")
        finally:
            self.con.unregister("chunk")

    def read_careful(self, name: str, src: int, report: Callable[[Problem], None], *, strict: bool,
                     progress: Callable[[int], None] | None = None, done: int = 0) -> InputInfo:
        r = Reading(name, report, strict)
        rows: list[tuple] = []
        n = 0
        with no_gc():
            for _, row in load.read(r, convert=lambda rec, ln: row_of(rec, src, ln)):
                rows.append(row)
                if len(rows) >= CHUNK:
                    self.insert_frame(chunk_frame(rows))
                    n += len(rows)
                    rows = []
                    if progress is not None:
                        progress(done + n)
            if rows:
                self.insert_frame(chunk_frame(rows))
        return r.info()

    def read_fast(self, name: str, src: int) -> InputInfo | None:
        """The fast reader for a clean JSONL file; None (nothing kept) when it must take the careful path."""
        compressed = _is_gzip(name)
        if not compressed and fast.has_blank_lines(name):
            return None
        try:
            self.con.execute(f"INSERT INTO x {fast.insert_sql(name, compressed)}", [src])
        except duckdb.Error:
            self.con.execute("DELETE FROM x WHERE src = ?", [src])
            return None
        bad = self.con.execute("SELECT count(*) FROM x WHERE src = ? AND kind IS DISTINCT FROM 'meta' AND NOT coalesce(valid, false)",
                               [src]).fetchall()[0][0]
        if bad:
            self.con.execute("DELETE FROM x WHERE src = ?", [src])
            return None
        meta = tuple(json.loads(m) for (m,) in self.con.execute(
            "SELECT meta FROM x WHERE src = ? AND kind = 'meta' ORDER BY line", [src]).fetchall())
        self.con.execute("DELETE FROM x WHERE src = ? AND kind = 'meta'", [src])
        n = self.con.execute("SELECT count(*) FROM x WHERE src = ?", [src]).fetchall()[0][0]
        return InputInfo(name, "jsonl", n, meta)

    def count(self, table: str = "x") -> int:
        return self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]

    # -- finish -----------------------------------------------------------------------------------
    def finish(self) -> None:
        """Order the exchanges by time (file order breaks ties) into ``ex``, each with its position."""
        cols = ", ".join(n for n, _ in COLUMNS)
        self.con.execute(f"""
            CREATE TABLE ex AS
            SELECT (row_number() OVER (ORDER BY t_req, src, line)) - 1 AS pos, {cols}
            FROM x ORDER BY pos""")
        self.con.execute("DROP TABLE x")


def _is_gzip(name: str) -> bool:
    try:
        with open(name, "rb") as fo:
            return fo.read(2) == load.GZIP_MAGIC
    except OSError:
        return False
