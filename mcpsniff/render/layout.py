"""Terminal layouts that never cut an identifier, at any width.

Every table view is a :class:`FitTable` and every line of prose a :class:`Para`; both
are rich renderables that choose their layout when they are drawn, from the width
they get (``options.max_width``), so the same view works at 80 columns, in a pipe
and in the live capture summary.

- Identifiers (User-Agents, rule ids, method names, session pseudonyms) are never
  truncated, folded or wrapped: in a table their column is as wide as the widest
  one; in prose they are :class:`Atom` s, which a line break never splits.
- When a table does not fit: text columns wrap between words first; then numeric
  columns are left out (columns that are 0 on every row first, then the least
  important), and a note says which; when even that does not fit, each row is
  stacked as a block (its identifier on a line of its own, then ``name value`` pairs).
- Nothing longer than the width is cut: an identifier wider than the whole line
  overflows it (the terminal wraps it, the text stays whole).

Lines are drawn as segments, so the console must not crop or re-wrap them: draw on a
``Console(soft_wrap=True)`` (``render.rich_text`` does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence, Union

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

ID, NUM, TAG, TEXT = "id", "num", "tag", "text"
_SPACE = re.compile(r"(\s+)")


# ---------------------------------------------------------------- prose


@dataclass(frozen=True)
class Atom:
    """Text a line break never splits (an identifier, or any run that must stay on one line)."""

    text: str
    style: str = ""


Part = Union[str, Atom, tuple[str, str]]  # prose, an atom, or (prose, style)


def _units(parts: Iterable[Part]) -> list[list[tuple[str, str]]]:
    """Unbreakable units: runs of words and atoms with no space between them."""
    units: list[list[tuple[str, str]]] = []
    gap = True  # a line may break before the next piece
    for part in parts:
        if isinstance(part, Atom):
            if part.text:
                if gap or not units:
                    units.append([])
                units[-1].append((part.text, part.style))
                gap = False
            continue
        text, style = (part, "") if isinstance(part, str) else part
        for piece in _SPACE.split(text):
            if not piece:
                continue
            if piece.isspace():
                gap = True
                continue
            if gap or not units:
                units.append([])
            units[-1].append((piece, style))
            gap = False
    return units


@dataclass
class Para:
    """A paragraph wrapped between words at the width it is drawn at; atoms stay whole.

    ``indent`` starts the first line, ``hang`` (default: ``indent``) the others.
    """

    parts: list[Part]
    indent: int = 0
    hang: int | None = None
    style: str = ""

    def lines(self, width: int) -> list[list[tuple[str, str]]]:
        hang = self.indent if self.hang is None else self.hang
        out: list[list[tuple[str, str]]] = []
        line: list[tuple[str, str]] = [(" " * self.indent, "")] if self.indent else []
        used, empty = self.indent, True
        for unit in _units(self.parts):
            n = sum(cell_len(t) for t, _ in unit)
            if not empty and used + 1 + n > width:
                out.append(line)
                line, used, empty = ([(" " * hang, "")] if hang else []), hang, True
            if not empty:
                line.append((" ", ""))
                used += 1
            line += unit
            used += n
            empty = False
        out.append(line)
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        base = Style.parse(self.style) if self.style else None
        for line in self.lines(options.max_width):
            for text, style in line:
                st = Style.parse(style) if style else None
                yield Segment(text, Style.combine([s for s in (base, st) if s]) if (base or st) else None)
            yield Segment.line()


def para(*parts: Part, indent: int = 0, hang: int | None = None, style: str = "") -> Para:
    return Para(list(parts), indent, hang, style)


# ---------------------------------------------------------------- tables


@dataclass(frozen=True)
class Col:
    """A table column.

    ``kind``: ``id`` (an identifier: never cut, never wrapped), ``num`` (a number, right-aligned,
    never wrapped; may be left out when the table is too narrow), ``tag`` (a short word such as a
    verdict: never wrapped), ``text`` (wraps between words).  ``drop``: for ``num`` columns, the
    order they are left out in (lower first); ``None`` keeps the column always.
    """

    header: str
    kind: str = TEXT
    drop: int | None = None
    justify: str | None = None


Cell = Union[str, Text]


def _plain(c: Cell) -> str:
    return c.plain if isinstance(c, Text) else str(c)


def _style(c: Cell) -> str:
    if isinstance(c, Text):
        if c.style:
            return str(c.style)
        if c.spans:
            return str(c.spans[0].style)
    return ""


def _longest_word(s: str) -> int:
    return max((cell_len(w) for w in s.split()), default=0)


def overhead(n: int) -> int:
    """Columns a rich Table with edges and padding 1 adds around ``n`` columns of content."""
    return 3 * n + 1 if n else 0


@dataclass
class FitTable:
    """A table that fits the width it is drawn at (see the module docstring), with its title
    above it as a :class:`Para` (so an identifier in the title is never split either)."""

    title: list[Part]
    cols: Sequence[Col]
    rows: list[Sequence[Cell]] = field(default_factory=list)
    title_style: str = "italic"

    def add_row(self, *cells: Cell) -> None:
        self.rows.append(cells)

    # -- choosing a layout -------------------------------------------------------------------
    def _natural(self, i: int) -> int:
        return max([cell_len(self.cols[i].header)] + [cell_len(_plain(r[i])) for r in self.rows])

    def _minimum(self, i: int) -> int:
        if self.cols[i].kind != TEXT:
            return self._natural(i)
        return max([_longest_word(self.cols[i].header)] + [_longest_word(_plain(r[i])) for r in self.rows] + [1])

    def _zero(self, i: int) -> bool:
        return all(_plain(r[i]).strip() in ("0", "", "-") for r in self.rows)

    def plan(self, width: int) -> tuple[list[int], list[int]] | None:
        """(the columns shown, their widths), or None when only the stacked layout fits."""
        shown = list(range(len(self.cols)))
        mins = {i: self._minimum(i) for i in shown}
        droppable = [i for i in shown if self.cols[i].kind == NUM and self.cols[i].drop is not None]
        droppable.sort(key=lambda i: (not self._zero(i), self.cols[i].drop, -i))
        while sum(mins[i] for i in shown) + overhead(len(shown)) > width:
            if not droppable:
                return None
            shown.remove(droppable.pop(0))
        widths = {i: self._natural(i) for i in shown}
        room = width - overhead(len(shown))
        text = [i for i in shown if self.cols[i].kind == TEXT]
        excess = sum(widths.values()) - room
        # narrow the widest text column a column at a time, never below its longest word
        while excess > 0:
            wide = max((i for i in text if widths[i] > mins[i]), key=lambda i: widths[i], default=None)
            if wide is None:
                break
            widths[wide] -= 1
            excess -= 1
        return shown, [widths[i] for i in shown]

    # -- drawing -------------------------------------------------------------------------------
    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        if self.title:
            yield Para(self.title, style=self.title_style)
        plan = self.plan(width)
        if plan is None:
            yield from self._stacked(width)
            return
        shown, widths = plan
        t = Table(expand=False)
        for i, w in zip(shown, widths):
            c = self.cols[i]
            justify = c.justify or ("right" if c.kind == NUM else "left")
            # the widths come from plan(): never narrower than an identifier, a number or a word
            t.add_column(c.header, width=w, justify=justify, no_wrap=c.kind != TEXT, overflow="fold")  # type: ignore[arg-type]
        for r in self.rows:
            t.add_row(*(r[i] for i in shown))
        yield t
        gone = [i for i in range(len(self.cols)) if i not in shown]
        if gone:
            zero = [i for i in gone if self._zero(i)]
            other = [self.cols[i].header for i in gone if not self._zero(i)]
            bits = []
            if zero:
                nought = all(_plain(r[i]).strip() == "0" for i in zero for r in self.rows)
                bits.append(", ".join(self.cols[i].header for i in zero) + (" (0 on every row)" if nought else " (0 or - on every row)"))
            if other:
                bits.append(", ".join(other))
            yield Para([f"Left out to fit {width} columns: " + "; ".join(bits) + ". A wider terminal or --format json shows them."],
                       style="dim")

    def _stacked(self, width: int) -> Iterator[Para]:
        """One block per row: identifiers and tags on the first line, then ``header value`` pairs."""
        head_cols = [i for i, c in enumerate(self.cols) if c.kind in (ID, TAG)]
        if not head_cols or self.cols[0].kind != ID:
            head_cols = [0] + [i for i in head_cols if i != 0]
        rest = [i for i in range(len(self.cols)) if i not in head_cols]
        for r in self.rows:
            head: list[Part] = []
            for i in head_cols:
                v = _plain(r[i])
                if v:
                    head += [" ", Atom(v, _style(r[i]) or ("bold" if self.cols[i].kind == ID else ""))]
            yield Para(head)
            pairs: list[Part] = []
            for i in rest:
                v = _plain(r[i]) or "-"
                if pairs:
                    pairs += [Atom(" ·", "dim"), " "]
                pairs.append(Atom(self.cols[i].header + ":", "dim"))
                pairs += [" ", (v, _style(r[i]))] if self.cols[i].kind == TEXT else [Atom(" "), Atom(v, _style(r[i]))]
            if pairs:
                yield Para(pairs, indent=2, hang=4)
