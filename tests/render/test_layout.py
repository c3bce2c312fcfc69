"""render.layout: identifiers are never cut at any width; numbers go before the layout stacks."""

from __future__ import annotations

import re

import pytest
from rich.text import Text

from mcpsniff.render import Context, rich_text
from mcpsniff.render.layout import ID, NUM, TAG, TEXT, Atom, Col, FitTable, Para

UAS = ["openai-mcp/1.0.0 (ChatGPT)", "openai-mcp/1.0.0", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"]
METHODS = ["notifications/initialized", "tools/call", "resources/read"]


def draw(renderable, width: int) -> str:
    return rich_text(lambda c: c.print(renderable), Context(width=width))


def table() -> FitTable:
    t = FitTable([Atom(UAS[0]), ": by method"], (
        Col("User-Agent", ID), Col("method", ID), Col("era", TEXT), Col("requests", NUM), Col("foreign", NUM, drop=1),
        Col("echoed", NUM, drop=2), Col("verdict", TAG)))
    for i, ua in enumerate(UAS):
        t.add_row(ua, METHODS[i], "handshake (2025-11-25)", str(10 ** i), "0", Text(str(i), style="red"), "ok")
    return t


@pytest.mark.parametrize("width", [20, 40, 60, 80, 100, 120, 200, 400])
def test_identifiers_are_whole_at_every_width(width):
    out = draw(table(), width)
    for name in UAS + METHODS:
        assert name in out, (width, name, out)
    assert "…" not in out
    # nothing a line break can cut an identifier at: each one sits whole on one line
    for name in UAS + METHODS:
        assert any(name in line for line in out.splitlines())


def test_wide_is_a_table_with_every_column():
    out = draw(table(), 250)
    assert "┃ User-Agent" in out and "foreign" in out and "Left out" not in out


def test_numbers_are_left_out_before_the_layout_stacks():
    t = table()
    full = sum(t._natural(i) for i in range(len(t.cols))) + 3 * len(t.cols) + 1
    plan = t.plan(full - 5)  # a little too narrow: the era column wraps first
    assert plan is not None and len(plan[0]) == len(t.cols)
    narrow = t.plan(full - 25)  # the text column at its longest word, and still too wide: numbers go
    assert narrow is not None
    dropped = [t.cols[i].header for i in range(len(t.cols)) if i not in narrow[0]]
    assert dropped and set(dropped) <= {"foreign", "echoed"}
    assert dropped[0] == "foreign"  # 0 on every row: the first to go
    out = draw(t, full - 25)
    assert "Left out to fit" in out and "foreign (0 on every row)" in out


def test_too_narrow_for_any_table_stacks_rows_with_every_value():
    out = draw(table(), 60)
    assert "┃" not in out.split("\n", 1)[1]  # no table below the title
    assert "requests: 100" in out and "foreign: 0" in out and "era: handshake (2025-11-25)" in out


def test_para_wraps_between_words_and_never_inside_an_atom():
    p = Para(["plane", " ", Atom("openai-mcp/1.0.0 (ChatGPT)"), " dropped its session id on every call"], hang=4)
    for width in range(16, 80):  # (narrower than hang + the longest word, that word overflows whole)
        lines = draw(p, width).splitlines()
        assert sum("openai-mcp/1.0.0 (ChatGPT)" in line for line in lines) == 1
        assert all(len(line) <= width or "openai-mcp/1.0.0 (ChatGPT)" in line for line in lines)
        assert all(line.startswith("    ") for line in lines[1:])


def test_text_cells_wrap_at_spaces_only():
    t = FitTable([], (Col("rule", ID), Col("title", TEXT)))
    t.add_row("session-id-dropped", "Client dropped the Mcp-Session-Id header")
    out = draw(t, 40)
    words = re.findall(r"[\w/-]+", out)
    assert "Mcp-Session-Id" in words and "session-id-dropped" in words
