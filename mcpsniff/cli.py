"""The mcpsniff command line: thin, it only translates library results and errors.

Exit codes: 0 = nothing at or above --fail-on, 1 = findings at or above
--fail-on, 2 = unusable input or usage error.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Callable, Optional

import orjson
import typer
from rich.console import Console

from . import __version__
from .load import LoadError, Problem, file_size

app = typer.Typer(
    name="mcpsniff",
    help="Record MCP HTTP traffic through mitmproxy and tell which client plane breaks the session contract.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MAX_PROBLEM_LINES = 20
PROGRESS_MIN_BYTES = 20 * 1024 * 1024


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    never = "never"


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


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


def emit(doc: dict, format: Format, *, markdown: Callable[[dict], str], table: Callable[[dict, Console], None]) -> None:
    """Print a document as JSON, Markdown or rich tables on stdout."""
    if format is Format.json:
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    elif format is Format.markdown:
        sys.stdout.write(markdown(doc))
    else:  # wide enough for User-Agents when piped; the terminal's width otherwise
        table(doc, Console(highlight=False, width=None if sys.stdout.isatty() else 140))


def exit_code(findings_severities: list[str], fail_on: FailOn) -> int:
    if fail_on is FailOn.never:
        return 0
    levels = {"error"} if fail_on is FailOn.error else {"error", "warning"}
    return 1 if any(s in levels for s in findings_severities) else 0


def run_analysis(files: list[str], *, strict: bool, plane: Optional[str], show_progress: bool):
    """Load + analyse with problems and progress on stderr; CLI errors become Exit(2)."""
    from .analysis import analyze

    if files.count("-") > 1:
        raise fail("standard input ('-') can be given only once")
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
    except LoadError as e:
        raise fail(str(e)) from None
    finally:
        if prog is not None:
            prog.stop()
        printer.close()
    if a.cap.empty:
        raise fail(f"no exchanges to analyse in {', '.join(files)}")
    if plane is not None and plane not in set(a.cap.df["plane"].astype("object")):
        known = sorted(set(a.cap.df["plane"].astype("object")))
        raise fail(f"no plane with User-Agent {plane!r}; planes: " + ", ".join(repr(k) for k in known))
    return a


@app.command()
def analyze(
    files: Annotated[list[str], typer.Argument(help="Capture files: mcpsniff JSONL, HAR or mitmproxy flows; '-' reads stdin. Several files are one capture.")],
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    plane: Annotated[Optional[str], typer.Option("--plane", help="Only this plane (exact User-Agent).")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when findings reach this severity.")] = FailOn.error,
    strict: Annotated[bool, typer.Option("--strict", help="A bad line is fatal instead of skipped.")] = False,
    evidence: Annotated[int, typer.Option("--evidence", min=0, help="Evidence exchanges per finding (0 = all).")] = 10,
) -> None:
    """Group a capture by plane and session and report which plane breaks which rule."""
    from .analysis import document

    from .render import markdown, table

    a = run_analysis(files, strict=strict, plane=plane, show_progress=format is not Format.json)
    doc = document(a, evidence_limit=evidence or None, plane=plane)
    emit(doc, format, markdown=markdown.render, table=table.render)
    raise typer.Exit(exit_code([f.severity for f in a.findings], fail_on))


@app.command()
def rules(
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """List the rule catalogue (ids, severities, spec citations)."""
    from . import rules as catalogue
    from .render import rules_view

    if format is Format.json:
        sys.stdout.buffer.write(orjson.dumps(rules_view.as_dicts(catalogue.RULES), option=orjson.OPT_INDENT_2) + b"\n")
    elif format is Format.markdown:
        sys.stdout.write(rules_view.markdown(catalogue.RULES))
    else:
        Console(highlight=False).print(rules_view.table(catalogue.RULES))


def _version_callback(value: bool) -> None:
    if value:
        import mitmproxy.version

        typer.echo(f"mcpsniff {__version__} (mitmproxy {mitmproxy.version.VERSION}, Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show versions and exit.")] = False,
) -> None:
    """mcpsniff: record MCP HTTP traffic and tell which client plane breaks the session contract."""


from .capture_cmd import capture  # noqa: E402 - the command modules import helpers defined above
from .report_cmd import diff, report  # noqa: E402

app.command("capture")(capture)
app.command("report")(report)
app.command("diff")(diff)
