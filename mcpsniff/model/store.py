"""The exchange table, in DuckDB: bounded memory (DuckDB spills past its memory limit), columnar,
multi-threaded.

Inputs land in tables of one row per exchange (the columns of :data:`mcpsniff.model.columns.COLUMNS`):

- large plain or gzip JSONL files through the fast reader (:mod:`mcpsniff.model.fast`: DuckDB's
  ``read_json`` extracts the columns in SQL), when the whole file is clean: a table ``f<src>`` each,
  or ``f<src>_<i>`` for each piece of a big plain file read in pieces at once (:mod:`.pieces`);
- everything else (HAR, flow files, pipes, small files, files with bad lines) through the careful
  reader (:mod:`mcpsniff.model.rows`: records validated one by one, their columns made by the same
  SQL in chunks, so memory stays bounded too) into ``x``.

``derive`` numbers the exchanges by time: ``pos`` (0..n-1) is the handle every later stage uses
for an exchange.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, NamedTuple

import duckdb

from .. import load
from ..load import InputInfo, Problem, Reading
from ..errors import LoadError, ResourceError, UsageError
from ..units import parse_size, size_text
from . import fast, parquet, pieces
from .columns import COLUMNS
from .rows import Row, insert_rows, no_gc, row_of
from .sql import quote as _lit

#: DuckDB's memory limit; past it the table spills to a temporary directory (a larger limit is
#: faster and costs as much more memory; docs/performance.md)
MEMORY_LIMIT = os.environ.get("MCPSNIFF_MEMORY_LIMIT", "200MB")
#: how far the limit may grow for a statement DuckDB cannot finish by spilling (some joins and
#: windows need their working set in memory): doubled at each try, up to this
MEMORY_MAX = os.environ.get("MCPSNIFF_MEMORY_MAX", "1GB")
#: bytes of DuckDB memory per exchange the analysis starts with (at least MCPSNIFF_MEMORY_LIMIT, at
#: most MCPSNIFF_MEMORY_MAX): a big capture's session facts statement would otherwise run out at
#: the default limit and be run again with it doubled. Below 5M exchanges the limit stays as set.
ROW_MEMORY = 40
#: DuckDB threads of the fast reader's ``read_json`` (the rest of the analysis uses all cores): it
#: keeps the file's order (row i is line i + 1), and within the memory limit one thread reads
#: faster than two (two gain only with much more memory); the line count runs beside it on another
#: core
FAST_READ_THREADS: int | str = os.environ.get("MCPSNIFF_FAST_READ_THREADS", 1)
#: big JSONL files (or pieces of them) read at once (0: as many as DuckDB has threads), each by
#: FAST_READ_THREADS, so that every core reads (a single big file is cut into pieces for that)
FAST_READ_FILES: int | str = os.environ.get("MCPSNIFF_FAST_READ_FILES", 0)
#: the smallest piece a plain file is cut into for reads at once
FAST_PIECE_MIN_BYTES = 8 * 1024 * 1024


def parse_bytes(text: str, what: str) -> int:
    """A size setting (``"200MB"``: :func:`mcpsniff.units.parse_size`, multiples of 1024) in bytes."""
    try:
        return parse_size(text)
    except ValueError as e:
        raise UsageError(f"{what}: {e}") from None


def whole_number(value: int | str, what: str, least: int = 0) -> int:
    """A setting that counts something (the environment gives text): a UsageError unless it is a
    whole number of at least ``least``."""
    try:
        n = int(value)
    except ValueError:
        n = least - 1
    if n < least:
        raise UsageError(f"{what}: {value!r} is not a whole number of at least {least}")
    return n


class Connection:
    """A DuckDB connection whose statements get more memory when spilling is not enough.

    DuckDB spills sorts, joins and tables past its memory limit, but not everything can be
    spilled, and what cannot depends on the data and on timing. A statement that runs out of memory
    is undone as a whole; this doubles the limit and runs it again, up to ``ceiling`` bytes, then
    raises :class:`ResourceError`. Everything else is the DuckDB connection's own."""

    def __init__(self, con: duckdb.DuckDBPyConnection, limit: int, ceiling: int) -> None:
        self._con, self.start, self.limit, self.ceiling = con, limit, limit, max(limit, ceiling)

    def execute(self, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        while True:
            try:
                return self._con.execute(sql) if params is None else self._con.execute(sql, params)
            except duckdb.OutOfMemoryException:
                if self.limit >= self.ceiling:
                    grown = f", grown from {size_text(self.start)}" if self.limit > self.start else ""
                    raise ResourceError(
                        f"the capture did not fit in DuckDB's memory limit of {size_text(self.limit)}{grown}: "
                        "set MCPSNIFF_MEMORY_MAX higher (e.g. MCPSNIFF_MEMORY_MAX=4GB)") from None
                self.limit = min(self.limit * 2, self.ceiling)
                self._con.execute(f"SET memory_limit = '{self.limit}B'")

    def cursor(self) -> Connection:
        """Another cursor on the same database, for a statement run in another thread (starting at
        this one's limit; DuckDB's limit is the database's)."""
        other = Connection(self._con.cursor(), self.limit, self.ceiling)
        other.start = self.start
        return other

    def grow_to(self, limit: int) -> None:
        """Raise the limit to ``limit`` bytes (never past the ceiling, never down)."""
        limit = min(limit, self.ceiling)
        if limit > self.limit:
            self.limit = limit
            self._con.execute(f"SET memory_limit = '{self.limit}B'")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def each_on_a_cursor(con: Any, items: list[Any], fn: Callable[[Any, Any], Any], at_once: int) -> list[Any]:
    """``fn(cursor, item)`` for every item, ``at_once`` at a time in threads, each on its own cursor
    of ``con`` (``con`` itself when one at a time); the results in the items' order. A limit a
    cursor grew (:class:`Connection`) stays ``con``'s."""
    if at_once <= 1:
        return [fn(con, item) for item in items]
    grown: list[int] = []

    def one(item: Any) -> Any:
        cur = con.cursor()
        try:
            return fn(cur, item)
        finally:
            grown.append(getattr(cur, "limit", 0))
            cur.close()

    try:
        with ThreadPoolExecutor(at_once, thread_name_prefix="mcpsniff") as pool:
            return list(pool.map(one, items))
    finally:
        if isinstance(con, Connection):
            con.limit = max([con.limit, *grown])


class InputFile(NamedTuple):
    """A capture file to read: its name, input number and size in bytes (for progress)."""

    name: str
    src: int
    size: int = 0


class _Job(NamedTuple):
    """One fast read: a whole file (``piece.length`` -1) or its ``index``-th piece, as DuckDB opens it."""

    file: InputFile
    index: int
    piece: pieces.Piece
    path: str
    compressed: bool


class _Table(NamedTuple):
    """A fast read's table, the file lines it holds and how many of them are exchanges."""

    name: str
    lines: int
    exchanges: int


CHUNK = 16384  # careful-reader rows per insert

class Store:
    """One DuckDB connection holding one capture's exchanges.

    Each fast-read file (or piece) gets its own table (its ``rowid`` is the line minus one, counted
    from the piece's first line: DuckDB keeps file order, so no numbering pass is needed);
    careful-read rows share the table ``x``, with their line numbers. :meth:`finish` presents them
    as one view ``u``; ``derive`` numbers the exchanges by time."""

    def __init__(self, *, memory_limit: str = MEMORY_LIMIT, memory_max: str = MEMORY_MAX,
                 threads: int | None = None) -> None:
        limit = parse_bytes(memory_limit, "MCPSNIFF_MEMORY_LIMIT")
        ceiling = parse_bytes(memory_max, "MCPSNIFF_MEMORY_MAX")
        self._tmp = tempfile.TemporaryDirectory(prefix="mcpsniff-")
        self.con = Connection(duckdb.connect(":memory:", config={
            "memory_limit": f"{limit}B", "temp_directory": self._tmp.name, "preserve_insertion_order": True,
            **({"threads": threads} if threads else {}),
        }), limit, ceiling)
        cols = ", ".join(f"{c.name} {c.type}" for c in COLUMNS)
        self.con.execute(f"CREATE TABLE x ({cols})")
        #: one (SELECT of COLUMNS, rows come in (src, line) order) per input table
        self.parts: list[tuple[str, bool]] = [("SELECT * FROM x", True)]
        #: the input tables (dropped once ``m`` holds their rows) and the exchanges they hold
        self.tables: list[str] = ["x"]
        self.rows = 0
        self._pieces: Any = None  # the filesystem serving pieces of files, once one is cut

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self._tmp.cleanup()

    # -- ingest ----------------------------------------------------------------------------------
    def insert_rows(self, rows: list[Row]) -> None:
        """Rows from the careful reader (:func:`mcpsniff.model.rows.row_of`)."""
        insert_rows(self.con, rows, "x")
        self.rows += len(rows)

    def read_careful(self, name: str, src: int, report: Callable[[Problem], None], *, strict: bool,
                     progress: Callable[[int], None] | None = None, done: int = 0,
                     on_bytes: Callable[[int], None] | None = None) -> InputInfo:
        r = Reading(name, report, strict)
        rows: list[tuple] = []
        n = 0
        with no_gc():
            for _, row in load.read(r, convert=lambda rec, ln: row_of(rec, src, ln), on_bytes=on_bytes):
                rows.append(row)
                if len(rows) >= CHUNK:
                    self.insert_rows(rows)
                    n += len(rows)
                    rows = []
                    if progress is not None:
                        progress(done + n)
            if rows:
                self.insert_rows(rows)
        return r.info()

    def read_fast(self, name: str, src: int, *, on_bytes: Callable[[int], None] | None = None,
                  size: int = 0) -> InputInfo | None:
        """The fast reader for a clean JSONL file; None (nothing kept) when it must take the careful path.

        ``on_bytes`` follows DuckDB's progress through the file (``size`` bytes)."""
        tell = (lambda _src, n: on_bytes(n)) if on_bytes else None
        return self.read_fast_files([InputFile(name, src, size)], on_bytes=tell)[0]

    def read_fast_files(self, files: list[InputFile],
                        on_bytes: Callable[[int, int], None] | None = None) -> list[InputInfo | None]:
        """:meth:`read_fast` for several files, :data:`FAST_READ_FILES` reads at once (each statement
        on its own cursor and :data:`FAST_READ_THREADS` DuckDB threads); big plain files are read in
        pieces (:func:`_jobs`). Their tables are kept in the files' order. ``on_bytes(src, n)``: n
        bytes of that file read so far."""
        threads = self.con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        at_once = max(1, whole_number(FAST_READ_FILES, "MCPSNIFF_FAST_READ_FILES") or threads)
        read_threads = whole_number(FAST_READ_THREADS, "MCPSNIFF_FAST_READ_THREADS", 1)
        jobs = self._jobs(files, at_once)
        done: dict[tuple[int, int], int] = {}
        lock = threading.Lock()

        def read(con: Connection, job: _Job) -> _Table | None:
            def tell(n: int) -> None:
                with lock:  # pieces of one file report from several threads
                    done[job.file.src, job.index] = n
                    on_bytes(job.file.src, sum(v for (src, _), v in done.items() if src == job.file.src))  # type: ignore[misc]
            return self._read_fast(con, job, tell if on_bytes else None)

        try:
            self.con.execute(f"SET threads = {read_threads}")
            tables = each_on_a_cursor(self.con, jobs, read, min(at_once, len(jobs)))
        finally:
            self.con.execute(f"SET threads = {threads}")
        return [self._keep(f, [t for j, t in zip(jobs, tables) if j.file is f]) for f in files]

    def _jobs(self, files: list[InputFile], at_once: int) -> list[_Job]:
        """One read per file, or one per piece of a big plain file (:mod:`.pieces`): DuckDB reads a
        file in order on one thread, so a capture of fewer files than reads at once would leave cores
        idle. Pieces are about an ``at_once``-th of all the bytes (at least :data:`FAST_PIECE_MIN_BYTES`).
        (Smaller pieces balance better but cost memory later: more pieces than reads at once make
        the time sort outgrow the default memory limit.)"""
        total = sum(f.size for f in files)
        share = max(FAST_PIECE_MIN_BYTES, -(-total // at_once))
        jobs: list[_Job] = []
        for f in files:
            compressed = is_gzip(f.name)
            if at_once > 1 and not compressed and f.size > share:
                if self._pieces is None:
                    self._pieces = pieces.filesystem()
                    self.con.register_filesystem(self._pieces)
                jobs += [_Job(f, i, p, self._pieces.add(p), False)
                         for i, p in enumerate(pieces.cut(f.name, f.size, -(-f.size // share)))]
            else:
                jobs.append(_Job(f, 0, pieces.Piece(f.name, 0, -1), f.name, compressed))
        return jobs

    def _read_fast(self, con: Connection, job: _Job, on_bytes: Callable[[int], None] | None) -> _Table | None:
        """One file or piece into its own table: the table and its lines, or None when the fast reader
        must give way to the careful one."""
        p = job.piece
        lines = _Background(fast.count_lines, p.name, job.compressed, p.start, p.length)  # beside DuckDB's read
        table = f"f{job.file.src}" if p.length < 0 else f"f{job.file.src}_{job.index}"
        watch = _Progress(con, on_bytes, job.file.size if p.length < 0 else p.length) if on_bytes else None
        try:
            con.execute(f"CREATE TABLE {table} AS {fast.insert_sql(job.path, job.compressed)}", [job.file.src])
        except duckdb.Error:
            con.execute(f"DROP TABLE IF EXISTS {table}")
            return None
        finally:
            if watch:
                watch.stop()
        try:
            n_lines = lines.result()
        except (OSError, EOFError, ValueError):  # a cut or damaged gzip: the careful reader says where
            n_lines = -1
        rows, bad, exchanges = con.execute(
            f"SELECT count(*), count(*) FILTER (kind IS DISTINCT FROM 'meta' AND NOT coalesce(valid, false)), "
            f"count(*) FILTER (kind = 'exchange') FROM {table}").fetchall()[0]
        if n_lines != rows or bad:
            con.execute(f"DROP TABLE {table}")
            return None
        return _Table(table, rows, exchanges)

    def _keep(self, f: InputFile, tables: list[_Table | None]) -> InputInfo | None:
        """The input of a file whose tables (one, or one per piece) the fast reader all kept, each a
        part with its file line numbers; None (and nothing kept) when it refused any of them."""
        if not all(tables):
            for t in filter(None, tables):
                self.con.execute(f"DROP TABLE {t.name}")
            return None
        meta, n, before = [], 0, 0
        for t in tables:  # type: ignore[union-attr]
            meta += [json.loads(m) for (m,) in self.con.execute(
                f"SELECT meta FROM {t.name} WHERE kind = 'meta' ORDER BY rowid").fetchall()]
            n += t.exchanges
            cols = ", ".join(f"rowid + {before + 1} AS line" if c.name == "line" else c.name for c in COLUMNS)
            self.parts.append((f"SELECT {cols} FROM {t.name} WHERE kind = 'exchange'", True))
            self.tables.append(t.name)
            before += t.lines
        self.rows += n
        return InputInfo(f.name, "jsonl", n, tuple(meta))

    def read_parquet(self, directory: str, first_src: int) -> list[InputInfo]:
        """A Parquet export (:mod:`mcpsniff.model.parquet`): one input per capture file it came from."""
        rel = parquet.relation(directory)
        try:
            have = {r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
            missing = [c for c in parquet.FILE_COLUMNS if c not in have]
            if missing:
                raise LoadError(f"{directory}: not an mcpsniff Parquet export (no column {', '.join(missing)})")
            sources = [name for (name,) in self.con.execute(
                f"SELECT source FROM {rel} GROUP BY source ORDER BY min(src), source").fetchall()]
        except duckdb.Error as e:
            raise LoadError(f"{directory}: not a readable Parquet export ({str(e).splitlines()[0]})") from None
        table = f"f{first_src}"
        mapping = " ".join(f"WHEN {_lit(n)} THEN {first_src + i}" for i, n in enumerate(sources))
        cols = ", ".join(f"(CASE source {mapping} END)::INTEGER AS src" if c.name == "src" else f"CAST({c.name} AS {c.type}) AS {c.name}"
                         for c in COLUMNS)
        try:
            self.con.execute(f"CREATE TABLE {table} AS SELECT {cols} FROM {rel}")
        except duckdb.Error as e:
            raise LoadError(f"{directory}: not a readable Parquet export ({str(e).splitlines()[0]})") from None
        self.parts.append((f"SELECT * FROM {table}", False))
        self.tables.append(table)
        counts = dict(self.con.execute(f"SELECT src, count(*) FROM {table} GROUP BY src").fetchall())
        self.rows += sum(counts.values())
        return [InputInfo(n, "parquet", counts.get(first_src + i, 0)) for i, n in enumerate(sources)]

    def count(self) -> int:
        """The exchanges read so far."""
        return self.rows

    # -- finish -----------------------------------------------------------------------------------
    def finish(self) -> None:
        """``u``: every exchange, in one view (derive numbers them by time); the memory limit made
        enough for that many (:data:`ROW_MEMORY`)."""
        self.con.execute("CREATE VIEW u AS " + " UNION ALL ".join(p for p, _ in self.parts))
        self.con.grow_to(self.rows * ROW_MEMORY)

    def release_inputs(self) -> None:
        """Drop the input tables once ``m`` holds their rows."""
        self.con.execute("DROP VIEW IF EXISTS u")
        for name in self.tables:
            self.con.execute(f"DROP TABLE {name}")
        self.tables = []


class _Background:
    """A function run in a thread (for I/O-bound work beside DuckDB, which releases the GIL)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self._out: list[Any] = []
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple) -> None:
        try:
            self._out.append(fn(*args))
        except Exception as e:  # noqa: BLE001 - handed to result()
            self._out.append(e)

    def result(self) -> Any:
        self._thread.join()
        if isinstance(self._out[0], Exception):
            raise self._out[0]
        return self._out[0]


class _Progress:
    """Polls DuckDB's progress on the running query and reports it as bytes of the input."""

    def __init__(self, con: duckdb.DuckDBPyConnection, on_bytes: Callable[[int], None], size: int) -> None:
        self._con, self._on, self._size = con, on_bytes, size
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.2):
            try:
                pct = self._con.query_progress()
            except duckdb.Error:  # no query running (yet or any more)
                continue
            if 0 <= pct <= 100:
                self._on(int(self._size * pct / 100))

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        self._on(self._size)




def is_gzip(name: str) -> bool:
    """The file starts as gzip does (what the fast reader decides by, whatever the name)."""
    try:
        with open(name, "rb") as fo:
            return fo.read(2) == load.GZIP_MAGIC
    except OSError:
        return False
