"""Views of the explain document (``mcpsniff explain``): a timeline per plane and session."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from .layout import ID, TAG, TEXT, Col, FitTable

COLS = (Col("+ms", TAG), Col("request", ID), Col("status", TAG), Col("role", TAG), Col("session state", TEXT),
        Col("explanation", ID), Col("rules fed", ID))


def _request(e: dict[str, Any]) -> str:
    return f"{e['http_method']} {e['method']}" if e.get("method") else e["http_method"]


def table(doc: dict[str, Any], console: Console) -> None:
    if not doc["planes"]:
        console.print("No exchanges match.")
        return
    for p in doc["planes"]:
        for s in p["sessions"]:
            title = f"{p['user_agent']} · {s['session'] or 'no session'}"
            if s["shown"] < s["total"]:
                title += f" (first {s['shown']} of {s['total']} exchanges)"
            t = FitTable([title], COLS)
            for e in s["exchanges"]:
                t.add_row("-" if e["offset_ms"] is None else f"{e['offset_ms']:,.0f}", _request(e),
                          "none" if e["status"] is None else str(e["status"]), e["role"], e["session_state"],
                          e["explanation"], ", ".join(e["rules"]) or "-")
            console.print(t)
    if doc["rules"]:
        console.print("Rules fed:")
        for r in doc["rules"]:
            console.print(f"  {r['id']} ({r['severity']}, {r['party']}): {r['title']}. "
                          f"MCP {r['spec']['version']} {r['spec']['section']}: \"{r['spec']['quote']}\"")
