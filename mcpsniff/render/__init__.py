"""Render: documents -> text.  Renderers get plain documents only; they never import the data stages.

Output formats are registered in :data:`FORMATS`, per document kind; adding one is
a module plus one line here, and every command offers what its document kind has.
A renderer is ``(document, Context) -> str``; each imports its module (and rich) when it runs,
so listing the formats (every command's ``--format`` choices) costs nothing at start-up.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class Context:
    """How to render: what the command knows that the document does not."""

    width: int | None = None  # columns for tables (None: rich's default, the terminal's)
    color: bool = False  # ANSI colours (a terminal)
    fail_on: str = "error"  # the severity threshold the command gates on (JUnit failures)
    timing: bool = False  # the table view adds the latency tables (analyze --timing)


Renderer = Callable[[Any, Context], str]


def rich_text(draw: Callable[[Console], None], ctx: Context) -> str:
    """What ``draw`` prints on a rich Console, as a string."""
    from rich.console import Console

    buf = io.StringIO()
    # soft_wrap: the layouts (render.layout) wrap their own lines; the console must not crop them
    console = Console(file=buf, width=ctx.width, force_terminal=ctx.color, color_system="auto" if ctx.color else None,
                      highlight=False, soft_wrap=True)
    draw(console)
    return buf.getvalue()


def _m(name: str) -> Any:
    """This package's module ``name``, imported when a document is first rendered with it."""
    return import_module(f".{name}", __name__)


def _json(doc: Any, ctx: Context) -> str:
    return _m("jsonout").render(doc)


FORMATS: dict[str, dict[str, Renderer]] = {
    "analysis": {
        "table": lambda doc, ctx: rich_text(lambda c: _m("table").render(doc, c, timing=ctx.timing), ctx),
        "json": _json,
        "markdown": lambda doc, ctx: _m("markdown").render(doc),
        "sarif": lambda doc, ctx: _m("sarif").render(doc),
        "junit": lambda doc, ctx: _m("junit").render(doc, ctx.fail_on),
    },
    "report": {
        "markdown": lambda doc, ctx: _m("report_md").fit(doc)[0],
        "json": _json,
    },
    "diff": {
        "table": lambda doc, ctx: rich_text(lambda c: _m("diff_view").table(doc, c), ctx),
        "json": _json,
        "markdown": lambda doc, ctx: _m("diff_view").markdown(doc),
    },
    "explain": {
        "table": lambda doc, ctx: rich_text(lambda c: _m("explain_view").table(doc, c), ctx),
        "json": _json,
    },
    "har": {
        "json": _json,
    },
    "rules": {
        "table": lambda doc, ctx: rich_text(lambda c: c.print(_m("rules_view").table(doc)), ctx),
        "json": _json,
        "markdown": lambda doc, ctx: _m("rules_view").markdown(doc),
    },
}


def formats(kind: str) -> list[str]:
    """The output formats of a document kind, default first."""
    return list(FORMATS[kind])


def render(kind: str, fmt: str, doc: Any, ctx: Context = Context()) -> str:
    return FORMATS[kind][fmt](doc, ctx)
