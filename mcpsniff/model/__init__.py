"""Model: a capture as one table of exchanges (in DuckDB) plus the facts derived from it, each
computed once.

:func:`build` reads the inputs (``load``) into the exchange table (``store``: the fast SQL reader
for large clean JSONL files, the careful row reader ``rows`` for everything else), orders them by
time and derives planes, eras, sessions and echo classes (``derive``). The :class:`Model` then
answers the questions the checks and documents ask.

Importing this package is light (the checks import :class:`Model` to list the rules): DuckDB and
the readers (``store``, ``rows``, ``derive``) are imported by the functions that build a model.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from ..errors import ResourceError
from ..load import InputInfo, Problem, file_size
from ..load.inputs import PARQUET, expand
from .model import ECHO_CLASSES, Model

if TYPE_CHECKING:
    from .store import Store

#: files at least this big try the fast reader first (below it the careful reader is as fast)
FAST_MIN_BYTES: int | str = os.environ.get("MCPSNIFF_FAST_MIN_BYTES", 16 * 1024 * 1024)


def __getattr__(name: str) -> Any:
    """The careful reader's row function (the live capture summary uses it), imported on use."""
    if name == "row_of":
        from . import rows

        return getattr(rows, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextlib.contextmanager
def engine_limits() -> Iterator[None]:
    """DuckDB running out of spill space becomes one line saying where (running out of memory is
    turned into one line by the Store's connection, which knows how far the limit grew)."""
    import duckdb

    try:
        yield
    except duckdb.IOException as e:
        if "No space left" not in str(e) and "Could not write" not in str(e):
            raise
        raise ResourceError(f"no space left for DuckDB's spill files (TMPDIR={tempfile.gettempdir()}): "
                            f"{str(e).splitlines()[0]}") from None


def build(
    names: Iterable[str],
    *,
    strict: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
    progress: Callable[[int], None] | None = None,
    memory_limit: str | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Model:
    """Load inputs (merged into one capture, ordered by time) and derive everything.

    ``names`` are files, ``-``, directories (capture files or a Parquet export) and glob
    patterns (:func:`mcpsniff.load.inputs.expand`).

    ``progress`` is told how many exchanges were read so far, ``on_bytes`` how many bytes of all
    inputs together (both now and then, while reading)."""
    with engine_limits():
        return _build(list(names), strict, on_problem, progress, memory_limit, on_bytes)


def _build(names: list[str], strict: bool, on_problem: Callable[[Problem], None] | None,
           progress: Callable[[int], None] | None, memory_limit: str | None,
           on_bytes: Callable[[int], None] | None) -> Model:
    from .store import InputFile, Store, whole_number

    problems: list[Problem] = []

    def report(p: Problem) -> None:
        problems.append(p)
        if on_problem:
            on_problem(p)

    store = Store(**({"memory_limit": memory_limit} if memory_limit else {}))
    try:
        # numbered in order (a Parquet export is read at once: it numbers its own sources); big
        # JSONL files go to the fast reader, several at once; the rest, and any file it refuses,
        # to the careful reader, in order
        plan: list[InputFile | list[InputInfo]] = []
        src = 0
        for item in expand(list(names)):
            if item.kind == PARQUET:
                plan.append(store.read_parquet(item.name, src))
                src += len(plan[-1])
            else:
                plan.append(InputFile(item.name, src, file_size(item.name)))
                src += 1
        files = [f for f in plan if isinstance(f, InputFile)]
        done = {f.src: 0 for f in files}  # bytes read per file
        lock = threading.Lock()
        shown = 0  # bytes reported: never less than before

        def count(src: int, n: int) -> None:
            nonlocal shown
            with lock:  # the fast reader reports from several threads; a file it refused is read again
                done[src] = n
                shown = max(shown, sum(done.values()))
                if on_bytes:
                    on_bytes(shown)

        least = whole_number(FAST_MIN_BYTES, "MCPSNIFF_FAST_MIN_BYTES")
        fast = [f for f in files if not strict and f.name != "-" and f.size >= least]
        got = dict(zip((f.src for f in fast), store.read_fast_files(fast, on_bytes=count))) if fast else {}
        if progress is not None and fast:
            progress(store.count())
        inputs: list[InputInfo] = []
        for f in plan:
            if not isinstance(f, InputFile):
                inputs += f
                continue
            info = got.get(f.src)
            if info is None:
                info = store.read_careful(f.name, f.src, report, strict=strict, progress=progress, done=store.count(),
                                          on_bytes=lambda n, s=f.src: count(s, n))
                if progress is not None:
                    progress(store.count())
            inputs.append(info)
        return _finish(store, inputs, problems)
    except BaseException:
        store.close()
        raise


def _finish(store: Store, inputs: list[InputInfo], problems: list[Problem]) -> Model:
    from .derive import derive

    store.finish()
    derive(store.con, store.parts)
    store.release_inputs()
    n = store.con.execute("SELECT count(*) FROM m").fetchall()[0][0]
    return Model(con=store.con, inputs=inputs, problems=problems, n=n, _owner=store)


def from_rows(chunks: Iterable[list[Any]], info: InputInfo) -> Model:
    """A model of careful-reader rows already in memory (:func:`mcpsniff.model.rows.row_of`), in
    chunks inserted one after the other (the live capture summary)."""
    from .store import Store

    store = Store()
    for rows in chunks:
        store.insert_rows(rows)
    return _finish(store, [info], [])


def from_records(records: Iterable[dict[str, Any]], name: str = "(records)") -> Model:
    """A model of records already in memory (tests, small tools)."""
    from .rows import row_of

    rows = [row_of(r, 0, i) for i, r in enumerate(records, 1)]
    return from_rows([rows], InputInfo(name, "records", len(rows)))


__all__ = ["ECHO_CLASSES", "Model", "build", "engine_limits", "from_rows", "from_records", "row_of"]
