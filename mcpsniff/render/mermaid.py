"""Mermaid: the report's sequence-diagram model -> a ``sequenceDiagram`` block.

Text from the capture (User-Agents, client names, methods) is arbitrary, so
every character outside a small safe set is written as a mermaid entity code
(``#59;`` for ``;``, ``#35;`` for ``#`` ...) and participants get generated
aliases (``P1``, ``P2`` ... and ``Server``); labels never reach the grammar raw.
"""

from __future__ import annotations

import re
from typing import Any

from .text import cut, plural

OK, BAD = "✅", "❌"
_UNSAFE = re.compile(r"[^A-Za-z0-9 ._/()+!?@~*'\-]")
_UNSAFE_MSG = re.compile(r"[^A-Za-z0-9 ._/()+!?@~*'\-:,=]")  # message text also takes ":,="


def text(s: str, *, message: bool = False) -> str:
    """``s`` with every character outside the safe set as a mermaid entity code.

    Participant labels (``message=False``) are stricter than message text."""
    s = re.sub(r"\s+", " ", s).strip()
    s = (_UNSAFE_MSG if message else _UNSAFE).sub(lambda m: f"#{ord(m.group(0))};", s)
    return re.sub(r"-{2,}", lambda m: "#45;" * len(m.group(0)), s)  # "--" could read as an arrow


def _statuses(st: dict[str, int], count: int) -> str:
    name = lambda k: "no response" if k == "none" else text(k)  # noqa: E731
    if count == 1:
        return name(next(iter(st)))
    return ", ".join(f"{name(k)} ×{n}" for k, n in st.items())


def _request_label(s: dict[str, Any]) -> str:
    """Capture-derived parts escaped, our own words and symbols as they are."""
    label = text(s["http_method"] + (f" {s['method']}" if s["method"] else ""))
    if s["count"] > 1:
        label += f" ×{s['count']}"
    if s["session_header"] == "sent":
        label += f" (Mcp-Session-Id: {text(s['session'])})"
    elif s["session_header"] == "missing":
        label += " (no Mcp-Session-Id)"
    return label


def participant_label(p: dict[str, Any], ua_chars: int = 60) -> str:
    who = ", ".join(p["client_info"][:2]) or "client"
    return f"{text(cut(who, 40))} (plane {p['plane_number']})<br/>UA#58; {text(cut(p['user_agent'], ua_chars))}"


def render(diagram: dict[str, Any], *, ua_chars: int = 60, planes: list[str] | None = None) -> str:
    """The diagram as mermaid source (no code fence); ``planes`` limits it to those participants."""
    if planes is not None:
        keep = set(planes)
        diagram = {
            **diagram,
            "participants": [p for p in diagram["participants"] if p["user_agent"] in keep],
            "steps": [s for s in diagram["steps"] if s["plane"] in keep],
            "notes": [n for n in diagram["notes"] if n["plane"] in keep],
        }
    srv = diagram["server"]
    srv_label = "MCP server" if srv["endpoints"] <= 1 else f"MCP server ({srv['endpoints']} endpoints)"
    lines = ["sequenceDiagram"]
    alias = {}
    for p in diagram["participants"]:
        alias[p["user_agent"]] = p["alias"]
        lines.append(f"    participant {p['alias']} as {participant_label(p, ua_chars)}")
    lines.append(f"    participant {srv['alias']} as {text(srv_label)}")
    S = srv["alias"]
    for s in diagram["steps"]:
        a = alias[s["plane"]]
        if s["kind"] == "gap":
            what = f"… {plural(s['requests'], 'more request')} of this plane not shown"
            if s["errors"]:
                what += f" ({s['errors']:,} of them {BAD})"
            lines.append(f"    Note over {a},{S}: {what}")
            continue
        mark = BAD if s["mark"] == "error" else OK
        lines.append(f"    {a}->>{S}: {_request_label(s)} {mark}")
        reply = _statuses(s["statuses"], s["count"])
        if s["issued"]:
            reply += f", Mcp-Session-Id: {text(s['issued'])}"
        arrow = "--x" if set(s["statuses"]) == {"none"} else "-->>"
        lines.append(f"    {S}{arrow}{a}: {reply}")
    for n in diagram["notes"]:
        if n["plane"] in alias:
            lines.append(f"    Note over {alias[n['plane']]},{S}: {BAD} {text(cut(n['rule'] + ': ' + n['detail'], 160), message=True)}")
    return "\n".join(lines) + "\n"
