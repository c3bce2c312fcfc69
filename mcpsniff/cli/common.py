"""What every command shares: option declarations, error and exit-code handling, output.

Exit codes: 0 = nothing at or above --fail-on, 1 = findings at or above
--fail-on (analyze) or a plane got worse (diff), 2 = unusable input or usage error.
Every error reads ``error: <one line>`` on stderr.
"""

from __future__ import annotations

import functools
import sys
from enum import Enum
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console

from .. import render
from ..documents.analysis import Analysis, analyze
from ..errors import LoadError, McpSniffError, NotFound
from ..load import Problem, file_size

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
MAX_PROBLEM_LINES = 20
PROGRESS_MIN_BYTES = 20 * 1024 * 1024
PIPE_WIDTH = 140  # table width when stdout is not a terminal


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
    """Prints the first few load problems on stderr, counts the rest."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, p: Problem) -> None:
        self.n += 1
        if self.n <= MAX_PROBLEM_LINES:
            sys.stderr.write(f"warning: {p} (skipped)\n")

    def close(self) -> None:
        if self.n > MAX_PROBLEM_LINES:
            sys.stderr.write(f"warning: {self.n - MAX_PROBLEM_LINES} more unusable lines skipped ({self.n} in all)\n")


def exit_code(severities: list[str], fail_on: FailOn, *, capture_failed: bool = False) -> int:
    """1 when findings reach ``fail_on``, or when the capture's traffic mostly failed (no clean bill
    over a wall of failures); 0 otherwise; ``never`` is always 0."""
    if fail_on is FailOn.never:
        return EXIT_OK
    levels = {"error"} if fail_on is FailOn.error else {"error", "warning"}
    return EXIT_FINDINGS if capture_failed or any(s in levels for s in severities) else EXIT_OK


def run_analysis(files: list[str], *, strict: bool, plane: Optional[str] = None, show_progress: bool = True) -> Analysis:
    """Load + analyse with problems and progress on stderr; unusable input raises a typed error."""
    if files.count("-") > 1:
        raise LoadError("standard input ('-') can be given only once")
    printer = ProblemPrinter()
    progress_cb = None
    prog = None
    big = sum(file_size(f) for f in files) >= PROGRESS_MIN_BYTES
    if show_progress and big and sys.stderr.isatty():
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        prog = Progress(SpinnerColumn(), TextColumn("reading {task.completed:,} exchanges"), TimeElapsedColumn(),
                        console=err_console(), transient=True)
        task = prog.add_task("read", total=None)
        prog.start()
        progress_cb = lambda n: prog.update(task, completed=n)  # noqa: E731
    try:
        a = analyze(files, strict=strict, on_problem=printer, progress=progress_cb, plane=plane)
    finally:
        if prog is not None:
            prog.stop()
        printer.close()
    if a.model.empty:
        raise LoadError(f"no exchanges to analyse in {', '.join(files)}")
    if plane is not None and plane not in a.model.planes():
        raise NotFound(f"no plane with User-Agent {plane!r}; planes: " + ", ".join(repr(k) for k in a.model.planes()))
    return a


def render_context() -> render.Context:
    tty = sys.stdout.isatty()
    return render.Context(width=None if tty else PIPE_WIDTH, color=tty)


def emit(kind: str, fmt: str, doc: Any, output: Optional[str] = None) -> None:
    """Render a document and write it to stdout (or ``output``)."""
    text = render.render(kind, fmt, doc, render_context() if output in (None, "-") else render.Context(width=PIPE_WIDTH))
    write(text, output)


def write(text: str, output: Optional[str]) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(output, "w", encoding="utf-8") as fo:
            fo.write(text)
    except OSError as e:
        raise fail(f"{output}: cannot write ({e.strerror or e})") from None
