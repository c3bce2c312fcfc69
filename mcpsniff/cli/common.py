"""What every command shares: option declarations, error and exit-code handling, output.

Exit codes: 0 = nothing at or above --fail-on, 1 = findings at or above --fail-on or a
capture that looks broken (analyze) or a plane got worse (diff), 2 = unusable input (no
exchanges, no MCP traffic) or usage error, 130 = interrupted.
Every error reads ``error: <one line>`` on stderr.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

from .. import render
from ..errors import LoadError, McpSniffError, NotFound
from ..mcp import at_or_above

if TYPE_CHECKING:  # the data stages are imported by the commands that read captures, when they run
    from rich.console import Console

    from ..documents.analysis import Analysis
    from ..load import Problem

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
MAX_PROBLEM_LINES = 20
PROGRESS_MIN_BYTES = 20 * 1024 * 1024  # inputs smaller than this are read too fast for a progress bar
PIPE_WIDTH = 140  # table width for a pipe or a file when $COLUMNS does not say


def format_enum(kind: str) -> type[Enum]:
    """The --format choices of a document kind, from the render registry."""
    return Enum(f"{kind.title()}Format", {f: f for f in render.formats(kind)}, type=str)  # type: ignore[return-value]


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    never = "never"


# -- shared option declarations ----------------------------------------------------------------
Files = Annotated[list[str], typer.Argument(help="Capture files: mcpsniff JSONL, HAR or mitmproxy flows; '-' reads stdin. Several files are one capture.")]
Strict = Annotated[bool, typer.Option("--strict", help="A bad line is fatal instead of skipped.")]
Output = Annotated[Optional[str], typer.Option("--output", "-o", help="Write to this file instead of stdout.")]


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's typed errors into ``error: ...`` and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except McpSniffError as e:
            raise fail(str(e)) from None
        except KeyboardInterrupt:  # e.g. waiting on a FIFO nobody writes to
            raise fail("interrupted", EXIT_INTERRUPTED) from None

    return wrapper


class ProblemPrinter:
    """Prints the first few load problems on stderr, counts the rest.

    A problem with a whole input (an empty file, a HAR without entries) is held back until
    :meth:`close`: when nothing could be read at all it is the error itself (:meth:`unusable`),
    one line, not a warning followed by an error saying the same."""

    def __init__(self) -> None:
        self.n = 0
        self.whole: list[Problem] = []

    def __call__(self, p: Problem) -> None:
        if p.line is None:
            self.whole.append(p)
            return
        self.n += 1
        if self.n <= MAX_PROBLEM_LINES:
            sys.stderr.write(f"warning: {p} (skipped)\n")

    def unusable(self, what: str, files: list[str]) -> LoadError:
        """The error for inputs that gave nothing to work on: the whole-input problems when they
        say why (and nothing else went wrong), else ``no exchanges to <what> in <files>``."""
        if self.whole and not self.n:
            reason = "; ".join(str(p) for p in self.whole)
            self.whole = []
            return LoadError(reason)
        return LoadError(f"no exchanges to {what} in {', '.join(files)}")

    def close(self) -> None:
        for p in self.whole:
            sys.stderr.write(f"warning: {p} (skipped)\n")
        self.whole = []
        if self.n > MAX_PROBLEM_LINES:
            sys.stderr.write(f"warning: {self.n - MAX_PROBLEM_LINES} more unusable lines skipped ({self.n} in all)\n")


def exit_code(severities: list[str], fail_on: FailOn, *, capture_failed: bool = False) -> int:
    """1 when findings reach ``fail_on``, or when the capture's traffic mostly failed (no clean bill
    over a wall of failures); 0 otherwise; ``never`` is always 0."""
    if fail_on is FailOn.never:
        return EXIT_OK
    levels = at_or_above(fail_on.value)
    return EXIT_FINDINGS if capture_failed or any(s in levels for s in severities) else EXIT_OK


def invoked_as() -> str:
    """The command as the user ran it, for hints: ``mcpsniff`` when that is what PATH finds,
    else the path they typed (``.venv/bin/mcpsniff``), or ``python -m mcpsniff``."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "mcpsniff"
    if os.path.basename(argv0) == "__main__.py":
        exe = sys.executable or "python3"
        rel = os.path.relpath(exe) if not os.path.relpath(exe).startswith("..") else exe
        return f"{shlex.quote(rel)} -m mcpsniff"
    if not os.path.basename(argv0).startswith("mcpsniff"):
        return "mcpsniff"  # embedded (tests, another program): the installed name
    found = shutil.which(os.path.basename(argv0))
    if os.sep not in argv0 or (found and os.path.exists(argv0) and os.path.samefile(found, argv0)):
        return os.path.basename(argv0)
    return shlex.quote(argv0)


class ReadProgress:
    """Bytes read, percentage, rate and time left on stderr while the inputs are read, then
    ``analysing`` until the analysis is done; transient (nothing is left on the terminal).

    Shown when stderr is a terminal and the inputs are big enough to take a while, for every
    output format: it never touches stdout, where the document goes.
    """

    def __init__(self, total: int, console: Console | None = None) -> None:
        from rich.progress import (BarColumn, DownloadColumn, Progress, TaskProgressColumn, TextColumn,
                                   TimeRemainingColumn, TransferSpeedColumn)

        self.total = total
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TaskProgressColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(), console=console or err_console(), transient=True)
        self.task = self.progress.add_task("reading", total=total)

    def __enter__(self) -> "ReadProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def bytes_read(self, n: int) -> None:
        done = min(n, self.total)
        self.progress.update(self.task, completed=done, description="analysing" if done >= self.total else "reading")


