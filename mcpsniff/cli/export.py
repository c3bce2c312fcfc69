"""``mcpsniff export``: a capture in other formats, for other tools.

One option per output format (``--har OUT.har``, ``--parquet DIR``); several may be given at
once and the inputs are read once per kind of reading (records for HAR, the exchange table for
Parquet).  Adding a format is one option on the command
and one writer in :data:`WRITERS`, which gets the :class:`Source` and the destination.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer

from ..errors import LoadError, UsageError
from ..render.text import plural
from .app import app
from .common import Files, ProblemPrinter, Strict, emit, make_parents, reports_errors

if TYPE_CHECKING:
    from ..model import Model


class Source:
    """The inputs of one export, read once, on first use, by whichever writer asks first."""

    def __init__(self, files: list[str], strict: bool) -> None:
        self.files = files
        self.strict = strict
        self._records: list[dict] | None = None
        self._model: Model | None = None

    def records(self) -> list[dict]:
        """Every exchange record, as one capture ordered by time (redacted as recorded)."""
        if self._records is None:
            from .. import load

            printer = ProblemPrinter()
            try:
                self._records, _ = load.capture_records(self.files, printer, strict=self.strict)
                if not self._records:
                    raise printer.unusable("export", self.files)
            finally:
                printer.close()
        return self._records


    def model(self) -> Model:
        """The exchange table of the inputs (the analysis reads the same)."""
        if self._model is None:
            from .. import model

            printer = ProblemPrinter()
            try:
                self._model = model.build(self.files, strict=self.strict, on_problem=printer)
                if self._model.empty:
                    raise printer.unusable("export", self.files)
            finally:
                printer.close()
        return self._model

    def close(self) -> None:
        if self._model is not None:
            self._model.close()


def write_har(source: Source, dest: str) -> str:
    """HAR 1.2 (browsers' devtools, mitmproxy, mcpsniff analyze) to ``dest``; returns what was written."""
    from ..documents import har as har_doc

    records = source.records()
    emit("har", "json", har_doc.har(records, source.files), dest)
    return f"{plural(len(records), 'exchange')} as HAR {har_doc.HAR_VERSION}"


def write_parquet(source: Source, dest: str) -> str:
    """The exchange table as Parquet partitioned by day (any engine reads it; so does analyze)."""
    if dest == "-":
        raise UsageError("--parquet writes a directory; '-' (stdout) is not one")
    from ..model import parquet

    n = parquet.write(source.model(), dest)
    return f"{plural(n, 'exchange')} as Parquet (partitioned by day)"


#: output option name -> writer(source, destination) returning a short description
WRITERS: dict[str, Callable[[Source, str], str]] = {"har": write_har, "parquet": write_parquet}


@app.command("export")
@reports_errors
def export_command(
    files: Files,
    har: Annotated[Optional[str], typer.Option(
        "--har", metavar="OUT.har", help="Write HAR 1.2 (browsers' devtools, mitmproxy; '-' for stdout).")] = None,
    parquet_dir: Annotated[Optional[str], typer.Option(
        "--parquet", metavar="DIR", help="Write the exchange table as Parquet partitioned by day (DuckDB, Spark, analyze DIR).")] = None,
    strict: Strict = False,
) -> None:
    """Write a capture (redacted as recorded) in other formats: --har for browsers' devtools and
    mitmproxy, --parquet for analytics engines and analyze itself."""
    targets = {name: dest for name, dest in (("har", har), ("parquet", parquet_dir)) if dest}
    if not targets:
        raise UsageError("export: name an output, e.g. --har OUT.har or --parquet DIR")
    if files.count("-") > 1:
        raise LoadError("standard input ('-') can be given only once")
    for name, dest in targets.items():
        if name == "parquet" and dest == "-":
            raise UsageError("--parquet writes a directory; '-' (stdout) is not one")
        make_parents(dest, folder=name == "parquet")
    source = Source(files, strict)
    try:
        for name, dest in targets.items():
            what = WRITERS[name](source, dest)
            if dest != "-":
                sys.stderr.write(f"wrote {what} to {dest}\n")
    finally:
        source.close()
