"""Model: a capture as one table of exchanges plus the facts derived from it, each computed once.

:func:`build` reads the inputs (``load``), extracts one row per exchange
(``rows``) and derives planes, eras, sessions and echo classes (``derive``).
The :class:`Model` then answers the questions the checks and documents ask;
derived facts are cached on it, so every later stage uses the same numbers.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..load import InputInfo, Problem
from .derive import derive
from .model import ECHO_CLASSES, Model
from .rows import chunk_frame, frame, read_rows, row_of


def build(
    names: Iterable[str],
    *,
    strict: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
    progress: Callable[[int], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Model:
    """Load inputs (merged into one capture, ordered by time) and derive everything."""
    problems: list[Problem] = []

    def report(p: Problem) -> None:
        problems.append(p)
        if on_problem:
            on_problem(p)

    chunks, inputs = read_rows(list(names), report, strict=strict, progress=progress, on_bytes=on_bytes)
    return from_frame(frame(chunks), inputs, problems)


def from_frame(df: Any, inputs: list[InputInfo], problems: list[Problem] | None = None) -> Model:
    sessions = derive(df)
    return Model(df=df, inputs=inputs, problems=problems or [], sessions=sessions)


def from_records(records: Iterable[dict[str, Any]], name: str = "(records)") -> Model:
    """A model of records already in memory (the live capture summary, tests)."""
    rows = [row_of(r, 0, i) for i, r in enumerate(records, 1)]
    return from_frame(frame([chunk_frame(rows)]), [InputInfo(name, "records", len(rows))])


__all__ = ["ECHO_CLASSES", "Model", "build", "from_frame", "from_records", "row_of"]