def progress_for(files: list[str], show: bool = True) -> ReadProgress | None:
    """A :class:`ReadProgress` when it should be shown (stderr a terminal, inputs big), else None."""
    from ..load import file_size

    total = sum(file_size(f) for f in files)
    if not show or total < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        return None
    return ReadProgress(total)


def run_analysis(files: list[str], *, strict: bool, plane: Optional[str] = None, show_progress: bool = True) -> Analysis:
    """Load + analyse with problems and progress on stderr; unusable input raises a typed error."""
    from ..documents.analysis import analyze
    from ..load.inputs import expand

    if files.count("-") > 1:
        raise LoadError("standard input ('-') can be given only once")
    inputs = expand(files)
    for note in dict.fromkeys(i.note for i in inputs if i.note):  # e.g. an in-process recorder's per-process files
        sys.stderr.write(f"note: {note}\n")
    files = [i.name for i in inputs]
    note_rotated_parts(files)
    printer = ProblemPrinter()
    prog = progress_for(files, show_progress)
    try:
        if prog is None:
            a = analyze(files, strict=strict, on_problem=printer, plane=plane)
        else:
            with prog:
                a = analyze(files, strict=strict, on_problem=printer, plane=plane, on_bytes=prog.bytes_read)
        if a.model.empty:
            raise printer.unusable("analyse", files)
    finally:
        printer.close()
    no_mcp = no_mcp_traffic(a, files)
    if no_mcp:
        raise LoadError(no_mcp)
    if plane is not None and plane not in a.model.planes():
        raise NotFound(f"no plane with User-Agent {plane!r}; planes: " + ", ".join(repr(k) for k in a.model.planes()))
    return a


def no_mcp_traffic(a: Analysis, files: list[str]) -> str | None:
    """Why a capture with exchanges but no sign of MCP in any (a HAR of web browsing, the wrong
    file) is unusable input: every verdict on it would be a vacuous pass."""
    from ..render.text import plural

    m = a.model
    if m.mcp_like():
        return None
    n = m.n
    hosts = m.hosts()
    shown = ", ".join(hosts[:3]) + (f" and {plural(len(hosts) - 3, 'more host')}" if len(hosts) > 3 else "")
    return f"no MCP traffic in {', '.join(files)} ({plural(n, 'HTTP exchange')} to {shown})"


def note_rotated_parts(files: list[str]) -> None:
    """Say so on stderr when a capture file has rotated parts beside it that were not named."""
    from ..schema import rotated_path

    given = {os.path.realpath(f) for f in files if f != "-"}
    for f in files:
        part = rotated_path(f, 1) if f.endswith(".jsonl") else None
        if part and os.path.isfile(part) and os.path.realpath(part) not in given:
            stem = f[: -len(".jsonl")]
            sys.stderr.write(f"note: {part} looks like a rotated part of {f} and is not read; "
                             f"name them all ('{stem}*.jsonl') to read one capture\n")


def output_width(terminal: bool) -> int:
    """The one width rule of every command: ``$COLUMNS`` when set; else a terminal's own width;
    else (a pipe, a file) PIPE_WIDTH."""
    cols = os.environ.get("COLUMNS", "").strip()
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    if terminal:
        return shutil.get_terminal_size((PIPE_WIDTH, 24)).columns
    return PIPE_WIDTH


def render_context(output: Optional[str] = None, **options: Any) -> render.Context:
    """How documents are rendered for stdout (a terminal gets its width and colours) or a file."""
    tty = output in (None, "-") and sys.stdout.isatty()
    return render.Context(width=output_width(tty), color=tty, **options)


def emit(kind: str, fmt: str, doc: Any, output: Optional[str] = None, **options: Any) -> None:
    """Render a document and write it to stdout (or ``output``); ``options`` go to render.Context."""
    write(render.render(kind, fmt, doc, render_context(output, **options)), output)


def make_parents(output: Optional[str], *, folder: bool = False) -> None:
    """Create the folders ``output`` (a file, or with ``folder`` a directory, to write) is in, as
    ``capture -o`` does; called before the inputs are read, so a path that cannot be written fails
    at once, in one line."""
    if output is None or output == "-":
        return
    if not folder and os.path.isdir(output):
        raise fail(f"{output}: cannot write: it is a folder; name a file")
    parent = os.path.dirname(os.path.abspath(output))
    if os.path.isdir(parent):
        return
    up = parent
    while up and not os.path.exists(up) and os.path.dirname(up) != up:
        up = os.path.dirname(up)
    if os.path.exists(up) and not os.path.isdir(up):
        shown = os.path.relpath(up) if not os.path.isabs(output) else up
        raise fail(f"{output}: cannot write: {shown} is a file, not a folder")
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise fail(f"{output}: cannot create its folder ({e.strerror or e})") from None


def write(text: str, output: Optional[str]) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    make_parents(output)
    try:
        with open(output, "w", encoding="utf-8") as fo:
            fo.write(text)
    except OSError as e:
        raise fail(f"{output}: cannot write ({e.strerror or e})") from None
