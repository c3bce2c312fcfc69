#!/usr/bin/env python3
"""Print the recorder's options (mcpsniff/options.py OPTIONS) as one way of recording
offers them, as a Markdown table for the docs.

    .venv/bin/python scripts/options_table.py capture     # mcpsniff capture's recording flags
    .venv/bin/python scripts/options_table.py mitmproxy   # the addon's options (mitmdump --set)
    .venv/bin/python scripts/options_table.py asgi        # MCPSniffMiddleware's keyword arguments

docs/capture.md and docs/record-in-process.md show these tables between
``<!-- generated: ... -->`` markers; scripts/update_docs.py refreshes them and
tests/cli/test_docs.py holds them to the declarations.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcpsniff.capture.recorder import NAMES, OPTIONS, PATTERNS, SIZE, SWITCH, Option, flags  # noqa: E402
from mcpsniff.units import SIZE_HELP, size_text  # noqa: E402

#: what each way of recording accepts beyond the option's own words
NOTES = {
    "capture": {NAMES: " (repeatable)", PATTERNS: " (repeatable)", SIZE: f" {SIZE_HELP}."},
    "mitmproxy": {NAMES: " Comma-separated.", PATTERNS: " One per line.", SIZE: " Bytes."},
    "asgi": {NAMES: " A list, or comma-separated text.", PATTERNS: " A list, or one per line.",
             SIZE: f" Bytes, or text such as `\"64k\"` ({SIZE_HELP})."},
}


def _capture_default(o: Option) -> str:
    if o.kind is SWITCH:
        return "on" if o.default else "off"
    if o.kind is SIZE:
        return f"`{size_text(o.default)}`"
    if o.kind in (NAMES, PATTERNS):
        return "none"
    return f"`{o.default}`"


def _mitmproxy_default(o: Option) -> str:
    v = o.kind.to_mitmproxy(o.default)
    if v is None:
        return "unset"
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    return f'`"{v}"`' if isinstance(v, str) else f"`{v}`"


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def table(adapter: str) -> str:
    if adapter == "capture":
        rows = []
        for o in flags():
            flag = o.flag if o.kind is SWITCH else f"{o.flag} {o.kind.metavar}"
            what = f"turns this off: {o.help}" if o.negated else o.help
            rows.append((f"`{flag}`", _capture_default(o), what + NOTES[adapter].get(o.kind, "")))
        return _table(("flag", "default", "meaning"), rows)
    if adapter == "mitmproxy":
        rows = [(f"`{o.mitmproxy_name}`", o.kind.mitmproxy_type.__name__ if isinstance(o.kind.mitmproxy_type, type)
                 else "str or unset", _mitmproxy_default(o), o.help + NOTES[adapter].get(o.kind, ""))
                for o in OPTIONS if o.only != "asgi"]
        return _table(("option", "type", "default", "meaning"), rows)
    if adapter == "asgi":
        rows = [(f"`{o.name}`", "required" if o.name == "output" else f"`{o.default!r}`",
                 o.help + NOTES[adapter].get(o.kind, "")) for o in OPTIONS]
        return _table(("keyword", "default", "meaning"), rows)
    raise SystemExit(f"usage: {sys.argv[0]} capture|mitmproxy|asgi")


if __name__ == "__main__":
    print(table(sys.argv[1] if len(sys.argv) > 1 else ""))
